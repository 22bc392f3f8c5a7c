"""Probability-flow ODE dx/dt = f(x,t) − ½g(t)² s(x,t): samples with their log-density.

Two uses (Song et al., ICLR 2021, sec. 4.3 and app. D):

- :func:`flow_sample` integrates noise → data and returns log q(x) of each sample.
  With ``divergence="exact"`` the generative map is the *discrete* Euler or Heun map
  itself and log q = log N(x_T) − Σ_k log|det ∂x_{k+1}/∂x_k|, with every step Jacobian
  built exactly (one vector–Jacobian product per site, or per colour for a local network:
  :func:`drift_and_jacobian`). q is then the exact density of
  what was sampled, so an independence Metropolis–Hastings step against e^{−S} is exact.
  With ``divergence="hutchinson"`` log|det| ≈ h·tr J and tr J ≈ vᵀJv with Rademacher v
  (Hutchinson 1989; Grathwohl et al., FFJORD, ICLR 2019): cheap, unbiased for the
  continuous flow, but then Metropolis is only approximately exact.
- :func:`log_likelihood` integrates data → noise for given x with the instantaneous
  change of variables d log p/dt = −tr ∂F/∂x (Chen et al., NeurIPS 2018), Heun steps.

The steps, their divergence quadrature and the step Jacobians are those of the shared integrator
(:mod:`qcdgen.diffusion.integrator`); this module supplies the field F and its derivatives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from qcdgen.diffusion.integrator import (DENSITY_SOLVERS, check_solver, grid_steps, ode_step_with_divergence,
                                        ode_step_with_jacobian)
from qcdgen.diffusion.jacobian_colouring import local_jacobian, probe_count
from qcdgen.diffusion.sampling import ScoreFn, time_grid
from qcdgen.diffusion.score import ScoreModel
from qcdgen.diffusion.sde import SDE
from qcdgen.errors import InputError, NaNError

DIVERGENCES = ("exact", "hutchinson")
SOLVERS = DENSITY_SOLVERS


def ode_drift(score: ScoreFn, sde: SDE, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """F(x, t) = f(x, t) − ½ g(t)² s(x, t)."""
    g2 = (sde.diffusion(t) ** 2).to(x.dtype).view((-1,) + (1,) * (x.dim() - 1))
    return sde.drift(x, t) - 0.5 * g2 * score(x, t)


def local_radius(score: ScoreFn, shape) -> int | None:
    """The receptive radius r of ``score``'s network if the colouring path applies and saves work, else None.

    Applies to a :class:`ScoreModel` s = s_G + net/s(t) whose ``net`` declares ``receptive_radius``: the
    network's Jacobian is then banded and costs :func:`probe_count` VJPs instead of V."""
    radius = getattr(getattr(score, "net", None), "receptive_radius", None)
    if not isinstance(score, ScoreModel) or radius is None:
        return None
    return radius if probe_count(tuple(shape), radius) < math.prod(shape) else None


def _linear_jacobian(score: ScoreModel, sde: SDE, t: torch.Tensor, volume: int, shape, dtype) -> torch.Tensor:
    """∂/∂x of f(x, t) − ½g² s_G(x, t) [batch, V, V]: c(t)·I plus the circulant Jacobian of the Gaussian score."""
    n = len(t)
    jac = torch.diag_embed(sde.drift_jacobian_diagonal(t).to(dtype).view(n, 1).expand(n, volume)).clone()
    if score.gaussian is not None:
        if not bool((t == t[0]).all()):
            raise InputError("the coloured exact Jacobian needs one time per batch")
        basis = torch.eye(volume, dtype=dtype, device=t.device).view(volume, *shape)
        t0 = t[:1].expand(volume)
        cols = score.gaussian.score(basis, sde.mean_coeff(t0), sde.marginal_std(t0)).reshape(volume, volume)
        g2 = float(sde.diffusion(t[:1]) ** 2)
        jac = jac - 0.5 * g2 * cols.T.to(dtype).unsqueeze(0)
    return jac


