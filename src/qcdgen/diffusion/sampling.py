"""Reverse-time samplers: Euler–Maruyama and predictor–corrector (Song et al., ICLR 2021).

The reverse SDE is dx = [f(x,t) − g(t)² s(x,t)] dt + g(t) dw̄, integrated from t = T to
t = eps on a uniform (or EDM) time grid by the Euler–Maruyama step of
:mod:`qcdgen.diffusion.integrator`. The last step returns the noise-free mean (the usual
"denoise" step). For a density of the samples, use :mod:`qcdgen.diffusion.flow`.
"""

from __future__ import annotations

from typing import Callable

import torch

from qcdgen.diffusion.integrator import euler_maruyama_step, grid_steps
from qcdgen.diffusion.sde import SDE
from qcdgen.errors import InputError, NaNError

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


SCHEDULES = ("uniform", "edm")


def time_grid(sde: SDE, steps: int, device, schedule: str = "uniform", rho: float = 7.0) -> torch.Tensor:
    """steps + 1 times from T down to eps (float64).

    ``uniform`` is uniform in t; ``edm`` is uniform in σ(t)^{1/ρ} with σ = s/a the noise-to-signal
    ratio, which puts most steps at low noise where the score varies fastest (Karras, Aittala,
    Aila & Laine, NeurIPS 2022, eq. 5).
    """
    if not (isinstance(steps, int) and steps >= 1):
        raise InputError(f"steps must be an integer >= 1, got {steps!r}")
    if schedule not in SCHEDULES:
        raise InputError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "uniform":
        return torch.linspace(sde.T, sde.eps, steps + 1, device=device, dtype=torch.float64)
    ends = sde.noise_ratio(torch.tensor([sde.T, sde.eps], dtype=torch.float64))
    u = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    ratio = (ends[0] ** (1 / rho) + u * (ends[1] ** (1 / rho) - ends[0] ** (1 / rho))) ** rho
    times = sde.time_of_noise_ratio(ratio)
    times[0], times[-1] = sde.T, sde.eps  # exact ends despite round-off
    return times.to(device)


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.dtype).view((-1,) + (1,) * (x.dim() - 1))


def langevin_corrector(score: ScoreFn, sde: SDE, x: torch.Tensor, t: torch.Tensor, generator,
                       snr: float, steps: int) -> torch.Tensor:
    """Annealed Langevin steps at fixed t, ε = 2 a(t)² (snr ‖z‖/‖s‖)² (Song et al., alg. 4/5).

    The norms are batch averages: a step size that depended on each sample's own noise
    draw would bias the Langevin chain.
    """
    alpha = _bcast(sde.mean_coeff(t) ** 2, x)
    for _ in range(steps):
        s = score(x, t)
        z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        s_norm = s.flatten(1).norm(dim=1).mean()
        z_norm = z.flatten(1).norm(dim=1).mean()
        step = 2 * (snr * z_norm / s_norm.clamp_min(1e-12)) ** 2 * alpha
        x = x + step * s + torch.sqrt(2 * step) * z
    return x


@torch.no_grad()
def reverse_sde_sample(score: ScoreFn, sde: SDE, shape, steps: int, generator: torch.Generator,
                       device="cpu", corrector_steps: int = 0, snr: float = 0.16,
                       dtype=torch.float32, schedule: str = "uniform") -> torch.Tensor:
    """Euler–Maruyama on the reverse SDE; with ``corrector_steps > 0`` a predictor–corrector sampler."""
    times = time_grid(sde, steps, device, schedule)
    x = sde.prior_sample(shape, generator, device, dtype)
    n = shape[0]
    for i, step in enumerate(grid_steps(times, n, dtype)):
        tt, dt = step.t, step.h  # dt < 0
        if corrector_steps:
            x = langevin_corrector(score, sde, x, tt, generator, snr, corrector_steps)
        g = _bcast(sde.diffusion(tt), x)
        drift = sde.drift(x, tt) - g ** 2 * score(x, tt)
        scale = None if i == steps - 1 else g * abs(dt) ** 0.5  # the last step returns the mean
        x = euler_maruyama_step(x, drift, dt, scale, generator, noise_dtype=dtype)
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
        raise NaNError(f"reverse SDE produced non-finite values in {bad} of {n} samples; "
                       "try more steps or check the model")
    return x
