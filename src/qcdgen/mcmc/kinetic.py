"""Kinetic energies K(π) for HMC: the Euclidean one, and Fourier acceleration.

HMC samples p(x, π) ∝ exp(log p(x) − K(π)) with K(π) = ½ πᵀ M⁻¹ π. A mass matrix M that
is diagonal in momentum space (a circulant operator on a periodic lattice) lets every
Fourier mode evolve at its own frequency: Fourier acceleration (Davies et al.,
Phys. Rev. D 37 (1988) 1581; Duane, Kennedy, Pendleton, Roweth, Phys. Lett. B 195 (1987) 216).
"""

from __future__ import annotations

import torch

from qcdgen.errors import InputError


class EuclideanKinetic:
    """K(π) = ½ Σ π²; the velocity is π."""

    def sample(self, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(like.shape, dtype=like.dtype, device=like.device, generator=generator)

    def energy(self, momentum: torch.Tensor) -> torch.Tensor:
        return 0.5 * momentum.flatten(1).pow(2).sum(1)

    def velocity(self, momentum: torch.Tensor) -> torch.Tensor:
        return momentum


class FourierKinetic:
    """K(π) = ½ πᵀ M⁻¹ π with M a positive kernel M̂(p) over the d-dimensional momentum grid.

    π ~ N(0, M) is drawn as π = F⁻¹[√M̂ · F ξ] with white noise ξ; the velocity is M⁻¹π.
    M̂(p) must be real, positive and even in p (M̂(p) = M̂(−p)), so M is symmetric.
    """

    def __init__(self, kernel: torch.Tensor):
        if not torch.all(torch.isfinite(kernel)) or not torch.all(kernel > 0):
            raise InputError("Fourier-acceleration kernel must be finite and > 0 at every momentum")
        if not torch.allclose(kernel, _reflect(kernel)):
            raise InputError("Fourier-acceleration kernel must be even in momentum, M(p) = M(-p)")
        half = kernel.shape[-1] // 2 + 1
        self.dims = tuple(range(-kernel.dim(), 0))
        self.kernel_half = kernel[..., :half]
        self.sqrt_kernel_half = self.kernel_half.sqrt()
        self.site_shape = tuple(kernel.shape)

    def _apply(self, x: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        x_hat = torch.fft.rfftn(x, dim=self.dims)
        return torch.fft.irfftn(x_hat * multiplier, s=self.site_shape, dim=self.dims)

    def sample(self, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(like.shape, dtype=like.dtype, device=like.device, generator=generator)
        return self._apply(noise, self.sqrt_kernel_half)

    def velocity(self, momentum: torch.Tensor) -> torch.Tensor:
        return self._apply(momentum, 1.0 / self.kernel_half)

    def energy(self, momentum: torch.Tensor) -> torch.Tensor:
        return 0.5 * (momentum * self.velocity(momentum)).flatten(1).sum(1)


def _reflect(kernel: torch.Tensor) -> torch.Tensor:
    """k(−p): index n → (−n) mod L along every axis."""
    out = kernel
    for axis in range(kernel.dim()):
        out = torch.roll(torch.flip(out, (axis,)), 1, axis)
    return out
