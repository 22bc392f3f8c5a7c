"""Score model s_θ(x, t) ≈ ∇ₓ log p_t(x) and the denoising score-matching loss.

The network predicts −z, the standardised noise, from (x_t, log s(t)); the score is that
prediction divided by s(t) (Song & Ermon, NeurIPS 2020, "noise-conditioned" output scaling).
Denoising score matching (Vincent, Neural Comput. 23 (2011) 1661) with weight λ(t):

    L(θ) = E_{t, x₀, z} λ(t) ‖s_θ(a(t)x₀ + s(t)z, t) + z/s(t)‖²

- ``weighting="sigma2"``: λ = s(t)², i.e. ‖net + z‖² (Song et al. 2021 default);
- ``weighting="likelihood"``: λ = g(t)², which makes L an upper bound on −log-likelihood
  (Song, Durkan, Murray & Ermon, NeurIPS 2021).
"""

from __future__ import annotations

import torch
from torch import nn

from qcdgen.diffusion.sde import SDE
from qcdgen.errors import InputError

WEIGHTINGS = ("sigma2", "likelihood")


class StationaryGaussian(nn.Module):
    """A zero-mean Gaussian with translation-invariant covariance on a periodic grid.

    C = F⁻¹ diag(P) F with P(k) the power spectrum, so its noised marginal under the SDE,
    N(0, a(t)²C + s(t)²I), has the exact score −F⁻¹[F x / (a²P + s²)]. Used as the
    analytic part of a score model, the network only learns the non-Gaussian remainder.
    """

    def __init__(self, power: torch.Tensor):
        super().__init__()
        if not (torch.isfinite(power).all() and (power > 0).all()):
            raise InputError("the power spectrum of a StationaryGaussian must be finite and > 0")
        self.register_buffer("power", power.clone())

    @classmethod
    def fit(cls, data: torch.Tensor, floor: float = 1e-6) -> "StationaryGaussian":
        """P(k) = ⟨|x̃(k)|²⟩/V from samples [n, *grid] (symmetrise the data first if the target is)."""
        dims = tuple(range(1, data.dim()))
        power = torch.fft.fftn(data.double(), dim=dims).abs().pow(2).mean(0) / data[0].numel()
        return cls(power.clamp_min(floor).float())

    def score(self, x: torch.Tensor, mean_coeff: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, x.dim()))
        shape = (-1,) + (1,) * (x.dim() - 1)
        denom = mean_coeff.view(shape) ** 2 * self.power + std.view(shape) ** 2
        return -torch.fft.ifftn(torch.fft.fftn(x, dim=dims) / denom, dim=dims).real


class ScoreModel(nn.Module):
    """s(x, t) = s_G(x, t) + net(x, log s(t)) / s(t).

    ``net(x, noise_level)`` returns a tensor shaped like x; s_G is the exact score of an
    optional :class:`StationaryGaussian` fitted to the data (zero without one).
    """

    def __init__(self, net: nn.Module, sde: SDE, gaussian: StationaryGaussian | None = None):
        super().__init__()
        self.net = net
        self.sde = sde
        self.gaussian = gaussian

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        std = self.sde.marginal_std(t)
        out = self.net(x, torch.log(std)) / std.view((-1,) + (1,) * (x.dim() - 1))
        if self.gaussian is not None:
            out = out + self.gaussian.score(x, self.sde.mean_coeff(t), std)
        return out


def sample_times(n: int, sde: SDE, generator: torch.Generator, device) -> torch.Tensor:
    """t ~ U(eps, T), one per sample."""
    u = torch.rand(n, generator=generator, device=device)
    return sde.eps + (sde.T - sde.eps) * u


def dsm_loss(score: ScoreModel, x0: torch.Tensor, generator: torch.Generator,
             weighting: str = "sigma2") -> torch.Tensor:
    """Monte Carlo estimate of the DSM loss over a batch, per site (mean over all dimensions)."""
    if weighting not in WEIGHTINGS:
        raise InputError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    sde = getattr(score, "module", score).sde  # unwrap DistributedDataParallel
    t = sample_times(len(x0), sde, generator, x0.device)
    z = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    xt = sde.perturb(x0, t, z)
    std = sde.marginal_std(t)
    shape = (-1,) + (1,) * (x0.dim() - 1)
    residual = score(xt, t) * std.view(shape) + z  # = net + z
    per_sample = residual.pow(2).flatten(1).mean(1)
    if weighting == "likelihood":
        per_sample = per_sample * (sde.diffusion(t) / std).pow(2)
    return per_sample.mean()
