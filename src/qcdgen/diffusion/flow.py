"""Probability-flow ODE dx/dt = f(x,t) − ½g(t)² s(x,t): samples with their log-density.

Two uses (Song et al., ICLR 2021, sec. 4.3 and app. D):

- :func:`flow_sample` integrates noise → data and returns log q(x) of each sample.
  With ``divergence="exact"`` the generative map is the *discrete* Euler or Heun map
  itself and log q = log N(x_T) − Σ_k log|det ∂x_{k+1}/∂x_k|, with every step Jacobian
  built exactly (one vector–Jacobian product per site). q is then the exact density of
  what was sampled, so an independence Metropolis–Hastings step against e^{−S} is exact.
  With ``divergence="hutchinson"`` log|det| ≈ h·tr J and tr J ≈ vᵀJv with Rademacher v
  (Hutchinson 1989; Grathwohl et al., FFJORD, ICLR 2019): cheap, unbiased for the
  continuous flow, but then Metropolis is only approximately exact.
- :func:`log_likelihood` integrates data → noise for given x with the instantaneous
  change of variables d log p/dt = −tr ∂F/∂x (Chen et al., NeurIPS 2018), Heun steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qcdgen.diffusion.sampling import ScoreFn, time_grid
from qcdgen.diffusion.sde import SDE
from qcdgen.errors import InputError, NaNError

DIVERGENCES = ("exact", "hutchinson")
SOLVERS = ("euler", "heun")


def ode_drift(score: ScoreFn, sde: SDE, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """F(x, t) = f(x, t) − ½ g(t)² s(x, t)."""
    g2 = (sde.diffusion(t) ** 2).to(x.dtype).view((-1,) + (1,) * (x.dim() - 1))
    return sde.drift(x, t) - 0.5 * g2 * score(x, t)


def drift_and_jacobian(score: ScoreFn, sde: SDE, x: torch.Tensor, t: torch.Tensor):
    """F(x, t) flattened to [batch, V] and its Jacobian [batch, V, V] (V vector–Jacobian products, batched)."""
    n, volume = len(x), x[0].numel()
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        out = ode_drift(score, sde, xg, t).flatten(1)
        basis = torch.eye(volume, device=x.device, dtype=out.dtype).unsqueeze(1).expand(volume, n, volume)
        (rows,) = torch.autograd.grad(out, xg, grad_outputs=basis, is_grads_batched=True)
    return out.detach(), rows.reshape(volume, n, volume).transpose(0, 1)


def drift_and_hutchinson_trace(score: ScoreFn, sde: SDE, x: torch.Tensor, t: torch.Tensor,
                               generator: torch.Generator, probes: int = 1):
    """F(x, t) and an unbiased estimate of tr ∂F/∂x from ``probes`` Rademacher vectors."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        out = ode_drift(score, sde, xg, t)
        trace = torch.zeros(len(x), device=x.device, dtype=torch.float64)
        for k in range(probes):
            v = torch.randint(0, 2, x.shape, generator=generator, device=x.device).to(x.dtype) * 2 - 1
            (vj,) = torch.autograd.grad(out, xg, grad_outputs=v, retain_graph=k < probes - 1)
            trace += (vj * v).flatten(1).sum(1).double() / probes
    return out.detach(), trace


@dataclass
class FlowSamples:
    """Samples x (float32, shape of the request) and log q(x) (float64 [batch])."""

    x: torch.Tensor
    log_q: torch.Tensor
    divergence: str
    solver: str
    steps: int


def _check(divergence: str, solver: str) -> None:
    if divergence not in DIVERGENCES:
        raise InputError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if solver not in SOLVERS:
        raise InputError(f"solver must be one of {SOLVERS}, got {solver!r}")


