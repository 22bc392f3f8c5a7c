"""Maximum Entropy Method with Bryan's algorithm: the classic baseline for spectral reconstruction.

For each α on a logarithmic grid, ρ_α maximises Q = αS − χ²/2 with the Shannon–Jaynes entropy

    S = Σ_j Δω_j [ρ_j − m_j − ρ_j ln(ρ_j / m_j)],    χ² = Σ_i (Σ_j K_ij ρ_j − D_i)² / σ_i²

(K_ij contains Δω_j).  Writing K_ij = K̃_ij Δω_j, stationarity reads α ln(ρ/m) = −K̃ᵀ C⁻¹ (Kρ − D), so ρ
lies in the row space of K̃: ρ = m exp(V u) with u in the singular space of the σ-weighted kernel
C^{-1/2} K̃ = U Σ Vᵀ, whose rank (singular values above ``svd_rtol``) is a few tens at most
(R. K. Bryan, Eur. Biophys. J. 18 (1990) 165; Asakawa, Hatsuda, Nakahara, Prog. Part. Nucl. Phys.
46 (2001) 459, sec. 3).  Bryan's equation αu = −ΣUᵀC^{-1/2}(Kρ − D) is solved by Newton's method on
its concave dual (see :class:`_Bryan`), which converges from any start without Levenberg–Marquardt
tuning; the result is the same ρ_α.  The α-average ρ̄ = ∫ dα P(α|D) ρ_α uses Bryan's evidence

    P(α|D) ∝ P(α) exp(Q_α) Π_k (α / (α + λ_k))^{1/2},

λ_k the eigenvalues of Λ = √(ρΔω) K̃ᵀ C⁻¹ K̃ √(ρΔω) (the curvature of χ²/2 in the entropy metric
−∂²S/∂ρ² = diag(Δω/ρ)), with Jeffreys' prior P(α) = 1/α by default (Bryan's choice; "flat" is the
alternative; Jarrell & Gubernatis, Phys. Rep. 269 (1996) 133, sec. 4).  The α grid starts at
10 λ_max(m) and is extended in both directions until ln P(α|D) has dropped ``tail`` below its maximum,
so the peak always lies inside it.  Errors are taken as uncorrelated (C = diag σ²).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from qcdgen.checks import check_positive_int, check_real
from qcdgen.errors import ConvergenceError, InputError, NaNError
from qcdgen.inverse.kernels import check_problem, rectangle_weights, svd_basis
from qcdgen.runtime import resolve_device

ALPHA_PRIORS = ("jeffreys", "flat")


class MEMConvergenceError(ConvergenceError):
    """Newton's method did not converge at an α that matters for the posterior average."""


def flat_default_model(K: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor) -> float:
    """The flat m whose correlator K·m best fits the data (weighted least squares, kept > 0).

    m = Σ_i k_i D_i / σ_i² / Σ_i k_i² / σ_i², k = K·1; if that is not > 0 (data of either sign),
    m = Σ|D_i| / Σ|k_i|, which matches the data's normalisation in the L1 sense.
    """
    k = K.sum(dim=1)
    m = float((k * data / sigma ** 2).sum() / (k ** 2 / sigma ** 2).sum())
    if not (m > 0 and math.isfinite(m)):
        m = float(data.abs().sum() / k.abs().sum())
    if not (m > 0 and math.isfinite(m)):
        raise InputError("cannot infer a default model from the data (zero correlator?); give default_model")
    return m


def _model_vector(default, K, data, sigma, n_w: int) -> torch.Tensor:
    if default is None:
        return torch.full((n_w,), flat_default_model(K, data, sigma), dtype=torch.float64)
    if isinstance(default, numbers.Real) and not isinstance(default, bool):
        check_real(default, "default_model", low=0.0)
        return torch.full((n_w,), float(default), dtype=torch.float64)
    m = torch.as_tensor(np.asarray(default, dtype=float) if not torch.is_tensor(default) else default)
    m = m.detach().to("cpu", torch.float64).reshape(-1)
    if m.numel() == 1:
        return _model_vector(float(m[0]), K, data, sigma, n_w)
    if m.numel() != n_w or not torch.isfinite(m).all() or bool((m <= 0).any()):
        raise InputError(f"default_model must be a number > 0 or {n_w} finite values > 0 (one per omega "
                         f"point), got {m.numel()} values with minimum {float(m.min()) if m.numel() else 'n/a'}")
    return m


