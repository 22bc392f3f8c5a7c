"""Multi-fidelity emulation: a cheap simulator's emulator corrected by a few expensive runs.

The model discrepancy of Kennedy & O'Hagan (J. R. Stat. Soc. B 63 (2001) 425), used between two
heavy-ion models by Liyanage et al., PRC 105 (2022) 034910 (transfer learning):

    y_hi(θ) = y_lo(θ) + δ(θ),    δ_j(θ) = φ(u)ᵀ β_j,

with y_lo the emulator of the cheap simulator (for example a generative surrogate), u the
parameters mapped to the unit cube and φ(u) = (1, u₁, …, u_d) (``basis="linear"``) or (1)
(``"constant"``). Given n expensive runs y_hi(θ_i) ± e_i, the residuals
r_ij = y_hi,ij − E[y_lo,j(θ_i)] have variance s_ij² = e_ij² + Var[y_lo,j(θ_i)] (the run's Monte
Carlo error and the cheap emulator's uncertainty of its mean). With the weak prior
β_j ~ N(0, τ_j² I), τ_j = ``prior_scale`` × the output's spread over the cheap design, the
posterior of every output's coefficients is Gaussian (Bayesian linear regression):

    S_j = (Φᵀ W_j Φ + τ_j⁻² I)⁻¹,   β̂_j = S_j Φᵀ W_j r_j,   W_j = diag(1 / s_ij²),

and the corrected emulator predicts

    E[y_hi(θ)] = E[y_lo(θ)] + Φ(θ) β̂,   Cov[y_hi(θ)] = Cov[y_lo(θ)] + diag_j(φᵀ S_j φ).

The discrepancies of different outputs are taken as independent (the diagonal term). The fit
reports χ²/ndf of the residuals about δ, pooled over outputs, which tells whether the basis and the
stated errors are adequate; where χ²/ndf > 1 every S_j is multiplied by it (the scale factor of the
PDG's averages: an honest widening, never a narrowing), and the leave-one-out z-scores of the
expensive runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcdgen.errors import InputError
from qcdgen.inference.emulator import Emulator

__all__ = ["CorrectedEmulator", "correct_emulator", "check_correction_runs", "BASES"]

BASES = ("constant", "linear")


def _features(U: np.ndarray, basis: str) -> np.ndarray:
    ones = np.ones((len(U), 1))
    return ones if basis == "constant" else np.concatenate([ones, U], axis=1)


@dataclass
class CorrectedEmulator(Emulator):
    """An :class:`Emulator` of the cheap simulator plus the discrepancy δ(θ) (see the module text)."""

    delta_beta: np.ndarray = field(default=None)    # (m, p)
    delta_cov: np.ndarray = field(default=None)     # (m, p, p)
    delta_basis: str = "linear"

    def predict(self, theta, idx=None, return_cov: bool = True, check: bool = True, gp_only: bool = False,
                noise: bool = True):
        out = super().predict(theta, idx=idx, return_cov=return_cov, check=check, gp_only=gp_only, noise=noise)
        single = np.asarray(theta, float).ndim == 1
        phi = _features(self.box.to_unit(np.atleast_2d(np.asarray(theta, float))), self.delta_basis)  # (N, p)
        beta = self.delta_beta if idx is None else self.delta_beta[idx]
        shift = phi @ beta.T                                                                             # (N, m)
        if not return_cov:
            return out + (shift[0] if single else shift)
        S = self.delta_cov if idx is None else self.delta_cov[idx]
        var = np.einsum("np,mpq,nq->nm", phi, S, phi)                                                   # (N, m)
        mean, cov = out
        if single:
            return mean + shift[0], cov + np.diag(var[0])
        idx_m = np.arange(var.shape[1])
        cov = cov.copy()
        cov[:, idx_m, idx_m] += var
        return mean + shift, cov

    def to_state(self) -> dict:
        import torch

        state = super().to_state()
        t = lambda a: torch.as_tensor(np.asarray(a, float), dtype=torch.float64)
        state["discrepancy"] = {"basis": self.delta_basis, "beta": t(self.delta_beta), "cov": t(self.delta_cov)}
        return state


def _fit_outputs(Phi, R, S2, tau2):
    """Bayesian linear regression per output: residuals R (n, m), variances S2 (n, m), prior variances tau2 (m,)."""
    n, p = Phi.shape
    m = R.shape[1]
    beta, cov = np.empty((m, p)), np.empty((m, p, p))
    for j in range(m):
        w = 1.0 / S2[:, j]
        prec = Phi.T @ (w[:, None] * Phi) + np.eye(p) / tau2[j]
        cov[j] = np.linalg.inv(prec)
        cov[j] = 0.5 * (cov[j] + cov[j].T)
        beta[j] = cov[j] @ (Phi.T @ (w * R[:, j]))
    return beta, cov


def check_correction_runs(n: int, ndim: int, basis: str) -> int:
    """The number of δ coefficients per output; refuses ``n`` expensive runs that cannot judge them (n ≤ p)."""
    if basis not in BASES:
        raise InputError(f"--correction must be one of {', '.join(BASES)}, got {basis!r}")
    p = 1 if basis == "constant" else 1 + ndim
    if n <= p:
        raise InputError(f"a {basis} correction has {p} coefficients per output and needs more than {p} expensive "
                         f"runs, got {n}" + ("; use --correction constant" if basis == "linear" else ""))
    return p


def correct_emulator(base: Emulator, X_hi, Y_hi, Yerr_hi, keys_hi, *, basis: str = "linear",
                     prior_scale: float = 10.0) -> CorrectedEmulator:
    """Fit δ(θ) to expensive runs ``Y_hi`` ± ``Yerr_hi`` (n, m_hi) at ``X_hi`` (n, d) with outputs ``keys_hi``.

    Every output of ``base`` must be among ``keys_hi``. Needs more runs than coefficients (n > p), so that
    the χ² of the residuals has degrees of freedom to judge the basis by.
    """
    if not (np.isfinite(prior_scale) and prior_scale > 0):
        raise InputError(f"prior_scale must be > 0, got {prior_scale!r}")
    X_hi = base.box.check_inside(np.atleast_2d(np.asarray(X_hi, float)), "correction run:")
    Y_hi, Yerr_hi = np.asarray(Y_hi, float), np.asarray(Yerr_hi, float)
    where = {tuple(k): i for i, k in enumerate(keys_hi)}
    missing = [k for k in base.keys if tuple(k) not in where]
    if missing:
        obs, cls = missing[0]
        raise InputError(f"the correction runs lack {len(missing)} emulated output(s), e.g. {obs!r} class {cls!r}; "
                         "simulate them with the same observables and classes")
    cols = np.array([where[tuple(k)] for k in base.keys])
    Y, E = Y_hi[:, cols], Yerr_hi[:, cols]
    bad = ~(np.isfinite(Y) & np.isfinite(E))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(f"correction run {i}: output {base.keys[j][0]} {base.keys[j][1]} is undefined (NaN); "
                         "drop that output or that run")
    n = len(X_hi)
    check_correction_runs(n, base.box.ndim, basis)
    mean, cov = base.predict(X_hi, check=False, noise=False)
    R = Y - mean
    S2 = E ** 2 + np.diagonal(cov, axis1=-2, axis2=-1)
    S2 = np.maximum(S2, 1e-300)
    Phi = _features(base.box.to_unit(X_hi), basis)
    tau2 = (prior_scale * base.scale) ** 2
    beta, dcov = _fit_outputs(Phi, R, S2, tau2)
    chi2 = float(np.sum((R - Phi @ beta.T) ** 2 / S2))
    ndf = R.size - beta.size
    birge = max(1.0, chi2 / ndf)          # residuals scattered beyond their errors: widen δ's posterior (PDG-style)
    dcov = dcov * birge
    centre = beta @ _features(np.full((1, base.box.ndim), 0.5), basis)[0]      # δ at the centre of the box
    loo = np.empty_like(R)
    for i in range(n):
        keep = np.arange(n) != i
        b_i, c_i = _fit_outputs(Phi[keep], R[keep], S2[keep], tau2)
        pred = b_i @ Phi[i]
        var = np.einsum("p,mpq,q->m", Phi[i], c_i, Phi[i]) + S2[i]
        loo[i] = (R[i] - pred) / np.sqrt(var)
    info = dict(base.info)
    info["correction"] = {"basis": basis, "runs": n, "prior_scale": float(prior_scale),
                          "chi2": chi2, "ndf": int(ndf), "scale_factor": birge, "loo_rms_z": float(np.sqrt(np.mean(loo ** 2))),
                          "loo_within_1sigma": float(np.mean(np.abs(loo) < 1)),
                          "relative_shift_at_centre": {f"{k[0]} {k[1]}": float(centre[j] / base.mean[j])
                                                       for j, k in enumerate(base.keys) if base.mean[j] != 0}}
    return CorrectedEmulator(box=base.box, keys=list(base.keys), mean=base.mean, scale=base.scale, A=base.A,
                             cov_trunc=base.cov_trunc, gps=base.gps, variance=base.variance, explained=base.explained,
                             n_train=base.n_train, excluded=dict(base.excluded), info=info, delta_beta=beta,
                             delta_cov=dcov, delta_basis=basis)
