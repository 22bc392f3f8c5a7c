"""Tikhonov regularisation with positivity: the simplest baseline for spectral reconstruction.

    ρ_α = argmin_{ρ ≥ 0}  Σ_i ((D_i − Σ_j K_ij ρ_j) / σ_i)² + α ‖L ρ‖²,

with L the ``order``-th divided difference on the (possibly non-uniform) ω grid, its rows scaled by
√(cell width), so that ‖Lρ‖² is the rectangle-rule value of ∫ dω (dᵏρ/dωᵏ)² (order 0: ∫ ρ² dω) and α
keeps its meaning when the grid is refined (A. N. Tikhonov, Soviet Math. Dokl. 4 (1963) 1035;
P. C. Hansen, *Discrete Inverse Problems*, SIAM 2010, ch. 4-5).  Positivity is exact: the stacked
system [K/σ; √α L] ρ ≈ [D/σ; 0] is solved by non-negative least squares (Lawson–Hanson,
scipy.optimize.nnls).  Without a user-given ``alpha``, α follows Morozov's discrepancy principle,
χ²(α) = n_x (the expected χ² of the true ρ): χ²(α) is non-decreasing in α for this convex problem, so the
root is bracketed on a logarithmic range and found by Brent's method (see :func:`discrepancy_alpha` for
the case where positivity makes χ² = n_x unreachable).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import torch
from scipy.optimize import brentq, nnls

from qcdgen.errors import InputError, NaNError
from qcdgen.inverse.kernels import check_problem, rectangle_weights
from qcdgen.runtime import resolve_device

MAX_ORDER = 4
_ALPHA_RANGE = (1e-18, 1e6)  # search range of α relative to ‖K/σ‖² / ‖L‖²


def difference_operator(omega: torch.Tensor, order: int) -> np.ndarray:
    """L [n_omega − order, n_omega]: ``order``-th divided differences times √(cell width).

    ‖Lρ‖² ≈ ∫ dω (dᵏρ/dωᵏ)²; order 0 gives diag(√Δω), i.e. ‖Lρ‖² = Σ_j Δω_j ρ_j².
    """
    w = np.asarray(omega, dtype=float)
    L = np.eye(w.size)
    points = w
    for _ in range(order):
        gaps = np.diff(points)
        L = (L[1:] - L[:-1]) / gaps[:, None]
        points = 0.5 * (points[1:] + points[:-1])
    cells = rectangle_weights(torch.as_tensor(points)).numpy() if points.size >= 2 else np.diff(w[:2])
    return L * np.sqrt(cells)[:, None]


def _check_order(order, n_w: int) -> int:
    if not isinstance(order, numbers.Integral) or isinstance(order, bool) or not 0 <= order <= MAX_ORDER:
        raise InputError(f"order must be an integer in 0..{MAX_ORDER} (the derivative that is penalised), "
                         f"got {order!r}")
    if order > n_w - 2:
        raise InputError(f"order={order} needs an omega grid of at least {order + 2} points, got {n_w}")
    return int(order)


def _positive_or_none(value, name: str) -> float | None:
    if value is None:
        return None
    if (not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value)
            or value <= 0):
        raise InputError(f"{name} must be a finite number > 0 (or None for the default), got {value!r}")
    return float(value)


class _Stacked:
    """NNLS solutions of the stacked system at given α, with χ² and a cache."""

    def __init__(self, K, data, sigma, L):
        self.A = (K / sigma[:, None]).numpy()
        self.b = (data / sigma).numpy()
        self.L = L
        self.rhs = np.concatenate([self.b, np.zeros(L.shape[0])])
        self.maxiter = 50 * K.shape[1]
        self.scale = float(np.linalg.norm(self.A, 2) ** 2 / np.linalg.norm(L, 2) ** 2)
        self.cache: dict[float, tuple[np.ndarray, float]] = {}

    def solve(self, alpha: float) -> tuple[np.ndarray, float]:
        if alpha not in self.cache:
            rho, _ = nnls(np.vstack([self.A, math.sqrt(alpha) * self.L]), self.rhs, maxiter=self.maxiter)
            self.cache[alpha] = rho, float(((self.A @ rho - self.b) ** 2).sum())
        return self.cache[alpha]


def discrepancy_alpha(problem: _Stacked, target: float) -> float:
    """α with χ²(α) = target (Morozov's discrepancy principle), by Brent's method in ln α.

    Positivity can make the target unreachable: the smallest χ² over ρ ≥ 0, χ²_min, may exceed n_x for
    some noise draws.  Then the aim becomes χ²_min + √(2 n_x) (one standard deviation of χ² above the
    best positive fit), with a warning; if even the strongest regularisation fits better than the aim,
    the largest α of the search range is used (again with a warning).
    """
    lo, hi = (math.log(problem.scale * r) for r in _ALPHA_RANGE)
    chi2_min, chi2_max = problem.solve(math.exp(lo))[1], problem.solve(math.exp(hi))[1]
    if chi2_min >= target:
        new_target = chi2_min + math.sqrt(2.0 * problem.b.size)
        warnings.warn(f"Tikhonov: no alpha reaches chi2 = {target:.4g} with rho >= 0 (the best positive fit has "
                      f"chi2 = {chi2_min:.4g}); aiming at chi2 = {new_target:.4g} instead. The errors may be "
                      f"underestimated.", RuntimeWarning, stacklevel=3)
        target = new_target
    if chi2_max <= target:
        warnings.warn(f"Tikhonov: even the strongest regularisation gives chi2 = {chi2_max:.4g} <= {target:.4g}; "
                      f"the errors may be overestimated. Using the largest alpha.", RuntimeWarning, stacklevel=3)
        return math.exp(hi)

    def f(log_alpha: float) -> float:  # χ² − χ²_min grows like a power of α: nearly linear in ln α
        excess = problem.solve(math.exp(log_alpha))[1] - chi2_min
        return math.log(max(excess, 1e-300)) - math.log(target - chi2_min)

    return math.exp(brentq(f, lo, hi, xtol=1e-4))


def fit_tikhonov(K: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor, omega: torch.Tensor, *,
                 generator: torch.Generator | None = None, device: str | torch.device = "cpu",
                 alpha: float | None = None, order: int = 2, chi2_target: float | None = None) -> torch.Tensor:
    """One positive Tikhonov reconstruction ρ ≥ 0 on the grid (float64, CPU); deterministic.

    Options:
      alpha:       the regularisation weight (> 0); None (default) chooses it by the discrepancy
                   principle χ²(α) = ``chi2_target``;
      order:       the penalised derivative, 0..4 (default 2: curvature, ∫ (ρ'')² dω);
      chi2_target: the χ² the discrepancy principle aims at (default n_x).
    ``generator`` and ``device`` are accepted for the common interface; the NNLS solve runs on CPU.
    """
    K, data, sigma, omega = check_problem(K, data, sigma, omega)
    resolve_device(device)
    order = _check_order(order, omega.numel())
    alpha = _positive_or_none(alpha, "alpha")
    chi2_target = _positive_or_none(chi2_target, "chi2_target")
    problem = _Stacked(K, data, sigma, difference_operator(omega, order))
    if alpha is None:
        alpha = discrepancy_alpha(problem, chi2_target if chi2_target is not None else float(K.shape[0]))
    rho, _ = problem.solve(alpha)
    out = torch.as_tensor(rho, dtype=torch.float64)
    if not torch.isfinite(out).all():
        raise NaNError(f"Tikhonov solution at alpha={alpha:.4g} is not finite")
    return out
