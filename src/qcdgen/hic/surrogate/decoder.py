"""Per-particle momentum decoder: conditional flow matching on y = (ŷ_logpT, ŷ_η).

Flow matching with the rectified (optimal-transport) path (Lipman et al., ICLR 2023; Liu et al.,
ICLR 2023): x₀ ~ N(0, I₂), x₁ = y, x_t = (1 − t) x₀ + t x₁, and the velocity network is fitted by

    L = E_{t ~ U(0,1), x₀, x₁} ‖v_θ(x_t, t | s, z, c) − (x₁ − x₀)‖² / 2.

Sampling integrates dy/dt = v_θ from t = 0 to 1 with the shared integrator
(:mod:`qcdgen.diffusion.integrator`; Euler or Heun, uniform steps). The azimuth is not generated
here but by :mod:`.harmonics`, given (log pT, η) and the event's flow vectors.
The event enters through FiLM (Perez et al., AAAI 2018): one projection of (z, c) per event gives an
additive input term and a scale/shift per residual block, so a particle costs only its own MLP. Given
(z, c) particles are i.i.d.: every event correlation (multiplicity–pT …) is carried by z.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from qcdgen.diffusion.integrator import check_solver, odeint, uniform_steps

#: the solvers offered for sampling (the shared integrator, :mod:`qcdgen.diffusion.integrator`, also has rk4)
SOLVERS = ("euler", "heun")
#: dimension of y
DIM = 2
#: the ODE state is kept in [−Y_BOX, Y_BOX]^2 (standardised units) while integrating
Y_BOX = 12.0


def fourier_time(t: torch.Tensor, n: int) -> torch.Tensor:
    """[t, sin(π 2^j t), cos(π 2^j t)] for j < n: t [...] → [..., 2n + 1]."""
    freqs = math.pi * 2.0 ** torch.arange(n, device=t.device, dtype=t.dtype)
    arg = t[..., None] * freqs
    return torch.cat([t[..., None], arg.sin(), arg.cos()], dim=-1)


class MomentumDecoder(nn.Module):
    """v_θ(y_t, t | species, event context) with ``layers`` FiLM-modulated residual blocks of width ``hidden``."""

    def __init__(self, n_species: int, context_dim: int, hidden: int = 128, layers: int = 3, time_features: int = 6):
        super().__init__()
        self.hidden, self.layers, self.time_features = hidden, layers, time_features
        self.inp = nn.Linear(DIM, hidden)
        self.time = nn.Linear(2 * time_features + 1, hidden, bias=False)
        self.species = nn.Embedding(n_species, hidden)
        self.event = nn.Linear(context_dim, hidden * (1 + 2 * layers))
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.out = nn.Linear(hidden, DIM)

    def context(self, event_in: torch.Tensor) -> torch.Tensor:
        """Per-event projection of (z, c) [E, d + C] → [E, hidden·(1 + 2·layers)], computed once per event."""
        return self.event(event_in)

    def velocity(self, y: torch.Tensor, t: torch.Tensor, species: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        """v(y, t): y [..., 2], t broadcastable to y[..., 0], species like y[..., 0], ctx broadcastable to [..., H']."""
        return self._field(y, t, self._conditioning(species, ctx))

    def _conditioning(self, species: torch.Tensor, ctx: torch.Tensor, contiguous: bool = False):
        """The y- and t-independent parts of v: (input offset, [(1 + gain, shift) per block]).

        ``contiguous`` copies them out of the packed context once, for the many evaluations of an ODE solve.
        """
        hid = self.hidden
        base = self.species(species) + ctx[..., :hid]
        films = [(1 + ctx[..., hid * (1 + 2 * i):hid * (2 + 2 * i)], ctx[..., hid * (2 + 2 * i):hid * (3 + 2 * i)])
                 for i in range(self.layers)]
        if contiguous:
            films = [(g.expand_as(base).contiguous(), b.expand_as(base).contiguous()) for g, b in films]
        return base, films

    def _field(self, y: torch.Tensor, t: torch.Tensor, conditioning) -> torch.Tensor:
        base, films = conditioning
        h = self.inp(y) + self.time(fourier_time(t, self.time_features)) + base
        for block, (gain, shift) in zip(self.blocks, films):
            h = h + block(torch.addcmul(shift, F.silu(h), gain))
        return self.out(F.silu(h))

    def loss(self, y1: torch.Tensor, species: torch.Tensor, mask: torch.Tensor, ctx: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
        """Flow-matching MSE averaged over the valid particles: y1 [B, k, 2], species/mask [B, k], ctx [B, H']."""
        x0 = torch.randn(y1.shape, generator=generator, device=y1.device, dtype=y1.dtype)
        t = torch.rand(y1.shape[:-1], generator=generator, device=y1.device, dtype=y1.dtype)
        yt = (1 - t[..., None]) * x0 + t[..., None] * y1
        err = (self.velocity(yt, t, species, ctx[:, None, :]) - (y1 - x0)).pow(2).mean(-1)
        w = mask.to(err.dtype)
        return (err * w).sum() / w.sum().clamp_min(1.0)

    @torch.no_grad()
    def sample(self, species: torch.Tensor, ctx: torch.Tensor, n_steps: int, solver: str,
               generator: torch.Generator) -> torch.Tensor:
        """Integrate noise → data for particles species [P] with per-particle contexts ctx [P, H'] → y [P, 2]."""
        check_solver(solver, SOLVERS)
        y = torch.randn((len(species), DIM), generator=generator, device=ctx.device, dtype=ctx.dtype)
        fixed = self._conditioning(species, ctx, contiguous=True)
        steps = uniform_steps(n_steps, 0.0, 1.0, dtype=y.dtype, device=y.device)
        # standardised data live within a few units; an untrained field must not run off to inf
        # (every ODE state is kept in the box; the sampler clamps and counts outliers afterwards)
        return odeint(lambda yt, t: self._field(yt, t, fixed), y, steps, solver,
                      constrain=lambda yt: yt.clamp(-Y_BOX, Y_BOX))