@dataclass(frozen=True)
class MEMResult:
    """Bryan's α scan: one ρ_α per α (increasing α), its evidence, and the posterior average."""

    rho: torch.Tensor            # [n_omega] the α-average ρ̄
    alphas: torch.Tensor         # [n_alpha] increasing
    rhos: torch.Tensor           # [n_alpha, n_omega]
    log_posterior: torch.Tensor  # [n_alpha] ln P(α|D) per unit ln α (prior included), max = 0
    weights: torch.Tensor        # [n_alpha] normalised quadrature weights of ρ̄ = Σ w_a ρ_a
    chi2: torch.Tensor           # [n_alpha]
    entropy: torch.Tensor        # [n_alpha]
    n_good: torch.Tensor         # [n_alpha] Σ λ/(α+λ): the number of measured directions
    model: torch.Tensor          # [n_omega] the default model m
    rank: int                    # dimension of the singular space

    @property
    def alpha_map(self) -> float:
        """The α of largest posterior on the grid."""
        return float(self.alphas[int(torch.argmax(self.log_posterior))])


class _Bryan:
    """Q-maximisation at fixed α by Newton's method on the concave dual, in the singular space.

    With K̂ = C^{-1/2} K̃ = Û Σ̂ V̂ᵀ (σ-weighted kernel without Δω, truncated SVD) the maximiser of Q
    is ρ = m exp(V̂ u), u = −Σ̂ c / α, where c ∈ R^rank maximises the Fenchel dual

        g(c) = α Σ_j Δω_j (m_j − ρ_j) − cᵀ Ûᵀ(D/σ) − ½ ‖c‖²,
        ∇g = Ûᵀ (Kρ − D)/σ − c,    ∇²g = −(I + A/α),    A = Σ̂ V̂ᵀ diag(ρΔω) V̂ Σ̂.

    g is strictly concave with a Hessian bounded away from 0, so Newton with a backtracking line
    search converges from any start (Bryan's Levenberg–Marquardt damping is not needed), and the
    eigenvalues of A are Bryan's λ_k.  At the solution c = Ûᵀ(Kρ − D)/σ, i.e. Bryan's αu = −Σ̂Ûᵀ C^{-1/2} r.
    """

    def __init__(self, K, data, sigma, omega, m, svd_rtol):
        dw = rectangle_weights(omega)
        basis = svd_basis(K / (sigma[:, None] * dw[None, :]), rtol=svd_rtol)
        self.K, self.D, self.sigma, self.m, self.dw = K, data, sigma, m, dw
        self.U, self.VS = basis.U, basis.V * basis.s[None, :]   # Û [n_x, s], V̂Σ̂ [n_w, s]
        self.d = basis.U.T @ (data / sigma)
        self.rank = basis.rank
        self.absK, self.absU, self.absVS = K.abs(), basis.U.abs(), self.VS.abs()
        self.data_roundoff = 1e-13 * float(torch.linalg.vector_norm(data / sigma))

    def roundoff(self, c, rho, alpha) -> float:
        """Worst-case float64 error of ∇g: ln ρ = −V̂Σ̂c/α carries eps·(|V̂Σ̂||c|/α + 1), and Kρ/σ inherits it."""
        eps = torch.finfo(torch.float64).eps
        err_rho = rho * (1.0 + (self.absVS @ c.abs()) / alpha)
        return eps * float(torch.linalg.vector_norm(self.absU.T @ ((self.absK @ err_rho) / self.sigma))) \
            + self.data_roundoff

    def exponent(self, c, alpha):
        return -(self.VS @ c) / alpha                          # ln(ρ/m)

    def dual(self, c, alpha):
        """g(c) and ρ(c); g = −inf where ρ would overflow."""
        e = self.exponent(c, alpha)
        if not bool(torch.isfinite(e).all()) or float(e.max()) > 700.0:
            return -math.inf, None
        rho = self.m * torch.exp(e)
        return float(alpha * (self.dw * (self.m - rho)).sum() - c @ self.d - 0.5 * (c @ c)), rho

    def lambdas(self, rho):
        """λ_k: eigenvalues of A = Σ̂V̂ᵀ diag(ρΔω) V̂Σ̂ (= the non-zero ones of Λ = √(ρΔω) K̃ᵀC⁻¹K̃ √(ρΔω))."""
        A = self.VS.T @ ((rho * self.dw)[:, None] * self.VS)
        return torch.linalg.eigvalsh(A).clamp_min(0.0), A

    def solve(self, c, alpha, tol, max_iter):
        """Maximise Q = αS − χ²/2 at fixed α from the dual start c; returns (c, ρ, converged)."""
        g, rho = self.dual(c, alpha)
        if rho is None:
            c = torch.zeros_like(c)
            g, rho = self.dual(c, alpha)
        eye = torch.eye(self.rank, dtype=c.dtype, device=c.device)
        grad = self.gradient(c, rho)
        for _ in range(max_iter):
            gnorm = float(torch.linalg.vector_norm(grad))
            if gnorm <= tol * (1.0 + float(torch.linalg.vector_norm(c))) + self.roundoff(c, rho, alpha):
                return c, rho, True
            _, A = self.lambdas(rho)
            step = torch.linalg.solve(eye + A / alpha, grad)   # Newton: −(∇²g)⁻¹ ∇g
            slope, t = float(grad @ step), 1.0
            for _ in range(60):
                g_new, rho_new = self.dual(c + t * step, alpha)
                if rho_new is not None:
                    if g_new >= g + 1e-4 * t * slope:
                        break
                    # a gain below the round-off of g: judge the step by the gradient instead
                    if t * slope <= 1e-11 * max(abs(g), 1.0):
                        grad_new = self.gradient(c + t * step, rho_new)
                        if float(torch.linalg.vector_norm(grad_new)) < gnorm:
                            break
                t *= 0.5
            else:
                return c, rho, False
            c, g, rho = c + t * step, g_new, rho_new
            grad = self.gradient(c, rho)
        return c, rho, False

    def gradient(self, c, rho):
        """∇g = Ûᵀ(Kρ − D)/σ − c."""
        return self.U.T @ ((self.K @ rho - self.D) / self.sigma) - c

    def q_parts(self, c, rho, alpha):
        """χ² and the entropy S of ρ (ln(ρ/m) taken from the exponent, never from a log of ρ)."""
        chi2 = float((((self.K @ rho - self.D) / self.sigma) ** 2).sum())
        S = float((self.dw * (rho - self.m - rho * self.exponent(c, alpha))).sum())
        return chi2, S


