"""Conditional flow matching with the linear interpolant, sampled by an ODE with an exact log-density.

Lipman, Chen, Ben-Hamu, Nickel & Le, "Flow matching for generative modeling", ICLR 2023
(arXiv:2210.02747); Liu, Gong & Liu, "Flow straight and fast" (rectified flow), ICLR 2023
(arXiv:2209.03003). With x₀ ~ N(0, I) (the prior), x₁ ~ data and t ~ U(0, 1),

    x_t = (1 − t) x₀ + t x₁,      L(θ) = E ‖v_θ(x_t, t) − (x₁ − x₀)‖²,

whose minimiser is the marginal velocity v(x, t) = E[x₁ − x₀ | x_t = x]; dx/dt = v carries N(0, I)
at t = 0 to the data at t = 1. A path is an object with ``interpolate(x0, x1, t, z) -> (x_t, target)``,
``t_range`` (the training times) and ``gaussian_variance(t, P) -> (Σ_t, dΣ_t/dt)``: the variance of
one Fourier mode along the path when the data are Gaussian with that mode's variance P. For Gaussian
data the marginal velocity is then exactly linear, v = ½ (dΣ_t/dt / Σ_t) x mode by mode (a zero-mean
Gaussian whose covariance moves as Σ_t is transported by that field); :class:`VelocityModel` adds this
analytic part for the power spectrum fitted to the data, and the network learns the rest.

Sampling (:func:`transport_sample`) reuses the probability-flow machinery of :mod:`.flow` unchanged:
the ODE dx/dt = v is the probability-flow ODE of an SDE with drift v and no diffusion
(:class:`VelocityAsSDE`, in reversed time τ = 1 − t so that it runs from the prior at τ = 1 to the data
at τ = 0). With ``divergence="exact"`` log q is the exact log-density of the discrete Euler/Heun map
(step Jacobians built exactly), so an independence Metropolis step against e^{−S} is exact.
"""

from __future__ import annotations

import torch
from torch import nn

from qcdgen.diffusion.flow import FlowSamples, flow_sample
from qcdgen.diffusion.score import StationaryGaussian
from qcdgen.diffusion.sde import SDE
from qcdgen.errors import InputError

__all__ = ["LinearPath", "VelocityModel", "VelocityAsSDE", "cfm_loss", "gaussian_velocity", "transport_sample"]


class LinearPath:
    """x_t = (1 − t) x₀ + t x₁ with target x₁ − x₀ (independent coupling of prior and data)."""

    t_range = (0.0, 1.0)

    def interpolate(self, x0, x1, t, z=None):
        tt = t.view((-1,) + (1,) * (x0.dim() - 1))
        return (1 - tt) * x0 + tt * x1, x1 - x0

    def gaussian_variance(self, t, power):
        """Σ_t = (1 − t)² + t² P and its t-derivative −2(1 − t) + 2tP."""
        return (1 - t) ** 2 + t ** 2 * power, -2 * (1 - t) + 2 * t * power

    def to_dict(self) -> dict:
        return {"kind": "linear"}


def _bt(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample times [batch] shaped to broadcast against the spatial dims of x [batch, *grid]."""
    return t.to(x.dtype).view((-1,) + (1,) * (x.dim() - 1))


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor, path, power: torch.Tensor) -> torch.Tensor:
    """The exact marginal velocity ½ F⁻¹[(dΣ_t/dt / Σ_t) F x] for stationary Gaussian data of power P(k)."""
    dims = tuple(range(1, x.dim()))
    var, dvar = path.gaussian_variance(_bt(t, x), power.to(x.dtype))
    return torch.fft.ifftn(0.5 * dvar / var * torch.fft.fftn(x, dim=dims), dim=dims).real


class VelocityModel(nn.Module):
    """v(x, t) = v_G(x, t) + net(x, t): ``net(x, t)`` shaped like x; v_G the exact velocity of the
    :class:`~qcdgen.diffusion.score.StationaryGaussian` fitted to the data (zero without one)."""

    def __init__(self, net: nn.Module, path, gaussian: StationaryGaussian | None = None):
        super().__init__()
        self.net = net
        self.path = path
        self.gaussian = gaussian

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.net(x, t.to(x.dtype))
        if self.gaussian is not None:
            out = out + gaussian_velocity(x, t, self.path, self.gaussian.power)
        return out


def sample_training_times(n: int, path, generator: torch.Generator, device) -> torch.Tensor:
    """t ~ U(t_min, t_max) of the path, one per sample."""
    lo, hi = path.t_range
    return lo + (hi - lo) * torch.rand(n, generator=generator, device=device)


def cfm_loss(model: VelocityModel, x1: torch.Tensor, generator: torch.Generator, x0: torch.Tensor | None = None,
             ) -> torch.Tensor:
    """Monte Carlo estimate of E ‖v_θ(x_t, t) − u_t‖² per site; x₀ ~ N(0, I) unless given (a coupling)."""
    path = getattr(model, "module", model).path  # unwrap DistributedDataParallel
    if x0 is None:
        x0 = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    t = sample_training_times(len(x1), path, generator, x1.device)
    z = torch.randn(x1.shape, generator=generator, device=x1.device, dtype=x1.dtype)
    xt, target = path.interpolate(x0, x1, t, z)
    return (model(xt, t) - target).pow(2).flatten(1).mean(1).mean()


class VelocityAsSDE(SDE):
    """dx/dt = v(x, t), t: 0 → 1, as the SDE dx = f dτ (g = 0) in τ = 1 − t: f(x, τ) = −v(x, 1 − τ).

    Its probability-flow ODE is the transport ODE itself, so :func:`~qcdgen.diffusion.flow.flow_sample`
    integrates it from the N(0, I) prior at τ = T = 1 to the data at τ = eps = 0 with its log q.
    """

    T, eps = 1.0, 0.0

    def __init__(self, velocity):
        self.velocity = velocity

    def drift(self, x, t):
        return -self.velocity(x, 1 - t)

    def diffusion(self, t):
        return torch.zeros_like(t)

    def prior_std(self) -> float:
        return 1.0

    def to_dict(self) -> dict:
        return {"kind": "velocity"}


def _no_score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


def transport_sample(velocity, shape, steps: int, generator: torch.Generator, device="cpu",
                     divergence: str = "exact", solver: str = "heun", probes: int = 1,
                     dtype=torch.float32) -> FlowSamples:
    """x₀ ~ N(0, I) carried to t = 1 by ``steps`` uniform Euler/Heun steps of dx/dt = v(x, t), with log q(x).

    ``divergence="exact"``: log q of the discrete map (exact; Metropolis is exact); ``"hutchinson"``:
    an unbiased estimate for the continuous flow (see :func:`qcdgen.diffusion.flow.flow_sample`).
    """
    if not (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1):
        raise InputError(f"steps must be an integer >= 1, got {steps!r}")
    return flow_sample(_no_score, VelocityAsSDE(velocity), shape, steps, generator, device, divergence=divergence,
                       solver=solver, probes=probes, dtype=dtype, schedule="uniform")

