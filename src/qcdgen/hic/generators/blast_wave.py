"""Cooper–Frye sampling of hadrons from a boost-invariant blast-wave freeze-out surface.

Freeze-out happens at constant proper time τ_f on a disc of radius R (Schnedermann,
Sollfrank, Heinz, PRC 48 (1993) 2462), with transverse fluid rapidity

    ρ(r, φ_s) = ρ_max (r/R) [1 + 2 Σ_n ρ_n cos(n(φ_s − Ψ_n))]

(the anisotropic blast wave of Retière and Lisa, PRC 70 (2004) 044907, with the boost
along the radial direction), and longitudinal Bjorken flow u^η = 0 over |η_s| < y_max.

A hadron of mass m is drawn with the Cooper–Frye weight E dN/d³p ∝ p^μ dσ_μ f(p·u/T):

1. cell: r = R√U, φ_s uniform, η_s uniform (the constant-τ surface element τ r dr dφ dη_s);
2. momentum in the local rest frame from the Boltzmann (Jüttner) distribution at T_kin;
3. boost to the lab with u^μ; accept with probability (p·dσ̂)/((p·u) e^{ρ_bound}), where
   dσ̂ = (cosh η_s, 0, 0, sinh η_s) and e^{ρ} bounds the ratio (the density sampled in step 2
   already carries p·u, the rest frame energy). The bound must not depend on the cell, or cells
   would be reweighted: it is the event's largest e^{ρ} over the whole surface.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from qcdgen.hic._random import isotropic_unit_vectors

__all__ = ["BlastWaveCells", "sample_momenta", "juttner_inverse_cdf"]


@lru_cache(maxsize=1024)
def juttner_inverse_cdf(mass: float, T: float, n_grid: int = 2048, statistics: int = 0):
    """(quantiles, momenta) tabulating the inverse CDF of p² exp(−√(p²+m²)/T) dp (cached per species and T;
    the arrays are shared, do not modify them). ``statistics`` +1 / −1 tabulates the Bose / Fermi
    p² dp/(exp(E/T) ∓ 1) instead (0, the default: Boltzmann)."""
    p_max = 30.0 * T + 5.0 * np.sqrt(mass * T) + 1e-9
    p = np.linspace(0.0, p_max, n_grid)
    energy = np.sqrt(p ** 2 + mass ** 2)
    pdf = p ** 2 * np.exp(-(energy - mass) / T)
    if statistics:
        with np.errstate(divide="ignore", invalid="ignore"):
            pdf = np.nan_to_num(pdf / (1.0 - statistics * np.exp(-energy / T)))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(p))])
    cdf /= cdf[-1]
    return cdf, p


class BlastWaveCells:
    """Per-event freeze-out parameters, broadcast to particles by an event index.

    Attributes are arrays over events: R (fm), tau (fm), rho_max, rho_n (events, harmonics),
    psi_n (events, harmonics); ``harmonics`` the n values; ``y_max`` the η_s half-range.
    """

    def __init__(self, R, tau, rho_max, rho_n, psi_n, harmonics, y_max):
        self.R = np.asarray(R, float)
        self.tau = np.asarray(tau, float)
        self.rho_max = np.asarray(rho_max, float)
        self.rho_n = np.asarray(rho_n, float).reshape(len(self.R), -1)
        self.psi_n = np.asarray(psi_n, float).reshape(len(self.R), -1)
        self.harmonics = np.asarray(harmonics, int)
        self.y_max = float(y_max)

    @property
    def rho_bound(self) -> np.ndarray:
        """Per event, an upper bound of ρ over the freeze-out surface."""
        return self.rho_max * (1.0 + 2.0 * np.abs(self.rho_n).sum(axis=1))

    def transverse_rapidity(self, owner, r_hat, phi_s):
        mod = 1.0 + 2.0 * np.sum(self.rho_n[owner] * np.cos(self.harmonics[None, :] *
                                                             (phi_s[:, None] - self.psi_n[owner])), axis=1)
        return self.rho_max[owner] * r_hat * np.clip(mod, 0.0, None)


def sample_momenta(owner: np.ndarray, masses: np.ndarray, species_index: np.ndarray,
                   species_masses: np.ndarray, T: float, cells: BlastWaveCells,
                   rng: np.random.Generator, positions: bool = False):
    """Cooper–Frye momenta (and emission points) for particles of given masses.

    ``owner`` is each particle's event index into ``cells``; ``species_index`` indexes
    ``species_masses`` (one Jüttner table per species). Returns (p (n, 3), E (n,), x (n, 4) or None).
    """
    n = len(owner)
    p_out = np.empty((n, 3))
    e_out = np.empty(n)
    x_out = np.empty((n, 4)) if positions else None
    tables = [juttner_inverse_cdf(float(m), float(T)) for m in species_masses]
    bound = np.exp(cells.rho_bound)
    todo = np.arange(n)
    for _ in range(200):
        if len(todo) == 0:
            break
        k = len(todo)
        own, m = owner[todo], masses[todo]
        # 1. cell on the freeze-out surface
        r_hat = np.sqrt(rng.uniform(size=k))
        phi_s = rng.uniform(0.0, 2 * np.pi, k)
        eta_s = rng.uniform(-cells.y_max, cells.y_max, k)
        rho = cells.transverse_rapidity(own, r_hat, phi_s)
        # 2. rest-frame momentum from the species' Jüttner table
        u = rng.uniform(size=k)
        pstar = np.empty(k)
        sp = species_index[todo]
        for s in np.unique(sp):
            sel = sp == s
            cdf, grid = tables[s]
            pstar[sel] = np.interp(u[sel], cdf, grid)
        dirs = isotropic_unit_vectors(k, rng) * pstar[:, None]
        estar = np.sqrt(pstar ** 2 + m ** 2)
        # 3. boost by u^μ = (cosh ρ cosh η_s, sinh ρ cos φ_s, sinh ρ sin φ_s, cosh ρ sinh η_s)
        ut = np.cosh(rho)
        ux, uy = np.sinh(rho) * np.cos(phi_s), np.sinh(rho) * np.sin(phi_s)
        u4 = np.stack([ut * np.cosh(eta_s), ux, uy, ut * np.sinh(eta_s)], axis=1)
        u3 = u4[:, 1:]
        udotp = (u3 * dirs).sum(axis=1)
        p_lab = dirs + (udotp / (u4[:, 0] + 1.0) + estar)[:, None] * u3
        e_lab = u4[:, 0] * estar + udotp
        # accept with (p·dσ̂)/((p·u) e^{ρ_bound}); p·u = E* by construction
        p_dot_sigma = e_lab * np.cosh(eta_s) - p_lab[:, 2] * np.sinh(eta_s)
        accept = rng.uniform(size=k) * estar * bound[own] < p_dot_sigma
        done = todo[accept]
        p_out[done] = p_lab[accept]
        e_out[done] = e_lab[accept]
        if positions:
            r = r_hat[accept] * cells.R[own[accept]]
            tau = cells.tau[own[accept]]
            x_out[done] = np.stack([tau * np.cosh(eta_s[accept]), r * np.cos(phi_s[accept]),
                                    r * np.sin(phi_s[accept]), tau * np.sinh(eta_s[accept])], axis=1)
        todo = todo[~accept]
    if len(todo):
        raise RuntimeError(f"Cooper–Frye rejection did not converge for {len(todo)} particles")
    return p_out, e_out, x_out
