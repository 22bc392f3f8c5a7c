"""A small DenseNet-style CNN regressor/classifier for 2D images.

Dense blocks (Huang, Liu, van der Maaten, Weinberger, CVPR 2017): inside a block layer ℓ sees
the concatenation of the block input and all earlier layers' outputs,

    x_ℓ = H_ℓ([x_0, x_1, …, x_{ℓ−1}]),   H = BatchNorm → ReLU → Conv3×3 (growth k channels),

and transition layers (1×1 conv + 2×2 average pooling) halve the resolution between blocks.
Hirvonen, Eskola & Niemi (PRC 108 (2023) 034905) use this architecture to map the initial
energy density to per-event final-state observables. A global average pool and an MLP head
(which may also take a conditioning vector, e.g. η/s) give the outputs.

``periodic_w=True`` pads the last image axis circularly (an azimuthal φ axis).
"""

from __future__ import annotations

import torch
from torch import nn

from qcdgen.errors import InputError

__all__ = ["DenseNet2d"]


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, periodic_w: bool):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.periodic_w = periodic_w
        self.conv = nn.Conv2d(cin, growth, 3, padding=(1, 0 if periodic_w else 1), bias=False)

    def forward(self, x):
        h = torch.relu(self.norm(x))
        if self.periodic_w:
            h = torch.cat([h[..., -1:], h, h[..., :1]], dim=-1)
        return torch.cat([x, self.conv(h)], dim=1)


class DenseNet2d(nn.Module):
    """out = net(image [B, C, H, W], cond [B, D] or None) → [B, out_dim]."""

    def __init__(self, in_channels: int, out_dim: int, cond_dim: int = 0, growth: int = 12,
                 blocks: int = 3, layers_per_block: int = 3, stem: int = 16, hidden: int = 64,
                 periodic_w: bool = False):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_dim", out_dim), ("growth", growth), ("blocks", blocks),
                        ("layers_per_block", layers_per_block), ("stem", stem), ("hidden", hidden)):
            if not (isinstance(v, int) and v >= 1):
                raise InputError(f"DenseNet2d: {name} must be an integer >= 1, got {v!r}")
        if not (isinstance(cond_dim, int) and cond_dim >= 0):
            raise InputError(f"DenseNet2d: cond_dim must be an integer >= 0, got {cond_dim!r}")
        self.config = dict(in_channels=in_channels, out_dim=out_dim, cond_dim=cond_dim, growth=growth, blocks=blocks,
                           layers_per_block=layers_per_block, stem=stem, hidden=hidden, periodic_w=periodic_w)
        self.cond_dim = cond_dim
        mods: list[nn.Module] = [nn.Conv2d(in_channels, stem, 3, padding=1, bias=False)]
        c = stem
        for b in range(blocks):
            for _ in range(layers_per_block):
                mods.append(_DenseLayer(c, growth, periodic_w))
                c += growth
            if b < blocks - 1:          # transition: compress channels by 2, halve the resolution
                mods += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
                c //= 2
        mods += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*mods)
        self.head = nn.Sequential(nn.Linear(c + cond_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                  nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        if self.cond_dim:
            if cond is None or cond.shape != (x.shape[0], self.cond_dim):
                raise InputError(f"DenseNet2d expects a conditioning vector [B, {self.cond_dim}]")
            h = torch.cat([h, cond.to(h.dtype)], dim=1)
        return self.head(h)