def drift_and_jacobian(score: ScoreFn, sde: SDE, x: torch.Tensor, t: torch.Tensor, colouring: bool = True):
    """F(x, t) flattened to [batch, V] and its Jacobian [batch, V, V], exact either way.

    By default V vector–Jacobian products (batched). For a :class:`ScoreModel` whose network is local with
    receptive radius r (:func:`local_radius`), the network part costs one VJP per colour
    (:mod:`qcdgen.diffusion.jacobian_colouring`, (2r + 1)^d when 2r + 1 divides L) and the linear parts,
    c(t)·I and the Gaussian score's circulant, are built directly. ``colouring=False`` forces V VJPs."""
    n, volume = len(x), x[0].numel()
    radius = local_radius(score, x.shape[1:]) if colouring else None
    if radius is not None:
        view = (-1,) + (1,) * (x.dim() - 1)
        g2 = (sde.diffusion(t) ** 2).to(x.dtype).view(view)
        std = sde.marginal_std(t)

        def network_part(y):
            return -0.5 * g2 * score.net(y, torch.log(std)) / std.view(view)

        out, jac = local_jacobian(network_part, x, radius)
        linear = sde.drift(x, t)
        if score.gaussian is not None:
            linear = linear - 0.5 * g2 * score.gaussian.score(x, sde.mean_coeff(t), std)
        jac = jac + _linear_jacobian(score, sde, t, volume, x.shape[1:], jac.dtype)
        return (out + linear.flatten(1)).detach(), jac
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
    check_solver(solver, SOLVERS)


def _slogdet(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched sign and log|det|. On the CPU through NumPy's LAPACK: torch 2.13's batched MKL
    LU returns garbage (DLASWP errors) for the banded-sparse Jacobians of local networks."""
    if a.device.type != "cpu":
        return torch.linalg.slogdet(a)
    sign, logdet = np.linalg.slogdet(a.detach().numpy())
    return torch.from_numpy(sign), torch.from_numpy(logdet)


def _jacobian_field(score: ScoreFn, sde: SDE, colouring: bool = True):
    """F and its Jacobian as an integrator field: (x, t) -> (F like x, ∂F/∂x [batch, V, V])."""
    def field(x, t):
        f, jac = drift_and_jacobian(score, sde, x, t, colouring)
        return f.view_as(x), jac
    return field


def _trace_field(score: ScoreFn, sde: SDE, generator: torch.Generator, probes: int):
    """F and a Hutchinson estimate of tr ∂F/∂x as an integrator field."""
    return lambda x, t: drift_and_hutchinson_trace(score, sde, x, t, generator, probes)


def _orientation_checked_logdet(jac: torch.Tensor, solver: str, t: torch.Tensor) -> torch.Tensor:
    """log|det| of a step Jacobian; a step that flips orientation is refused."""
    sign, logdet = _slogdet(jac)
    if (sign <= 0).any():
        raise NaNError(f"the {solver} map is not orientation-preserving at t={float(t[0]):.4g} "
                       f"({int((sign <= 0).sum())} samples); use more steps")
    return logdet


def flow_sample(score: ScoreFn, sde: SDE, shape, steps: int, generator: torch.Generator, device="cpu",
                divergence: str = "exact", solver: str = "heun", probes: int = 1,
                dtype=torch.float32, schedule: str = "edm", colouring: bool = True) -> FlowSamples:
    """Sample by the probability-flow ODE from the N(0, σ_T²) prior and return log q of each sample.
    ``colouring``: build exact step Jacobians of a local network from one VJP per colour (same result)."""
    _check(divergence, solver)
    times = time_grid(sde, steps, device, schedule)
    x = sde.prior_sample(shape, generator, device, dtype)
    log_q = sde.prior_log_prob(x.double())
    if divergence == "exact":
        field = _jacobian_field(score, sde, colouring)
    else:
        field = _trace_field(score, sde, generator, probes)
    for step in grid_steps(times, shape[0], dtype):
        if divergence == "exact":
            x, jac = ode_step_with_jacobian(field, x, step, solver)
            logdet = _orientation_checked_logdet(jac, solver, step.t)
        else:  # h·(average of the traces): the first-order log|det|
            x, logdet = ode_step_with_divergence(field, x, step, solver)
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

    for step in grid_steps(times, n, x.dtype):
        x, increment = ode_step_with_divergence(drift_trace, x, step, "heun")
        x = x.detach()
        total = total + increment
    prior = sde.prior_log_prob if prior_log_prob is None else prior_log_prob
    return prior(x.double()) + total

