"""A small conditional U-Net for score models on 2-D images (Ronneberger et al. 2015; Ho, Jain & Abbeel 2020).

out = net(x, t, cond_image, cond_vector): x [B, C, H, W], t [B] the diffusion time. The conditioning image
[B, Cc, H, W] is concatenated to x as extra input channels; the conditioning vector [B, D] goes through an MLP
and is added to the sinusoidal time embedding, which modulates every residual block by a per-channel gain and
shift (FiLM, Perez et al., AAAI 2018). ``depth`` levels halve H and W (average pooling) and double the
channels; the decoder upsamples (nearest) and concatenates the encoder's skip features. The last convolution
starts at zero, so an untrained net predicts no noise.

``periodic_w=True`` pads every convolution circularly along W (e.g. an azimuth φ) and with zeros along H,
so the net commutes with cyclic shifts of W by multiples of 2**depth.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from qcdgen.errors import InputError
from qcdgen.nn.periodic_cnn import noise_features

__all__ = ["ConditionalUNet"]


class _Conv(nn.Module):
    """3x3 convolution, 'same' output: zero padding along H, zero or circular padding along W."""

    def __init__(self, cin: int, cout: int, periodic_w: bool):
        super().__init__()
        self.periodic_w = periodic_w
        self.conv = nn.Conv2d(cin, cout, 3, padding=0)

    def forward(self, x):
        x = F.pad(x, (1, 1, 0, 0), mode="circular" if self.periodic_w else "constant")
        return self.conv(F.pad(x, (0, 0, 1, 1)))


def _norm(channels: int) -> nn.GroupNorm:
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class _ResBlock(nn.Module):
    """h = x + conv(act(FiLM(norm(conv(act(norm(x))))))), with a 1x1 skip when the channels change."""

    def __init__(self, cin: int, cout: int, emb_dim: int, periodic_w: bool):
        super().__init__()
        self.norm1, self.conv1 = _norm(cin), _Conv(cin, cout, periodic_w)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.conv2 = _norm(cout), _Conv(cout, cout, periodic_w)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        gain, shift = self.film(emb).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        h = self.norm2(h) * (1 + gain) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class ConditionalUNet(nn.Module):
    """U-Net noise predictor conditioned on the diffusion time, an image and a vector (see module doc)."""

    def __init__(self, in_channels: int, out_channels: int | None = None, cond_channels: int = 0, cond_dim: int = 0,
                 base: int = 32, depth: int = 2, time_dim: int = 64, periodic_w: bool = False):
        super().__init__()
        for name, v, lo in (("in_channels", in_channels, 1), ("cond_channels", cond_channels, 0),
                            ("cond_dim", cond_dim, 0), ("base", base, 1), ("depth", depth, 0),
                            ("time_dim", time_dim, 2)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InputError(f"ConditionalUNet {name} must be an integer >= {lo}, got {v!r}")
        out_channels = in_channels if out_channels is None else out_channels
        self.config = dict(in_channels=in_channels, out_channels=out_channels, cond_channels=cond_channels,
                           cond_dim=cond_dim, base=base, depth=depth, time_dim=time_dim, periodic_w=periodic_w)
        self.time_dim = time_dim
        self.embed = nn.Sequential(nn.Linear(time_dim, 2 * time_dim), nn.SiLU(), nn.Linear(2 * time_dim, time_dim))
        self.cond_embed = (nn.Sequential(nn.Linear(cond_dim, 2 * time_dim), nn.SiLU(), nn.Linear(2 * time_dim, time_dim))
                           if cond_dim else None)
        widths = [base * 2 ** k for k in range(depth + 1)]
        self.inp = _Conv(in_channels + cond_channels, base, periodic_w)
        self.down = nn.ModuleList(_ResBlock(widths[k], widths[k + 1], time_dim, periodic_w) for k in range(depth))
        self.mid = _ResBlock(widths[-1], widths[-1], time_dim, periodic_w)
        self.up = nn.ModuleList(_ResBlock(widths[k + 1] + widths[k + 1], widths[k], time_dim, periodic_w)
                                for k in reversed(range(depth)))
        self.final = _ResBlock(widths[0] + base, base, time_dim, periodic_w)
        self.out = _Conv(base, out_channels, periodic_w)
        nn.init.zeros_(self.out.conv.weight)
        nn.init.zeros_(self.out.conv.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond_image: torch.Tensor | None = None,
                cond_vector: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        if x.dim() != 4 or x.shape[1] != cfg["in_channels"]:
            raise InputError(f"ConditionalUNet expects x [B, {cfg['in_channels']}, H, W], got {tuple(x.shape)}")
        step = 2 ** cfg["depth"]
        if x.shape[2] % step or x.shape[3] % step:
            raise InputError(f"ConditionalUNet with depth {cfg['depth']} needs H and W divisible by {step}, "
                             f"got {tuple(x.shape[2:])}")
        if cfg["cond_channels"]:
            if cond_image is None or cond_image.shape != (len(x), cfg["cond_channels"]) + tuple(x.shape[2:]):
                got = None if cond_image is None else tuple(cond_image.shape)
                raise InputError(f"cond_image must have shape {(len(x), cfg['cond_channels']) + tuple(x.shape[2:])}, "
                                 f"got {got}")
            x = torch.cat([x, cond_image.to(x.dtype)], dim=1)
        emb = self.embed(noise_features(t.to(x.dtype).expand(len(x)), self.time_dim))
        if self.cond_embed is not None:
            if cond_vector is None or cond_vector.shape != (len(x), cfg["cond_dim"]):
                got = None if cond_vector is None else tuple(cond_vector.shape)
                raise InputError(f"cond_vector must have shape {(len(x), cfg['cond_dim'])}, got {got}")
            emb = emb + self.cond_embed(cond_vector.to(x.dtype))
        h0 = self.inp(x)
        h, skips = h0, []
        for block in self.down:
            h = block(h, emb)
            skips.append(h)
            h = F.avg_pool2d(h, 2)
        h = self.mid(h, emb)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        h = self.final(torch.cat([h, h0], dim=1), emb)
        return self.out(F.silu(h))
