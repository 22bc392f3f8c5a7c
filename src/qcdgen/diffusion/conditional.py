"""Conditional score models: training and sampling of p(x | c) with a noise-predicting network.

The network ``net(x_t, t, cond_image, cond_vector)`` predicts −z, the standardised noise in
x_t = a(t) x₀ + s(t) z, so the conditional score is ∇ log p_t(x | c) ≈ net / s(t) (the convention of
:mod:`qcdgen.diffusion.score`). Training is denoising score matching on pairs (x₀, c) (Vincent 2011;
Song et al., ICLR 2021, eq. 7, with the condition as an extra input, Batzolis et al. arXiv:2111.13606):

    L = E_{t, (x₀, c), z} λ(t) ‖net(x_t, t, c) + z‖² / s(t)²,   λ = s² ("sigma2") or g² ("likelihood").

Sampling integrates, from the prior at T down to eps, either the probability-flow ODE
dx/dt = f − ½g² s_θ(x, t | c) (Heun steps of :mod:`qcdgen.diffusion.integrator`) or the reverse SDE
dx = [f − g² s_θ] dt + g dw̄ (:func:`qcdgen.diffusion.sampling.reverse_sde_sample`).
"""

from __future__ import annotations

import torch

from qcdgen.diffusion.flow import ode_drift
from qcdgen.diffusion.integrator import grid_steps, odeint
from qcdgen.diffusion.sampling import reverse_sde_sample, time_grid
from qcdgen.diffusion.score import WEIGHTINGS, sample_times
from qcdgen.diffusion.sde import SDE
from qcdgen.errors import InputError, NaNError

__all__ = ["conditional_score", "conditional_dsm_loss", "conditional_sample", "GaussianResidualNet", "METHODS"]

METHODS = ("ode", "sde")


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.dtype).view((-1,) + (1,) * (x.dim() - 1))


class GaussianResidualNet(torch.nn.Module):
    """net(x, t, c) = −s(t) x / (a(t)² + s(t)²) + residual(x, t, c).

    The first term is the exact −z predictor for standardised data x₀ ~ N(0, I) (E[z | x_t] = s x_t/(a² + s²)),
    so with a zero-initialised residual net (e.g. :class:`qcdgen.nn.unet.ConditionalUNet`) the model starts as
    that Gaussian and training learns only the departure from it (the analytic-baseline idea of
    :class:`qcdgen.diffusion.score.StationaryGaussian`, for a white prior).
    """

    def __init__(self, residual: torch.nn.Module, sde: SDE):
        super().__init__()
        self.residual, self.sde = residual, sde

    def forward(self, x, t, cond_image=None, cond_vector=None):
        a, s = _bcast(self.sde.mean_coeff(t), x), _bcast(self.sde.marginal_std(t), x)
        return -s * x / (a * a + s * s) + self.residual(x, t, cond_image, cond_vector)


def conditional_score(net, sde: SDE, cond_image=None, cond_vector=None):
    """The score function (x, t) -> net(x, t, c) / s(t) for fixed conditions (t is [batch])."""
    def score(x, t):
        return net(x, t, cond_image, cond_vector) / _bcast(sde.marginal_std(t), x)
    return score


def conditional_dsm_loss(net, sde: SDE, x0: torch.Tensor, generator: torch.Generator, cond_image=None,
                         cond_vector=None, weighting: str = "sigma2") -> torch.Tensor:
    """Monte Carlo DSM loss over a batch of pairs (x0[i], c[i]), mean over samples and dimensions."""
    if weighting not in WEIGHTINGS:
        raise InputError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    t = sample_times(len(x0), sde, generator, x0.device)
    z = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    xt = sde.perturb(x0, t, z)
    per_sample = (net(xt, t, cond_image, cond_vector) + z).pow(2).flatten(1).mean(1)
    if weighting == "likelihood":
        per_sample = per_sample * (sde.diffusion(t) / sde.marginal_std(t)).pow(2)
    return per_sample.mean()


@torch.no_grad()
def conditional_sample(net, sde: SDE, shape, steps: int, generator: torch.Generator, cond_image=None,
                       cond_vector=None, method: str = "ode", device="cpu", schedule: str | None = None,
                       dtype=torch.float32) -> torch.Tensor:
    """Draw x ~ p(x | c) for the conditions of each batch row (shape[0] rows).

    ``method="ode"``: probability-flow ODE, Heun steps on the ``edm`` time grid (default);
    ``method="sde"``: reverse-SDE Euler–Maruyama on the ``uniform`` grid (default). Non-finite samples raise
    :class:`qcdgen.errors.NaNError` with their count.
    """
    if method not in METHODS:
        raise InputError(f"sampling method must be one of {METHODS}, got {method!r}")
    score = conditional_score(net, sde, cond_image, cond_vector)
    if method == "sde":
        return reverse_sde_sample(score, sde, shape, steps, generator, device=device, dtype=dtype,
                                  schedule=schedule or "uniform")
    times = time_grid(sde, steps, device, schedule or "edm")
    x = sde.prior_sample(shape, generator, device, dtype)
    x = odeint(lambda y, t: ode_drift(score, sde, y, t), x, grid_steps(times, shape[0], dtype), "heun")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
        raise NaNError(f"probability-flow ODE produced non-finite values in {bad} of {shape[0]} samples; "
                       "try more steps or check the model")
    return x
