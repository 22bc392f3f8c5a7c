"""Integral kernels of Euclidean correlators and their discretisation.

A correlator is a linear functional of a spectral function ρ(ω) ≥ 0 on ω > 0,

    D(x) = ∫₀^∞ K(x, ω) ρ(ω) dω,

with one of

- Källén–Lehmann (x = Euclidean momentum p):   K(p, ω) = ω / (π (ω² + p²))
  (Wang, Shi, Zhou, PRD 106 L051502, eq. 1);
- Laplace (x = Euclidean time τ, T = 0):       K(τ, ω) = e^{−ωτ};
- finite temperature (x = τ, 0 ≤ τ ≤ 1/T):     K(τ, ω) = cosh(ω(τ − 1/(2T))) / sinh(ω/(2T)).

On an ω grid the integral is the **rectangle sum** D_i = Σ_j K(x_i, ω_j) ρ(ω_j) Δω_j, with Δω_j
the width of the cell around ω_j (half-way to each neighbour; the end cells are as wide as their
one neighbour gap, so a uniform grid has Δω_j = ω₁ − ω₀ for every j).  On a uniform grid this is
the midpoint rule on [ω₀ − Δω/2, ω_max + Δω/2]: O(Δω²) accurate when K ρ vanishes at the ends,
with an O(Δω) end-cell term otherwise (e.g. the thermal kernel, K ρ → 2T ρ'(0) at ω → 0).  :func:`kernel_matrix`
returns K_ij Δω_j, so ``K @ rho`` is the discretised correlator.

The SVD tools expose why the problem is ill posed: the singular values of K fall
exponentially, so only a handful of directions of ρ are constrained by the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from qcdgen.errors import InputError

KERNELS = ("kl", "laplace", "thermal")
_X_NAME = {"kl": "p", "laplace": "tau", "thermal": "tau"}


def _as_tensor(values, name: str, dtype=torch.float64) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(values, dtype=float) if not torch.is_tensor(values) else values,
                        dtype=dtype)
    if not torch.isfinite(t).all():
        raise InputError(f"{name} contains NaN or inf values; only finite numbers are allowed")
    return t


def check_kernel(kernel: str, temperature: float | None = None) -> str:
    """Validate a kernel name (and the temperature the thermal kernel needs)."""
    if kernel not in KERNELS:
        raise InputError(f"--kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "thermal":
        if temperature is None or not (isinstance(temperature, (int, float)) and temperature > 0
                                       and math.isfinite(temperature)):
            raise InputError(f"the thermal kernel needs --temperature T > 0, got {temperature!r}")
    return kernel


def kernel_function(kernel: str, x: torch.Tensor, omega: torch.Tensor,
                    temperature: float | None = None) -> torch.Tensor:
    """K(x_i, ω_j) as a matrix [len(x), len(omega)] (no quadrature weights)."""
    check_kernel(kernel, temperature)
    xx, ww = x[:, None], omega[None, :]
    if kernel == "kl":
        return ww / (math.pi * (ww ** 2 + xx ** 2))
    if kernel == "laplace":
        return torch.exp(-ww * xx)
    beta = 1.0 / temperature
    # cosh(ω(τ − β/2))/sinh(ωβ/2) = [e^{−ωτ} + e^{−ω(β−τ)}] / (1 − e^{−ωβ}): stable for large ω.
    return (torch.exp(-ww * xx) + torch.exp(-ww * (beta - xx))) / (-torch.expm1(-ww * beta))


def rectangle_weights(omega: torch.Tensor) -> torch.Tensor:
    """Cell widths Δω_j of the rectangle rule on a (possibly non-uniform) increasing grid."""
    n = omega.numel()
    if n < 2:
        raise InputError(f"the omega grid needs at least 2 points, got {n}")
    gaps = omega[1:] - omega[:-1]
    w = torch.empty_like(omega)
    w[0], w[-1] = gaps[0], gaps[-1]
    w[1:-1] = 0.5 * (gaps[1:] + gaps[:-1])
    return w


def omega_grid(omega_min: float, omega_max: float, omega_points: int) -> torch.Tensor:
    """A uniform ω grid, validated like the CLI options that define it."""
    for name, v in (("--omega-min", omega_min), ("--omega-max", omega_max)):
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(f"{name} must be a finite number, got {v!r}")
    if omega_min < 0:
        raise InputError(f"--omega-min must be >= 0 (spectral functions live on ω > 0), got {omega_min}")
    if omega_max <= omega_min:
        raise InputError(f"--omega-max must exceed --omega-min, got {omega_max} <= {omega_min}")
    if not isinstance(omega_points, int) or isinstance(omega_points, bool) or omega_points < 2:
        raise InputError(f"--omega-points must be an integer >= 2, got {omega_points!r}")
    return torch.linspace(float(omega_min), float(omega_max), omega_points, dtype=torch.float64)


def kernel_matrix(kernel: str, x, omega, temperature: float | None = None) -> torch.Tensor:
    """The discretised kernel K_ij Δω_j [len(x), len(omega)] in float64: ``K @ rho`` ≈ D(x).

    Refuses grids and abscissae on which the kernel is not defined (ω ≤ 0 for the thermal
    kernel, τ outside [0, 1/T], negative τ for Laplace, a non-increasing ω grid).
    """
    check_kernel(kernel, temperature)
    x = _as_tensor(x, _X_NAME[kernel]).reshape(-1)
    omega = _as_tensor(omega, "omega").reshape(-1)
    if omega.numel() >= 2 and not bool((omega[1:] > omega[:-1]).all()):
        raise InputError("the omega grid must be strictly increasing")
    if bool((omega < 0).any()):
        raise InputError(f"the omega grid must be >= 0, got minimum {float(omega.min())}")
    if kernel == "thermal" and bool((omega <= 0).any()):
        raise InputError("the thermal kernel diverges at ω = 0 (as 2T/ω); start the grid at --omega-min > 0")
    if kernel == "kl" and bool((x == 0).any()) and bool((omega == 0).any()):
        raise InputError("the Källén–Lehmann kernel is singular at p = 0, ω = 0; drop p = 0 or start ω above 0")
    if kernel in ("laplace", "thermal") and bool((x < 0).any()):
        raise InputError(f"tau must be >= 0 for the {kernel} kernel, got minimum {float(x.min())}")
    if kernel == "thermal" and bool((x > 1.0 / temperature).any()):
        raise InputError(f"tau must lie in [0, 1/T] = [0, {1.0 / temperature:g}] for the thermal kernel, "
                         f"got maximum {float(x.max()):g}")
    return kernel_function(kernel, x, omega, temperature) * rectangle_weights(omega)[None, :]


def apply_kernel(K: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """D = K ρ for ρ of shape [n_omega] or a batch [batch, n_omega]."""
    return rho @ K.T if rho.dim() > 1 else K @ rho



def check_problem(K, data, sigma, omega) -> tuple[torch.Tensor, ...]:
    """Validate a discretised problem K ρ = D ± σ on the grid ω (what every spectral method takes);
    return float64 CPU tensors (K, data, sigma, omega)."""
    out = []
    for name, value in (("K", K), ("data", data), ("sigma", sigma), ("omega", omega)):
        t = torch.as_tensor(np.asarray(value, dtype=float) if not torch.is_tensor(value) else value)
        t = t.detach().to("cpu", torch.float64)
        if not torch.isfinite(t).all():
            raise InputError(f"{name} contains NaN or inf values; only finite numbers are allowed")
        out.append(t)
    K, data, sigma, omega = out
    if K.dim() != 2:
        raise InputError(f"K must be a matrix [n_x, n_omega], got shape {tuple(K.shape)}")
    n_x, n_w = K.shape
    for name, t, n in (("data", data, n_x), ("sigma", sigma, n_x), ("omega", omega, n_w)):
        if t.dim() != 1 or t.numel() != n:
            raise InputError(f"{name} must be a vector of length {n} to match K {tuple(K.shape)}, "
                             f"got shape {tuple(t.shape)}")
    if bool((sigma <= 0).any()):
        raise InputError(f"sigma must be > 0 everywhere, got minimum {float(sigma.min()):g}")
    if n_w < 2 or not bool((omega[1:] > omega[:-1]).all()):
        raise InputError("omega must be a strictly increasing grid of at least 2 points")
    if bool((omega < 0).any()):
        raise InputError(f"omega must be >= 0, got minimum {float(omega.min()):g}")
    return K, data, sigma, omega

@dataclass(frozen=True)
class SVDBasis:
    """Truncated singular-value decomposition K ≈ U diag(s) Vᵀ (Bryan's subspace).

    ``V`` [n_omega, rank] spans the only directions of ρ the data can constrain.
    """

    U: torch.Tensor
    s: torch.Tensor
    V: torch.Tensor

    @property
    def rank(self) -> int:
        return int(self.s.numel())


def svd_basis(K: torch.Tensor, rtol: float = 1e-12) -> SVDBasis:
    """SVD of K keeping singular values above ``rtol`` × the largest (float64 round-off level)."""
    U, s, Vh = torch.linalg.svd(K, full_matrices=False)
    keep = s > rtol * s[0]
    return SVDBasis(U=U[:, keep], s=s[keep], V=Vh[keep].T)


def condition_number(K: torch.Tensor) -> float:
    """s_max / s_min of the discretised kernel: how ill posed the inversion is."""
    s = torch.linalg.svdvals(K)
    return float(s[0] / s[-1]) if float(s[-1]) > 0 else math.inf
