"""Exact Jacobians of local maps on a periodic lattice from few vector–Jacobian products (colouring).

If output site i of F depends only on inputs within Chebyshev distance r of i (a CNN of receptive
field r), row i of J = ∂F/∂x is zero outside the box B(i) of side 2r + 1. Sites whose boxes are
disjoint can share one probe: with e_c = Σ_{i ∈ c} e_i, the product e_cᵀJ = Σ_{i∈c} J[i, :] holds
every row of colour c separately, so J[i, j] = (e_cᵀJ)_j for j ∈ B(i) — exactly, no estimation
(Curtis, Powell & Reid, IMA J. Appl. Math. 13 (1974) 117; Griewank & Walther, *Evaluating
Derivatives*, ch. 8). This needs one VJP per colour instead of one per site.

Colouring of one periodic axis of length L: coordinates x < m⌊L/m⌋ get colour x mod m, the L mod m
coordinates left over get a colour each; same-coloured coordinates are then ≥ m apart on the circle,
so m ≥ 2r + 1 makes their boxes disjoint. The number of colours m + (L mod m) is minimised over
m ∈ [2r + 1, L]; the lattice colour is the tuple of axis colours, (Π_axes colours) ≤ V probes.
The count is (2r + 1)^d when 2r + 1 divides L, and never more than V (then there is no saving).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from qcdgen.errors import InputError


def axis_colours(length: int, radius: int) -> torch.Tensor:
    """Colour of each coordinate of a periodic axis [length] (long), same colours ≥ 2·radius + 1 apart."""
    width = 2 * radius + 1
    if width >= length:
        return torch.arange(length)
    best = min(range(width, length + 1), key=lambda m: (m + length % m, m))
    full = best * (length // best)
    coord = torch.arange(length)
    return torch.where(coord < full, coord % best, best + coord - full)


def site_colours(shape: tuple[int, ...], radius: int) -> tuple[torch.Tensor, int]:
    """Colour of every site of a lattice ``shape`` (flattened, long) and the number of colours."""
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise InputError(f"the receptive radius must be an integer >= 0, got {radius!r}")
    colours, count = torch.zeros((), dtype=torch.long), 1
    for length in shape:
        axis = axis_colours(length, radius)
        n_axis = int(axis.max()) + 1
        colours = colours.unsqueeze(-1) * n_axis + axis
        count *= n_axis
    return colours.reshape(-1), count


def neighbourhoods(shape: tuple[int, ...], radius: int) -> torch.Tensor:
    """[V, K]: flat indices of the box B(i) of every site (periodic, each site once even if 2r + 1 > L)."""
    grids = []
    for length in shape:
        offsets = torch.unique(torch.arange(-radius, radius + 1) % length)
        grids.append((torch.arange(length).view(-1, 1) + offsets.view(1, -1)) % length)  # [L, k]
    index = torch.zeros((1, 1), dtype=torch.long)  # [sites so far, neighbours so far]
    for length, g in zip(shape, grids):
        index = (index.unsqueeze(1).unsqueeze(-1) * length + g.unsqueeze(0).unsqueeze(2))  # [S, L, K, k]
        index = index.reshape(index.shape[0] * length, -1)
    return index


def probe_count(shape: tuple[int, ...], radius: int) -> int:
    """VJPs :func:`local_jacobian` needs for one batch (min of the colour count and V)."""
    return min(site_colours(shape, radius)[1], math.prod(shape))


def local_jacobian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, radius: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """fn(x) flattened [batch, V] and its exact Jacobian [batch, V, V] for a map of receptive field ``radius``.

    ``x`` is [batch, *lattice]; ``fn`` maps it to the same shape, each sample independently. One batched
    VJP per colour (:func:`site_colours`); the result is exact if ``fn`` is really that local.
    """
    shape = tuple(x.shape[1:])
    n, volume = len(x), math.prod(shape)
    colours, count = site_colours(shape, radius)
    colours = colours.to(x.device)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        out = fn(xg).reshape(n, volume)
        probes = (colours.view(1, -1) == torch.arange(count, device=x.device).view(-1, 1)).to(out.dtype)
        grad_outputs = probes.unsqueeze(1).expand(count, n, volume)
        (rows,) = torch.autograd.grad(out, xg, grad_outputs=grad_outputs, is_grads_batched=True)
    rows = rows.reshape(count, n, volume)
    box = neighbourhoods(shape, radius).to(x.device)  # [V, K]
    values = rows[colours.view(-1, 1), :, box]  # [V, K, n]: (e_{c(i)}ᵀ J)_j for j in B(i)
    jac = torch.zeros(n, volume, volume, dtype=rows.dtype, device=x.device)
    site = torch.arange(volume, device=x.device).view(-1, 1).expand_as(box)
    jac[:, site, box] = values.permute(2, 0, 1)
    return out.detach(), jac
