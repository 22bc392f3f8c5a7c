"""Observables of U(1) gauge ensembles with Γ-method errors: ⟨cos θ_P⟩, Q and χ_t = ⟨Q²⟩/V.

The charge is the geometric one, Q = Σ_P [θ_P]/2π (an integer on the torus, rounded so that float
noise cannot enter χ_t). Errors come from :func:`qcdgen.stats.gamma_method` within each Markov chain.
"""

from __future__ import annotations

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.lattice.u1.action import U1Action, plaquettes, topological_charge
from qcdgen.stats import Estimate, gamma_method

NAMES = ("plaquette", "topological_charge", "topological_susceptibility")


def primary_series(theta: torch.Tensor, action: U1Action) -> np.ndarray:
    """Per configuration: [mean cos θ_P, Q, Q²/V] as an [n, 3] array."""
    action.check_field(theta)
    plaq = torch.cos(plaquettes(theta)).mean(dim=(-2, -1))
    q = torch.round(topological_charge(theta))
    return torch.stack([plaq, q, q * q / action.volume], dim=1).cpu().numpy()


def measure_u1(theta: torch.Tensor, action: U1Action, chains: np.ndarray | None = None) -> dict[str, Estimate]:
    """``plaquette``, ``topological_charge`` and ``topological_susceptibility`` with Γ-method errors."""
    if theta.shape[0] < 2:
        raise InputError(f"need at least 2 configurations to estimate errors, got {theta.shape[0]}")
    series = primary_series(theta, action)
    estimates = gamma_method(series, replicas=chains)
    return dict(zip(NAMES, estimates))
