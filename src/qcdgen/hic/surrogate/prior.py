"""Event-level distributions of the surrogate: the latent prior p(z | c) and the multiplicity p(N | c, z).

- :class:`LatentPrior`: a conditional neural spline flow (Durkan et al., NeurIPS 2019; zuko's
  ``NSF`` as a :class:`qcdgen.flows.ConditionalFlow`, a torch Distribution per context, sampled from
  a ``torch.Generator``) fitted by maximum likelihood to the encoder's (detached, noised) latents,
  i.e. to the aggregate posterior q(z | c) (the "learned prior" of Tomczak & Welling, AISTATS 2018, and of
  HEIDi, arXiv:2412.10352). With no conditions it is an unconditional flow.
- :class:`NegBinomialHead`: N ~ NB(μ, r), P(N) = Γ(N+r)/(Γ(r) N!) (r/(r+μ))^r (μ/(r+μ))^N,
  mean μ, variance μ + μ²/r, with log μ and log r from an MLP. Exact integer draws via the
  Gamma–Poisson mixture (NumPy's ``negative_binomial``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from qcdgen.errors import NaNError
from qcdgen.flows import FlowDistribution, neural_spline_flow

#: log r is kept in this range: r → ∞ is the Poisson limit, r → 0 an extremely broad distribution
LOG_R_RANGE = (-7.0, 18.0)


def mlp(n_in: int, hidden: int, n_out: int, layers: int = 2) -> nn.Sequential:
    """Linear–SiLU stack with ``layers`` hidden layers of width ``hidden``."""
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


class LatentPrior(nn.Module):
    """p(z | c) as a conditional NSF (:func:`qcdgen.flows.neural_spline_flow`); ``n_conditions = 0``
    gives an unconditional flow. Called with ``cond`` [E, C] it returns p(z | c) as a torch Distribution."""

    def __init__(self, latent_dim: int, n_conditions: int, transforms: int = 3, hidden: int = 64):
        super().__init__()
        self.n_conditions = n_conditions
        self.flow = neural_spline_flow(latent_dim, n_conditions, transforms, (hidden, hidden))

    def forward(self, cond: torch.Tensor) -> FlowDistribution:
        """p(z | c) for ``cond`` [E, C] (batch shape [E]); without conditions the one unconditional p(z)."""
        return self.flow(cond if self.n_conditions > 0 else None)

    def log_prob(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """log p(z | c), z [B, d], c [B, C] → [B]."""
        return self(cond).log_prob(z)

    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One z per row of ``cond`` [E, C] → [E, d]; the base noise comes from ``generator``."""
        shape = () if self.n_conditions > 0 else (len(cond),)
        return self(cond).rsample(shape, generator=generator)


class NegBinomialHead(nn.Module):
    """(log μ, log r) = MLP(input) + (log_n0, 2); ``log_n0`` (a buffer) centres μ on the data."""

    def __init__(self, n_in: int, hidden: int, layers: int = 2):
        super().__init__()
        self.net = mlp(n_in, hidden, 2, layers)
        self.register_buffer("log_n0", torch.zeros(()))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(h)
        return out[:, 0] + self.log_n0, (out[:, 1] + 2.0).clamp(*LOG_R_RANGE)

    @staticmethod
    def nll(n: torch.Tensor, log_mu: torch.Tensor, log_r: torch.Tensor) -> torch.Tensor:
        """−log P(N = n) [B], in float64 (lgamma of N + r loses digits in float32 for N ~ 10⁴)."""
        n, log_mu, log_r = n.double(), log_mu.double(), log_r.double()
        r = log_r.exp()
        log_norm = torch.logaddexp(log_r, log_mu)  # log(r + μ)
        logp = (torch.lgamma(n + r) - torch.lgamma(r) - torch.lgamma(n + 1)
                + r * (log_r - log_norm) + n * (log_mu - log_norm))
        return -logp

    @staticmethod
    def sample(log_mu: torch.Tensor, log_r: torch.Tensor, rng: np.random.Generator, cap: int) -> torch.Tensor:
        """Exact NB integers (int64 [E], on log_mu's device), clipped to ``cap``.

        μ is limited to e³·cap before drawing (the draw is clipped to ``cap`` anyway), so an
        untrained head cannot ask NumPy for an impossible negative binomial.
        """
        log_mu = log_mu.double().cpu()
        if not torch.isfinite(log_mu).all() or not torch.isfinite(log_r).all():
            raise NaNError(f"the multiplicity head returned {int((~torch.isfinite(log_mu)).sum())} non-finite means")
        mu = np.exp(np.minimum(log_mu.numpy(), math.log(cap) + 3.0))
        r = np.exp(log_r.double().cpu().numpy())
        p = r / (r + mu)
        n = rng.negative_binomial(r, np.clip(p, 1e-300, 1.0))
        return torch.as_tensor(np.minimum(n, cap), dtype=torch.int64, device=log_mu.device)

    @staticmethod
    def moments(log_mu: torch.Tensor, log_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean μ and variance μ + μ²/r."""
        mu = log_mu.double().exp()
        return mu, mu + mu * mu / log_r.double().exp()