def mem_alpha_scan(K, data, sigma, omega, *, device: str | torch.device = "cpu", default_model=None,
                   alpha_prior: str = "jeffreys", alpha_step: float = 0.25, tail: float = 20.0,
                   alpha_min: float | None = None, max_alphas: int = 400, svd_rtol: float = 1e-12,
                   tol: float = 1e-8, max_iter: int = 200) -> MEMResult:
    """Bryan's MEM: solve for ρ_α on a log grid of α and average with P(α|D); see :func:`fit_mem`."""
    K, data, sigma, omega = check_problem(K, data, sigma, omega)
    dev = resolve_device(device)
    if alpha_prior not in ALPHA_PRIORS:
        raise InputError(f"alpha_prior must be one of {', '.join(ALPHA_PRIORS)}, got {alpha_prior!r}")
    alpha_step = check_real(alpha_step, "alpha_step", low=0.0, high=2.0)
    tail = check_real(tail, "tail", low=0.0)
    max_alphas = check_positive_int(max_alphas, "max_alphas", 3)
    max_iter = check_positive_int(max_iter, "max_iter", 1)
    svd_rtol = check_real(svd_rtol, "svd_rtol", low=0.0, high=1e-1)
    tol = check_real(tol, "tol", low=0.0, high=1e-2)
    if alpha_min is not None:
        alpha_min = check_real(alpha_min, "alpha_min", low=0.0)
    m = _model_vector(default_model, K, data, sigma, omega.numel())

    solver = _Bryan(*(t.to(dev) for t in (K, data, sigma, omega, m)), svd_rtol=svd_rtol)
    c0 = torch.zeros(solver.rank, dtype=torch.float64, device=dev)
    lam0 = float(solver.lambdas(m.to(dev))[0].max())
    alpha_start = 10.0 * max(lam0, 1e-300)
    floor = alpha_min if alpha_min is not None else alpha_start * 1e-30
    log_step = alpha_step * math.log(10.0)

    records: dict[float, tuple] = {}

    def evaluate(log_alpha: float, c_start: torch.Tensor):
        alpha = math.exp(log_alpha)
        c, rho, ok = solver.solve(c_start, alpha, tol, max_iter)
        chi2, S = solver.q_parts(c, rho, alpha)
        lam = solver.lambdas(rho)[0]
        logp = alpha * S - 0.5 * chi2 + 0.5 * float(torch.log(alpha / (alpha + lam)).sum())
        if alpha_prior == "flat":
            logp += log_alpha
        records[log_alpha] = (c, rho, chi2, S, logp, float((lam / (alpha + lam)).sum()), ok)
        return c, logp

    # walk down from α ≫ λ_max (ρ ≈ m) until the evidence has passed its peak and fallen by e^{-tail}
    la, c = math.log(alpha_start), c0
    best = -math.inf
    while len(records) < max_alphas:
        c, logp = evaluate(la, c)
        best = max(best, logp)
        if logp < best - tail or la - log_step < math.log(floor):
            break
        la -= log_step
    # walk up if the largest α is not yet in the tail (a default model that already fits the data)
    la_top = max(records)
    while records[la_top][4] > best - tail and len(records) < max_alphas and la_top < math.log(alpha_start) + 30:
        _, logp = evaluate(la_top + log_step, records[la_top][0])
        best = max(best, logp)
        la_top = max(records)
    keys = sorted(records)
    alphas = torch.tensor([math.exp(k) for k in keys], dtype=torch.float64)
    rhos = torch.stack([records[k][1].to("cpu") for k in keys])
    logp = torch.tensor([records[k][4] for k in keys], dtype=torch.float64)
    if not (torch.isfinite(rhos).all() and torch.isfinite(logp).all()):
        raise NaNError("MEM produced a non-finite ρ_α or evidence; check the data and sigma")
    logp = logp - logp.max()
    w = torch.exp(logp)
    w[0] *= 0.5
    w[-1] *= 0.5                                  # trapezoid rule in ln α
    w = w / w.sum()
    failed = torch.tensor([not records[k][6] for k in keys])
    if float(w[failed].sum()) > 1e-6:
        bad = alphas[failed & (w > 1e-6)]
        raise MEMConvergenceError(
            f"MEM: the Newton iteration did not converge at {bad.numel()} alpha value(s) that carry posterior "
            f"weight (e.g. alpha={float(bad[0]):.4g}); raise max_iter={max_iter} or loosen tol={tol:g}")
    if float(logp[0]) > -tail or float(logp[-1]) > -tail:
        end = "lower" if float(logp[0]) > -tail else "upper"
        warnings.warn(f"MEM: P(alpha|D) has not fallen by e^-{tail:g} at the {end} end of the alpha grid "
                      f"[{float(alphas[0]):.3g}, {float(alphas[-1]):.3g}]; the average may be truncated "
                      f"(raise max_alphas={max_alphas} or lower alpha_min)", RuntimeWarning, stacklevel=2)
    rho_bar = (w[:, None] * rhos).sum(dim=0)
    if not torch.isfinite(rho_bar).all():
        raise NaNError("MEM α-average is not finite")
    return MEMResult(rho=rho_bar, alphas=alphas, rhos=rhos, log_posterior=logp, weights=w,
                     chi2=torch.tensor([records[k][2] for k in keys], dtype=torch.float64),
                     entropy=torch.tensor([records[k][3] for k in keys], dtype=torch.float64),
                     n_good=torch.tensor([records[k][5] for k in keys], dtype=torch.float64),
                     model=m, rank=solver.rank)


