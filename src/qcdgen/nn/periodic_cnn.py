"""A periodic residual CNN for fields on a torus, conditioned on a noise level.

Every convolution pads circularly, so the network commutes with lattice translations
(periodic boundary conditions, as in Wang, Aarts & Zhou, JHEP 05 (2024) 060). The noise
level c = log s(t) enters through sinusoidal features and an MLP that produces a per-block,
per-channel gain (and, unless odd, a shift): FiLM conditioning (Perez et al., AAAI 2018).

``odd=True`` makes the network an exactly odd function of the field, out(−φ) = −out(φ),
hence an odd score for a Z₂-symmetric target: no biases, tanh activations (odd), gains
that depend on c only (even), and no shifts. Sums and products of odd by even are odd.

``global_pool=True`` adds to every block a learned linear map of the lattice mean of its input
(zero at initialisation): a global receptive field at O(V) cost, for targets whose score depends on
a global mode, such as the sign of the magnetisation in the broken phase. The network stays
translation-equivariant (and odd, the map has no bias then) but is no longer local.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qcdgen.errors import InputError

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def periodic_pad(x: torch.Tensor, width: int) -> torch.Tensor:
    """Pad every spatial axis of [batch, channels, L, …] periodically by ``width`` sites each side."""
    for axis in range(2, x.dim()):
        n = x.shape[axis]
        x = torch.cat([x.narrow(axis, n - width, width), x, x.narrow(axis, 0, width)], dim=axis)
    return x


class PeriodicConv(nn.Module):
    """Convolution on a torus: periodic padding then a 'valid' convolution (output shape = input shape)."""

    def __init__(self, dim: int, cin: int, cout: int, kernel_size: int, bias: bool):
        super().__init__()
        self.width = kernel_size // 2
        self.conv = _CONV[dim](cin, cout, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(periodic_pad(x, self.width))


def noise_features(c: torch.Tensor, n_features: int) -> torch.Tensor:
    """Sinusoidal features [batch, n_features] of the scalar noise level c (frequencies 1 … 64)."""
    half = n_features // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(64.0), half, device=c.device, dtype=c.dtype))
    arg = c.view(-1, 1) * freqs
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class PeriodicScoreCNN(nn.Module):
    """out = net(φ, c) with φ of shape [batch, L, …, L] (d = 1, 2 or 3) and c of shape [batch]."""

    def __init__(self, dim: int = 2, channels: int = 32, blocks: int = 4, kernel_size: int = 3,
                 embed_dim: int = 32, odd: bool = False, global_pool: bool = False):
        super().__init__()
        if dim not in _CONV:
            raise InputError(f"PeriodicScoreCNN supports d = 1, 2, 3; got dim={dim!r}")
        for name, v in (("channels", channels), ("blocks", blocks), ("embed_dim", embed_dim)):
            if not (isinstance(v, int) and v >= 1):
                raise InputError(f"{name} must be an integer >= 1, got {v!r}")
        if not (isinstance(kernel_size, int) and kernel_size % 2 == 1):
            raise InputError(f"kernel_size must be an odd integer, got {kernel_size!r}")
        self.config = dict(dim=dim, channels=channels, blocks=blocks, kernel_size=kernel_size,
                           embed_dim=embed_dim, odd=odd, global_pool=global_pool)
        def make(cin, cout):
            return PeriodicConv(dim, cin, cout, kernel_size, bias=not odd)

        self.odd = odd
        self.embed_dim = embed_dim
        self.embed = nn.Sequential(nn.Linear(embed_dim, 2 * embed_dim), nn.SiLU(), nn.Linear(2 * embed_dim, embed_dim))
        self.inp = make(1, channels)
        self.convs1 = nn.ModuleList(make(channels, channels) for _ in range(blocks))
        self.convs2 = nn.ModuleList(make(channels, channels) for _ in range(blocks))
        film_out = channels if odd else 2 * channels
        self.films = nn.ModuleList(nn.Linear(embed_dim, film_out) for _ in range(blocks))
        self.out = make(channels, 1)
        self.pools = None
        if global_pool:  # lattice mean of each block's input, mixed and added everywhere (zero at start)
            self.pools = nn.ModuleList(nn.Linear(channels, channels, bias=not odd) for _ in range(blocks))
            for lin in self.pools:
                nn.init.zeros_(lin.weight)
                if lin.bias is not None:
                    nn.init.zeros_(lin.bias)
        self.act = torch.tanh if odd else nn.functional.silu

    @property
    def receptive_radius(self) -> int | None:
        """r: output site i depends on inputs within Chebyshev distance r only (2 + 2·blocks convolutions);
        None with ``global_pool`` (every site sees the lattice mean)."""
        if self.pools is not None:
            return None
        return (2 + 2 * len(self.convs1)) * (self.config["kernel_size"] // 2)

    def forward(self, phi: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        emb = self.embed(noise_features(c.to(phi.dtype), self.embed_dim))
        h = self.inp(phi.unsqueeze(1))
        view = (len(phi), -1) + (1,) * (phi.dim() - 1)
        spatial = tuple(range(2, h.dim()))
        for k, (conv1, conv2, film) in enumerate(zip(self.convs1, self.convs2, self.films)):
            u = conv1(self.act(h))
            if self.pools is not None:  # odd nets: the mean of odd features is odd, the map has no bias
                u = u + self.pools[k](h.mean(dim=spatial)).view(view)
            mod = film(emb)
            if self.odd:
                u = u * (1 + mod.view(view))
            else:
                gain, shift = mod.chunk(2, dim=1)
                u = u * (1 + gain.view(view)) + shift.view(view)
            h = h + conv2(self.act(u))
        return self.out(self.act(h)).squeeze(1)
