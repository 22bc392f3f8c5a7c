"""Independent-plaquette prior for the 2D U(1) gauge flow: links whose plaquettes are i.i.d. von Mises.

In two dimensions the plaquettes θ_P of a torus are independent up to one constraint: the V plaquette
angles of any link configuration sum to 0 mod 2π, and under Haar-uniform links any V − 1 of them are
i.i.d. uniform (the map links → those V − 1 plaquettes is a surjective homomorphism of tori). The
Wilson weight Π_P e^{β cos θ_P} therefore factorises into V − 1 von Mises factors and the weight of the
last plaquette P₀ = (L−1, L−1), θ_{P₀} = −Σ_{P≠P₀} θ_P mod 2π (Wiese, Nucl. Phys. B318 (1989) 153).
This prior keeps the V − 1 factors exactly and drops the last one:

    q₀(θ) = (2π)^{−2V} Π_{P≠P₀} e^{κ cos θ_P} / I₀(κ),        κ = β,

normalised on [−π, π)^{2V} because E_Haar[Π_{P≠P₀} 2π vM(θ_P)] = 1, and gauge invariant because it
depends on plaquettes only. The density ratio to the target is ∝ e^{β cos θ_{P₀}}, bounded by e^{2β},
and θ_{P₀} is nearly uniform under q₀ once V ≳ 16, so q₀'s quality does not degrade with L: alone it
reaches independence-Metropolis acceptance 0.21 at β = 6, L = 8 (τ_int(Q) ≈ 4; HMC: ~10³). In four dimensions (or with matter) plaquettes are not independent, and this
is only the strong-coupling approximation; see RESULTS.md for what the 2D study can and cannot show.

Sampling: draw Haar links θ_u, draw the V − 1 target angles p_P ~ vM(0, κ), and add the link shift
δ = B(p − θ_P(θ_u)) with B an integer right inverse of the plaquette map (cumulative sums, below). B is
a homomorphism T^{V−1} → T^{2V}, so θ_u ↦ (θ_u − B θ_P(θ_u), θ_P(θ_u)) splits Haar measure into the
uniform gauge-and-holonomy part and the plaquettes; replacing the plaquettes by p gives exactly q₀.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qcdgen.errors import InputError
from qcdgen.flows.von_mises import sample_von_mises
from qcdgen.lattice.u1.action import plaquettes

LINK_DTYPE = torch.float64


def link_shift(delta: torch.Tensor) -> torch.Tensor:
    """Links δ [batch, 2, L, L] with θ_P(δ) = Δ_P for every plaquette, given Δ [batch, L, L] with ΣΔ = 0.

    With θ_P(x) = θ_0(x) + θ_1(x + 0̂) − θ_0(x + 1̂) − θ_1(x): the direction-1 links at x₁ = 0 move each
    row's sum S(x₀) = Σ_{x₁} Δ(x₀, x₁) into place, δ_1(x₀, 0) = Σ_{k<x₀} S(k); the direction-0 links carry
    the remainder R along the row, δ_0(x₀, x₁) = −Σ_{k<x₁} R(x₀, k). Integer (±1) coefficients only.
    """
    rows = delta.sum(-1)  # S(x₀), [batch, L]
    d1 = torch.cumsum(rows, -1) - rows  # exclusive cumulative sum
    rest = delta.clone()
    rest[..., 0] = rest[..., 0] - rows
    d0 = -(torch.cumsum(rest, -1) - rest)
    shift1 = torch.zeros_like(delta)
    shift1[..., 0] = d1
    return torch.stack([d0, shift1], dim=1)


class IndependentPlaquettes(nn.Module):
    """Prior q₀ of the module docstring on links [batch, 2, L, L] (float64), with κ = ``kappa`` (the action's β)."""

    def __init__(self, size: int, kappa: float):
        super().__init__()
        if isinstance(kappa, bool) or not isinstance(kappa, (int, float)) or not math.isfinite(kappa) or kappa <= 0:
            raise InputError(f"the independent-plaquette prior needs beta > 0, got {kappa!r}")
        self.size = size
        self.kappa = float(kappa)
        self.site_shape = (2, size, size)
        volume = size * size
        mask = torch.ones(size, size, dtype=torch.bool)
        mask[-1, -1] = False  # P₀ carries the constraint and no factor
        self.register_buffer("free", mask, persistent=False)
        log_i0 = self.kappa + math.log(float(torch.special.i0e(torch.tensor(self.kappa, dtype=LINK_DTYPE))))
        self.log_norm = -2 * volume * math.log(2 * math.pi) - (volume - 1) * log_i0

    def sample(self, n: int, generator: torch.Generator, dtype: torch.dtype | None = None) -> torch.Tensor:
        size, device = self.size, generator.device
        u = torch.rand((n, *self.site_shape), generator=generator, device=device, dtype=LINK_DTYPE)
        links = (2.0 * u - 1.0) * math.pi
        count = n * (size * size - 1)
        kappa = torch.full((count,), self.kappa, dtype=LINK_DTYPE, device=device)
        target = sample_von_mises(torch.zeros_like(kappa), kappa, generator)
        delta = torch.zeros((n, size, size), dtype=LINK_DTYPE, device=device)
        free = self.free.to(device)
        delta[:, free] = target.view(n, -1) - plaquettes(links)[:, free]
        delta[:, ~free] = -delta[:, free].sum(-1, keepdim=True)
        return links + link_shift(delta)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        cos = torch.cos(plaquettes(z.to(LINK_DTYPE)))[:, self.free.to(z.device)]
        return self.log_norm + self.kappa * cos.sum(-1)
