"""Observables of XY ensembles with Γ-method errors (J = 1, V = L² sites).

- ``energy``: e = H/V = −(1/V) Σ_⟨ij⟩ cos(θ_i − θ_j);
- ``magnetisation``: ⟨|M|⟩/V, M = Σ_x (cos θ_x, sin θ_x);
- ``helicity_modulus``: Υ = (1/2V) Σ_μ [⟨Σ_x cos Δ_μ(x)⟩ − β ⟨(Σ_x sin Δ_μ(x))²⟩], Δ_μ(x) = θ_x − θ_{x+μ̂}
  (the response to a twist of the boundary condition; the KT transition is where Υ crosses 2T/π,
  Nelson & Kosterlitz, PRL 39 (1977) 1201; Weber & Minnhagen, PRB 37 (1988) 5986);
- ``vortex_density``: ⟨Σ_P |w_P|⟩/V, w_P = (1/2π) Σ_{ℓ∈∂P} [Δθ_ℓ] the winding of the spin angle
  around plaquette P ([·] wrapped into (−π, π]); vortices and antivortices both count.

Υ per configuration is linear in the primaries, so each observable is the mean of one series and
its error comes from :func:`qcdgen.stats.gamma_method` within each Markov chain.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.lattice.xy.action import XYAction, bond_differences, energy_per_site, wrap_angle
from qcdgen.stats import Estimate, gamma_method

NAMES = ("energy", "magnetisation", "helicity_modulus", "vortex_density")


def magnetisation(theta: torch.Tensor) -> torch.Tensor:
    """|M|/V per configuration [batch]."""
    volume = theta.shape[-1] * theta.shape[-2]
    return torch.hypot(torch.cos(theta).sum(dim=(-2, -1)), torch.sin(theta).sum(dim=(-2, -1))) / volume


def helicity_modulus(theta: torch.Tensor, beta: float) -> torch.Tensor:
    """Υ per configuration [batch] (its mean over the ensemble is the helicity modulus)."""
    volume = theta.shape[-1] * theta.shape[-2]
    d = bond_differences(theta)
    cos_term = torch.cos(d).sum(dim=(1, 2, 3)) / (2 * volume)
    sin_term = (torch.sin(d).sum(dim=(-2, -1)) ** 2).sum(dim=1) / (2 * volume)
    return cos_term - beta * sin_term


def vorticity(theta: torch.Tensor) -> torch.Tensor:
    """Winding number w_P ∈ {−1, 0, 1} of every plaquette [batch, L, L] (plaquette x: x, x+0̂, x+0̂+1̂, x+1̂).

    Walking x → x+0̂ → x+0̂+1̂ → x+1̂ → x, the wrapped steps are −Δ_0(x), −Δ_1(x+0̂), +Δ_0(x+1̂), +Δ_1(x).
    """
    d = wrap_angle(bond_differences(theta))
    d0, d1 = d[:, 0], d[:, 1]
    circulation = -d0 - torch.roll(d1, -1, -2) + torch.roll(d0, -1, -1) + d1
    return torch.round(circulation / (2 * math.pi))


def vortex_density(theta: torch.Tensor) -> torch.Tensor:
    """Σ_P |w_P|/V per configuration [batch]."""
    return vorticity(theta).abs().mean(dim=(-2, -1))


def primary_series(theta: torch.Tensor, action: XYAction) -> np.ndarray:
    """Per configuration: [e, |M|/V, Υ, ρ_v] as an [n, 4] array."""
    action.check_field(theta)
    theta = theta.to(torch.float64)
    columns = [energy_per_site(theta), magnetisation(theta), helicity_modulus(theta, action.beta),
               vortex_density(theta)]
    return torch.stack(columns, dim=1).cpu().numpy()


def measure_xy(theta: torch.Tensor, action: XYAction, chains: np.ndarray | None = None) -> dict[str, Estimate]:
    """``energy``, ``magnetisation``, ``helicity_modulus`` and ``vortex_density`` with Γ-method errors."""
    if theta.shape[0] < 2:
        raise InputError(f"need at least 2 configurations to estimate errors, got {theta.shape[0]}")
    series = primary_series(theta, action)
    estimates = []
    for k in range(series.shape[1]):
        column = series[:, k]
        if np.ptp(column) == 0:  # e.g. no vortex anywhere at low T: exact zero spread
            estimates.append(Estimate(float(column[0]), 0.0))
        else:
            estimates.append(gamma_method(column, replicas=chains))
    return dict(zip(NAMES, estimates))
