"""Exact finite-volume results of 2D U(1) Wilson gauge theory on an L×L torus (V = L² plaquettes).

Character expansion e^{β cos θ} = Σ_n I_n(β) e^{inθ}: integrating every link (each sits in two
plaquettes with opposite orientation) forces one common n on all plaquettes, so

    Z(β) = (2π)^{2V} Σ_n I_n(β)^V,        ⟨cos θ_P⟩ = Σ_n I_n^{V−1} I_n' / Σ_n I_n^V,   I_n' = (I_{n−1} + I_{n+1})/2

(Wiese, Nucl. Phys. B318 (1989) 153; Bonati & Rossi, PRD 100 (2019) 054503). With a θ-term the
same sum runs over shifted orders: the wrapped plaquette angles are i.i.d. with weight e^{β cos θ}
on (−π, π] under the one constraint Σ_P θ_P ∈ 2πZ, so

    Z(θ)/Z(0) ∝ Σ_n φ(n + θ/2π)^V,    φ(k) = ∫_{−π}^{π} e^{β cos t} cos(k t) dt / (2π I_0(β)),

and P(Q) is the Fourier series of Z(θ). φ at non-integer k is done by Gauss–Legendre quadrature
(an entire integrand on a finite interval: exponential convergence); at integer k it is I_k/I_0.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ive, logsumexp

N_MAX = 64  # orders |n| ≤ N_MAX: (I_n/I_0)^V is far below double precision beyond for V ≥ 4, β ≤ 50
QUADRATURE_NODES = 512


def _orders() -> np.ndarray:
    return np.arange(-N_MAX, N_MAX + 1)


def log_partition(beta: float, size: int) -> float:
    """log Z(β) with the measure Π_ℓ dθ_ℓ on [−π, π) (the flow's uniform prior has log q₀ = −2V log 2π)."""
    volume = size * size
    n = _orders()
    log_i = np.log(ive(n, beta)) + beta  # log I_n(β), scaled Bessel functions for large β
    return 2 * volume * math.log(2 * math.pi) + float(logsumexp(volume * log_i))


def plaquette(beta: float, size: int) -> float:
    """⟨cos θ_P⟩ = (1/V) ∂ log Z/∂β."""
    volume = size * size
    n = _orders()
    i_n = ive(n, beta)
    d_n = 0.5 * (ive(n - 1, beta) + ive(n + 1, beta))
    weights = volume * np.log(i_n / i_n[N_MAX])  # relative to n = 0, which dominates
    w = np.exp(weights - weights.max())
    return float(np.sum(w * d_n / i_n) / np.sum(w))


def plaquette_infinite_volume(beta: float) -> float:
    """⟨cos θ_P⟩ at V → ∞: I_1(β)/I_0(β)."""
    return float(ive(1, beta) / ive(0, beta))


def phi_k(beta: float, k: np.ndarray) -> np.ndarray:
    """φ(k) = ⟨cos(k θ)⟩ under the single-plaquette weight e^{β cos θ} on (−π, π], for real k."""
    x, w = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    t = math.pi * x
    weight = np.exp(beta * (np.cos(t) - 1.0)) * w * math.pi  # e^{−β} cancels against ive
    norm = 2 * math.pi * ive(0, beta)
    return np.cos(np.multiply.outer(np.asarray(k, dtype=float), t)) @ weight / norm


def charge_distribution(beta: float, size: int, q_max: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact P(Q) of the geometric charge: ``(q, p)`` for q = −q_max … q_max (p sums to 1)."""
    volume = size * size
    if q_max is None:
        q_max = max(8, int(6 * math.sqrt(volume * topological_susceptibility_infinite_volume(beta))) + 8)
    m = 4 * q_max + 4  # θ points: P(q) for |q| ≤ q_max without aliasing (|q| > 2 q_max is negligible)
    theta = 2 * math.pi * np.arange(m) / m
    n = np.arange(-N_MAX, N_MAX + 1)
    k = n[None, :] + theta[:, None] / (2 * math.pi)
    phi = phi_k(beta, k.ravel()).reshape(k.shape)
    z_theta = np.sum(np.sign(phi) ** volume * np.abs(phi) ** volume, axis=1)
    coeff = np.real(np.fft.fft(z_theta)) / m  # Z(θ) = Σ_q P(q) e^{iθq}: P(q) = (1/m) Σ_j Z(θ_j) e^{−iθ_j q}
    q = np.arange(-q_max, q_max + 1)
    p = np.clip(coeff[q % m], 0.0, None)
    return q, p / p.sum()


def topological_susceptibility(beta: float, size: int) -> float:
    """χ_t = ⟨Q²⟩/V of the geometric charge on the L×L torus."""
    q, p = charge_distribution(beta, size)
    return float(np.sum(q * q * p)) / (size * size)


def topological_susceptibility_infinite_volume(beta: float) -> float:
    """χ_t at V → ∞: ⟨θ²⟩/(2π)² under e^{β cos θ} on (−π, π] (plaquettes independent)."""
    x, w = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    t = math.pi * x
    weight = np.exp(beta * (np.cos(t) - 1.0)) * w
    return float(np.sum(t * t * weight) / np.sum(weight)) / (4 * math.pi**2)
