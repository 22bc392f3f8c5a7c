"""Symmetries of φ⁴ on a periodic hypercubic lattice, used to augment training data.

The action is invariant under lattice translations, the hypercubic point group (axis
permutations and reflections) and, for the Z₂-symmetric φ⁴ action, φ → −φ. Applying a
random element to every training batch enlarges the data set for free and teaches the
score network the symmetries of the target.
"""

from __future__ import annotations

import torch


def random_symmetry(batch: torch.Tensor, generator: torch.Generator, z2: bool = True) -> torch.Tensor:
    """Apply an independent random translation, axis permutation, reflection and sign flip to each batch row."""
    n, dims = len(batch), batch.dim() - 1
    device = batch.device

    def draw(high, size=()):
        return torch.randint(0, high, size, generator=generator, device=device)

    out = batch
    # one translation and point-group element per call (cheap), an independent sign per configuration
    shifts = tuple(int(draw(s)) for s in batch.shape[1:])
    out = torch.roll(out, shifts=shifts, dims=tuple(range(1, dims + 1)))
    perm = torch.randperm(dims, generator=generator, device=device).tolist()
    out = out.permute(0, *[p + 1 for p in perm])
    flips = [axis + 1 for axis in range(dims) if int(draw(2))]
    if flips:
        out = out.flip(flips)
    if z2:
        sign = (draw(2, (n,)) * 2 - 1).to(out.dtype)
        out = out * sign.view((-1,) + (1,) * dims)
    return out.contiguous()
