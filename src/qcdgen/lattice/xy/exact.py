"""Exact results the XY Monte Carlo is tested against (J = 1, β = 1/T).

1D periodic chain of N sites (transfer matrix e^{β cos(θ−θ')} = Σ_n I_n(β) e^{in(θ−θ')}, eigenvalues
2π I_n(β)):

    Z = (2π)^N Σ_n I_n^N,     ⟨cos(θ_0 − θ_r)⟩ = Σ_n I_n^{N−r} I_{n+1}^r / Σ_n I_n^N,

so the bond energy is −⟨cos(θ_0 − θ_1)⟩ and the open (or infinite) chain has (I_1/I_0)^r.

2×2 torus: each nearest-neighbour pair is joined by two bonds, so H is a 4-site ring with coupling
2J; expectation values of any observable are done by the trapezoidal rule over three angles (the
fourth is fixed by the global O(2) symmetry), exponentially accurate for smooth periodic integrands.

High-temperature series of the square lattice (character expansion, u = I_1(β)/I_0(β); the
smallest closed currents are the plaquette, 2 orientations, and the 1×2 rectangles, 2 shapes × 2
orientations; overlapping pairs and |n| = 2 currents start at u⁸):

    log Z/V = log 2π + 2 log I_0(β) + 2u⁴ + 4u⁶ + O(u⁸),    e = −∂(log Z/V)/∂β,   u' = 1 − u/β − u².
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import ive

N_MAX = 64


def _bessel(beta: float, orders: np.ndarray) -> np.ndarray:
    return ive(orders, beta)  # e^{−β} I_n(β): the common factor cancels in every ratio below


def ring_correlation(beta: float, sites: int, r: int) -> float:
    """⟨cos(θ_0 − θ_r)⟩ on a periodic chain of ``sites`` sites."""
    n = np.arange(-N_MAX, N_MAX + 1)
    i_n, i_up = _bessel(beta, n), _bessel(beta, n + 1)
    log_den = sites * np.log(i_n)
    log_num = (sites - r) * np.log(i_n) + r * np.log(i_up)
    shift = log_den.max()
    return float(np.exp(log_num - shift).sum() / np.exp(log_den - shift).sum())


def ring_energy(beta: float, sites: int) -> float:
    """Energy per bond (= per site) −⟨cos(θ_i − θ_{i+1})⟩ of the periodic chain."""
    return -ring_correlation(beta, sites, 1)


def open_chain_correlation(beta: float, r: int) -> float:
    """⟨cos(θ_i − θ_{i+r})⟩ of an open (or infinite) chain: (I_1/I_0)^r."""
    return float((ive(1, beta) / ive(0, beta)) ** r)


def energy_high_temperature(beta: float) -> float:
    """Energy per site of the square-lattice XY model from the series above (error O(u⁷ β-derivative))."""
    u = float(ive(1, beta) / ive(0, beta))
    du = 1.0 - u / beta - u * u
    return -(2.0 * u + (8.0 * u**3 + 24.0 * u**5) * du)


def torus_2x2(temperature: float, nodes: int = 64) -> dict[str, float]:
    """⟨e⟩, ⟨|M|⟩/V, Υ and the vortex density of the 2×2 XY torus by trapezoidal quadrature
    (``nodes`` points per angle; the vortex density, a step function, converges only as 1/nodes²)."""
    from qcdgen.lattice.xy.action import energy_per_site
    from qcdgen.lattice.xy.observables import helicity_modulus, magnetisation, vortex_density

    beta = 1.0 / temperature
    grid = 2.0 * math.pi * (np.arange(nodes) + 0.5) / nodes - math.pi
    a, b, c = np.meshgrid(grid, grid, grid, indexing="ij")
    angles = np.stack([np.zeros(a.size), a.ravel(), b.ravel(), c.ravel()], axis=1).reshape(-1, 2, 2)
    sums = np.zeros(5)
    for start in range(0, len(angles), 65536):
        theta = torch.as_tensor(angles[start:start + 65536])
        e = energy_per_site(theta)
        w = torch.exp(-beta * 4.0 * (e + 2.0))  # e^{−βH} / e^{8β}: H = V e ≥ −8 on the 2×2 torus
        values = [torch.ones_like(e), e, magnetisation(theta), helicity_modulus(theta, beta), vortex_density(theta)]
        sums += np.array([float((w * v).sum()) for v in values])
    return dict(zip(("energy", "magnetisation", "helicity_modulus", "vortex_density"), sums[1:] / sums[0]))
