"""The von Mises density on the circle, p(x) = e^{κ cos(x − μ)} / (2π I₀(κ)), and exact draws from it.

Used by the XY CAN's conditionals and the U(1) flow's independent-plaquette prior.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def wrap_angle(theta):
    """The angle mapped into (−π, π] (NumPy or torch)."""
    return math.pi - (math.pi - theta) % (2 * math.pi)


def von_mises_log_prob(x: torch.Tensor, mu: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
    """log [e^{κ cos(x − μ)} / (2π I_0(κ))] (I_0 through the scaled i0e, stable for large κ)."""
    return kappa * (torch.cos(x - mu) - 1.0) - torch.log(torch.special.i0e(kappa)) - LOG_2PI


def sample_von_mises(mu: torch.Tensor, kappa: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Von Mises draws by the rejection method of Best & Fisher, Appl. Stat. 28 (1979) 152 (float64)."""
    kappa = kappa.double()
    tau = 1.0 + torch.sqrt(1.0 + 4.0 * kappa * kappa)
    rho = (tau - torch.sqrt(2.0 * tau)) / (2.0 * kappa)
    r = torch.where(kappa < 1e-5, 1.0 / kappa + kappa, (1.0 + rho * rho) / (2.0 * rho))
    out = torch.empty_like(kappa)
    todo = torch.ones_like(kappa, dtype=torch.bool)
    while bool(todo.any()):
        idx = todo.nonzero().squeeze(1)
        u = torch.rand((3, len(idx)), generator=generator, dtype=torch.float64, device=kappa.device)
        z = torch.cos(math.pi * u[0])
        ri, ki = r[idx], kappa[idx]
        f = (1.0 + ri * z) / (ri + z)
        c = ki * (ri - f)
        ok = (c * (2.0 - c) - u[1] > 0) | (torch.log(c / u[1]) + 1.0 - c >= 0)
        angle = torch.sign(u[2] - 0.5) * torch.acos(f.clamp(-1.0, 1.0))
        out[idx[ok]] = angle[ok]
        todo[idx[ok]] = False
    return wrap_angle(out + mu.double())