def fit_mem(K: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor, omega: torch.Tensor, *,
            generator: torch.Generator | None = None, device: str | torch.device = "cpu",
            default_model=None, alpha_prior: str = "jeffreys", alpha_step: float = 0.25, tail: float = 20.0,
            alpha_min: float | None = None, max_alphas: int = 400, svd_rtol: float = 1e-12,
            tol: float = 1e-8, max_iter: int = 200) -> torch.Tensor:
    """One MEM reconstruction ρ̄ = ∫ dα P(α|D) ρ_α ≥ 0 on the grid (float64, CPU); deterministic.

    Options:
      default_model: None (flat m fitted to the data's normalisation, :func:`flat_default_model`),
                     a number > 0 (flat m), or n_omega values > 0;
      alpha_prior:   "jeffreys" (P(α) = 1/α, Bryan's choice; the default) or "flat";
      alpha_step:    grid spacing in log₁₀ α (default 0.25; ≤ 2);
      tail:          the grid runs until ln P(α|D) is ``tail`` below its maximum on both sides (default 20);
      alpha_min:     hard lower end of the grid (default 1e-30 × the starting α ≈ 10 λ_max(m));
      max_alphas:    at most this many α (default 400);
      svd_rtol:      singular values of C^{-1/2}K̃ below svd_rtol × the largest are dropped (default 1e-12);
      tol, max_iter: Newton stops when the dual gradient (a residual in units of σ) is below
                     tol (1 + ‖c‖) or its round-off level (default 1e-8); at most max_iter steps per α (200).
    Raises :class:`MEMConvergenceError` if an α that carries posterior weight did not converge, and
    warns if the posterior is not negligible at an end of the α grid.
    ``generator`` is accepted for the common interface and not used.
    """
    res = mem_alpha_scan(K, data, sigma, omega, device=device, default_model=default_model,
                         alpha_prior=alpha_prior, alpha_step=alpha_step, tail=tail, alpha_min=alpha_min,
                         max_alphas=max_alphas, svd_rtol=svd_rtol, tol=tol, max_iter=max_iter)
    return res.rho.to("cpu")