def _slogdet(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched sign and log|det|. On the CPU through NumPy's LAPACK: torch 2.13's batched MKL
    LU returns garbage (DLASWP errors) for the banded-sparse Jacobians of local networks."""
    if a.device.type != "cpu":
        return torch.linalg.slogdet(a)
    sign, logdet = np.linalg.slogdet(a.detach().numpy())
    return torch.from_numpy(sign), torch.from_numpy(logdet)


def _step_logdet_exact(score, sde, x, t, t_next, h, solver):
    """One Euler/Heun step and log|det| of its exact Jacobian (float64)."""
    f1, j1 = drift_and_jacobian(score, sde, x, t)
    eye = torch.eye(j1.shape[-1], device=x.device, dtype=torch.float64)
    if solver == "euler":
        x_new = x + h * f1.view_as(x)
        jac = eye + h * j1.double()
    else:
        x_pred = x + h * f1.view_as(x)
        f2, j2 = drift_and_jacobian(score, sde, x_pred, t_next)
        x_new = x + 0.5 * h * (f1 + f2).view_as(x)
        j1d, j2d = j1.double(), j2.double()
        jac = eye + 0.5 * h * (j1d + j2d @ (eye + h * j1d))
    sign, logdet = _slogdet(jac)
    if (sign <= 0).any():
        raise NaNError(f"the {solver} map is not orientation-preserving at t={float(t[0]):.4g} "
                       f"({int((sign <= 0).sum())} samples); use more steps")
    return x_new, logdet


def _step_logdet_hutchinson(score, sde, x, t, t_next, h, solver, generator, probes):
    """One Euler/Heun step and h·(average of the traces), the first-order log|det|."""
    f1, tr1 = drift_and_hutchinson_trace(score, sde, x, t, generator, probes)
    if solver == "euler":
        return x + h * f1, h * tr1
    f2, tr2 = drift_and_hutchinson_trace(score, sde, x + h * f1, t_next, generator, probes)
    return x + 0.5 * h * (f1 + f2), 0.5 * h * (tr1 + tr2)


def flow_sample(score: ScoreFn, sde: SDE, shape, steps: int, generator: torch.Generator, device="cpu",
                divergence: str = "exact", solver: str = "heun", probes: int = 1,
                dtype=torch.float32, schedule: str = "edm") -> FlowSamples:
    """Sample by the probability-flow ODE from the N(0, σ_T²) prior and return log q of each sample."""
    _check(divergence, solver)
    times = time_grid(sde, steps, device, schedule)
    x = sde.prior_sample(shape, generator, device, dtype)
    log_q = sde.prior_log_prob(x.double())
    n = shape[0]
    for i in range(steps):
        t, t_next = times[i].expand(n).to(dtype), times[i + 1].expand(n).to(dtype)
        h = float(times[i + 1] - times[i])
        if divergence == "exact":
            x, logdet = _step_logdet_exact(score, sde, x, t, t_next, h, solver)
        else:
            x, logdet = _step_logdet_hutchinson(score, sde, x, t, t_next, h, solver, generator, probes)
        log_q = log_q - logdet
    x = x.detach()
    if not (torch.isfinite(x).all() and torch.isfinite(log_q).all()):
        raise NaNError("probability-flow sampling produced non-finite samples or log q; "
                       "try more steps or check the model")
    return FlowSamples(x=x, log_q=log_q.detach(), divergence=divergence, solver=solver, steps=steps)


def log_likelihood(score: ScoreFn, sde: SDE, x: torch.Tensor, steps: int = 100,
                   divergence: str = "exact", generator: torch.Generator | None = None,
                   probes: int = 1, prior_log_prob=None) -> torch.Tensor:
    """log p₀(x) from the continuous probability-flow ODE, integrated eps → T with Heun steps.

    log p₀(x) = log p_T(x_T) + ∫_eps^T tr ∂F/∂x dt (instantaneous change of variables).
    p_T is the SDE's Gaussian prior unless ``prior_log_prob`` (x_T -> [batch]) is given: the
    prior is only an approximation of the true p_T (for VE, data variance ≪ s(T)²).
    """
    _check(divergence, "heun")
    if divergence == "hutchinson" and generator is None:
        raise InputError("the Hutchinson estimator needs a torch.Generator for its probe vectors")
    times = time_grid(sde, steps, x.device, "edm").flip(0)
    n = len(x)
    total = torch.zeros(n, device=x.device, dtype=torch.float64)

    def drift_trace(y, t):
        if divergence == "exact":
            f, jac = drift_and_jacobian(score, sde, y, t)
            return f.view_as(y), jac.diagonal(dim1=1, dim2=2).sum(1).double()
        return drift_and_hutchinson_trace(score, sde, y, t, generator, probes)

    for i in range(steps):
        t, t_next = times[i].expand(n).to(x.dtype), times[i + 1].expand(n).to(x.dtype)
        h = float(times[i + 1] - times[i])
        f1, tr1 = drift_trace(x, t)
        f2, tr2 = drift_trace(x + h * f1, t_next)
        x = (x + 0.5 * h * (f1 + f2)).detach()
        total = total + 0.5 * h * (tr1 + tr2)
    prior = sde.prior_log_prob if prior_log_prob is None else prior_log_prob
    return prior(x.double()) + total

