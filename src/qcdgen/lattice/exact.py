"""Exact results that HMC and every generative sampler are tested against.

- Free field (λ = 0, κ < 1/(2d)): Gaussian with momentum-space propagator
  ⟨|φ̃(p)|²⟩/V = 1/A(p),  A(p) = 2 − 4κ Σ_μ cos p_μ  (see ``Phi4Action.quadratic_kernel``).
- One-site limit (κ = 0): sites decouple; moments of e^{−(1−2λ)φ² − λφ⁴} by quadrature.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate

from qcdgen.errors import InputError
from qcdgen.lattice.actions import Phi4Action


def _free_kernel(size: int, kappa: float, dim: int) -> torch.Tensor:
    action = Phi4Action(size=size, kappa=kappa, lam=0.0, dim=dim)
    return action.quadratic_kernel()


def free_propagator(size: int, kappa: float, dim: int) -> np.ndarray:
    """Exact G(r) = (1/V) Σ_p cos(p·r μ̂)/A(p) for r = 0 … L/2 (the same along every axis)."""
    inverse = 1.0 / _free_kernel(size, kappa, dim)
    position_space = torch.fft.ifftn(inverse.to(torch.complex128)).real
    index = [0] * dim
    values = []
    for r in range(size // 2 + 1):
        index[0] = r
        values.append(position_space[tuple(index)].item())
    return np.asarray(values)


def free_phi2(size: int, kappa: float, dim: int) -> float:
    """Exact ⟨φ²⟩ = G(0) of the free field."""
    return float(free_propagator(size, kappa, dim)[0])


def free_chi2(size: int, kappa: float, dim: int) -> float:
    """Exact χ₂ = 1/A(0) = 1/(2 − 4dκ)."""
    return 1.0 / (2.0 - 4.0 * dim * kappa)


def free_xi2(size: int, kappa: float, dim: int) -> float:
    """Exact second-moment correlation length: ξ₂² = (A(p_min)/A(0) − 1)/(4 sin²(π/L))."""
    a0 = 2.0 - 4.0 * dim * kappa
    a1 = a0 + 4.0 * kappa * (1.0 - math.cos(2.0 * math.pi / size))
    return math.sqrt(a1 / a0 - 1.0) / (2.0 * math.sin(math.pi / size))


def free_log_partition(size: int, kappa: float, dim: int) -> float:
    """log Z = Σ_p ½ log(2π/A(p)) for S = ½ Σ_p A(p)|φ̃(p)|²/V."""
    kernel = _free_kernel(size, kappa, dim)
    return float(0.5 * torch.log(2.0 * math.pi / kernel).sum())


def exact_log_partition(action) -> float | None:
    """The exact log Z of ``action`` when it is known (the free field, λ = 0; U(1) gauge theory on the
    torus, :func:`qcdgen.lattice.u1.exact.log_partition`), else None."""
    if action.to_dict()["action"] == "u1":
        from qcdgen.lattice.u1.exact import log_partition

        return log_partition(action.beta, action.size)
    if action.lam != 0:
        return None
    return free_log_partition(action.size, action.kappa, action.dim)


def one_site_moment(lam: float, power: int) -> float:
    """⟨φ^power⟩ for the single-site weight e^{−(1−2λ)φ² − λφ⁴} (κ = 0), by quadrature."""
    if lam < 0 or (lam == 0 and power < 0):
        raise InputError(f"one-site integral needs lambda >= 0, got {lam!r}")
    if lam == 0 and 1 - 2 * lam <= 0:
        raise InputError("one-site integral diverges for lambda=0 without a mass term")

    def weight(x: float) -> float:
        return math.exp(-(1.0 - 2.0 * lam) * x * x - lam * x**4)

    norm, _ = integrate.quad(weight, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=200)
    moment, _ = integrate.quad(lambda x: x**power * weight(x), -np.inf, np.inf, epsabs=0,
                               epsrel=1e-12, limit=200)
    return moment / norm


def two_site_expectation(kappa: float, lam: float, observable) -> float:
    """⟨O(φ₀, φ₁)⟩ for the interacting theory on a d = 1, L = 2 periodic lattice, by 2D quadrature.

    Both forward links join the same two sites, so S = −4κ φ₀φ₁ + Σ_i [(1−2λ)φ_i² + λφ_i⁴].
    ``observable(phi0, phi1)`` takes floats. The exact reference for κ > 0 and λ > 0 together.
    """
    if lam <= 0:
        raise InputError(f"two-site quadrature needs lambda > 0 for a bounded weight, got {lam!r}")

    def weight(a: float, b: float) -> float:
        s = -4.0 * kappa * a * b + (1 - 2 * lam) * (a * a + b * b) + lam * (a**4 + b**4)
        return math.exp(-s)

    bound = (1.0 + 4.0 / lam) ** 0.5 + 6.0  # weight below e^{-30} beyond this box
    opts = dict(epsabs=1e-13, epsrel=1e-9)
    norm = integrate.dblquad(lambda b, a: weight(a, b), -bound, bound, -bound, bound, **opts)[0]
    num = integrate.dblquad(lambda b, a: observable(a, b) * weight(a, b), -bound, bound, -bound, bound, **opts)[0]
    return num / norm
