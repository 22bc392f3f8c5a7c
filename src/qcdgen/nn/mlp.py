"""A small multilayer perceptron for a few real variables, conditioned on a noise level.

``net(x, c)`` takes x of shape [batch, D] and the noise level c = log s(t) of shape [batch] (what
:class:`qcdgen.diffusion.ScoreModel` passes) and returns a tensor shaped like x. The input is
preconditioned as x / √(σ_data² + s²) (the c_in of Karras, Aittala, Aila & Laine, NeurIPS 2022), so
the network sees order-one numbers at every noise level; c enters as itself plus sinusoidal features.
``powers`` adds odd powers x̂^k of the preconditioned input as features (e.g. (1, 3): the force of a φ⁴
action is cubic, and a SiLU network alone extrapolates linearly into the rarely sampled tails).

``odd=True`` returns ½[h(x, c) − h(−x, c)], an exactly odd function of x: the score of a Z₂-symmetric
density is odd.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qcdgen.errors import InputError

__all__ = ["NoiseConditionedMLP"]


class NoiseConditionedMLP(nn.Module):
    """out = h(x̂, c) with x̂ = x/√(σ_data² + e^{2c}); SiLU hidden layers of width ``hidden``."""

    def __init__(self, dim: int = 1, hidden: int = 64, layers: int = 3, n_features: int = 8,
                 data_std: float = 1.0, odd: bool = False, powers: tuple = (1,)):
        super().__init__()
        for name, v in (("dim", dim), ("hidden", hidden), ("layers", layers), ("n_features", n_features)):
            if isinstance(v, bool) or not (isinstance(v, int) and v >= 1):
                raise InputError(f"{name} must be an integer >= 1, got {v!r}")
        if not (isinstance(data_std, (int, float)) and math.isfinite(data_std) and data_std > 0):
            raise InputError(f"data_std must be a finite number > 0, got {data_std!r}")
        powers = tuple(powers)
        if not powers or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0 for k in powers):
            raise InputError(f"powers must be odd integers >= 1, got {powers!r}")
        self.config = dict(dim=dim, hidden=hidden, layers=layers, n_features=n_features,
                           data_std=float(data_std), odd=odd, powers=powers)
        self.powers = powers
        self.odd = odd
        self.data_std = float(data_std)
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(8.0), n_features)))
        widths = [dim * len(powers) + 1 + 2 * n_features] + [hidden] * layers
        blocks: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            blocks += [nn.Linear(cin, cout), nn.SiLU()]
        blocks.append(nn.Linear(hidden, dim))
        self.body = nn.Sequential(*blocks)

    def _h(self, x: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([x ** k if k > 1 else x for k in self.powers] + [features], dim=1))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.to(x.dtype).reshape(-1, 1)
        x_in = x * torch.rsqrt(self.data_std ** 2 + torch.exp(2 * c))
        arg = c * self.freqs.to(x.dtype)
        features = torch.cat([c, torch.sin(arg), torch.cos(arg)], dim=1)
        if self.odd:
            return 0.5 * (self._h(x_in, features) - self._h(-x_in, features))
        return self._h(x_in, features)
