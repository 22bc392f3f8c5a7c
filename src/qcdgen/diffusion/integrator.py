"""Fixed-step integrators of dx/dt = v(x, t) and dx = f dt + g dw: one engine for every domain.

Nothing here knows what is integrated: a *field* is a callable ``field(x, t)`` and the state ``x`` is a
tensor (or, for :func:`ode_step` and :func:`odeint`, a list of tensors integrated together). The
lattice samplers (probability-flow ODE, reverse SDE, the trajectory-balance sampler) and the
heavy-ion momentum decoder (flow matching) all step through these functions, so a solver is written,
and tested against exact solutions, once.

One step from t to t + h (``h`` may be negative):

- ``euler``: x' = x + h k₁,  k₁ = v(x, t)                                                   (order 1)
- ``heun``:  x' = x + h/2 (k₁ + k₂),  k₂ = v(x + h k₁, t + h)       (explicit trapezoid, order 2)
- ``rk4``:   x' = x + h/6 (k₁ + 2k₂ + 2k₃ + k₄) with k₂ = v(x + h/2 k₁, t + h/2),
  k₃ = v(x + h/2 k₂, t + h/2), k₄ = v(x + h k₃, t + h)                      (classical Runge–Kutta, order 4)

For dx/dt = a x one step multiplies x by 1 + ah, 1 + ah + (ah)²/2 and Σ_{k ≤ 4} (ah)^k/k!.

The density of what a flow transports needs one more integral along the path:

- :func:`ode_step_with_divergence`: the field also returns a per-sample rate d (tr ∂v/∂x, exact or a
  Hutchinson estimate), integrated by the same rule: h d₁ (Euler) or h/2 (d₁ + d₂) (Heun). This is the
  instantaneous change of variables d log p/dt = −tr ∂v/∂x (Chen et al., NeurIPS 2018).
- :func:`ode_step_with_jacobian`: the field also returns its Jacobian J [batch, D, D]; the step
  returns the exact Jacobian of the discrete map, I + hJ₁ (Euler) or I + h/2 [J₁ + J₂ (I + hJ₁)]
  (Heun), in float64, so log|det| of the *discrete* map can be taken exactly.

:func:`euler_maruyama_step` is x' = x + f h + σ ε, ε ~ N(0, I) from a ``torch.Generator`` (σ = g √|h|
for dx = f dt + g dw; no noise when σ is None, the usual last, "denoising" step).

Times are :class:`Step` records (t, t + h, h) built by :func:`uniform_steps` (t_i = t₀ + i h) or
:func:`grid_steps` (any grid, e.g. a noise schedule). The arithmetic is written out once, in a fixed
order, so every caller gets the same floating-point result on the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from qcdgen.errors import InputError

__all__ = ["SOLVERS", "DENSITY_SOLVERS", "Step", "check_solver", "uniform_steps", "grid_steps", "ode_step",
           "odeint", "ode_step_with_divergence", "ode_step_with_jacobian", "euler_maruyama_step"]

#: solvers of :func:`ode_step` / :func:`odeint`
SOLVERS = ("euler", "heun", "rk4")
#: solvers whose divergence rule and step Jacobian are implemented (the density-tracking steps)
DENSITY_SOLVERS = ("euler", "heun")

Field = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Step:
    """One step from ``t`` to ``t_next`` = t + h; times are tensors (any shape the field takes) or floats."""

    t: Any
    t_next: Any
    h: float


def check_solver(solver: str, allowed: Sequence[str] = SOLVERS) -> None:
    """Refuse a solver name outside ``allowed``."""
    if solver not in allowed:
        raise InputError(f"solver must be one of {tuple(allowed)}, got {solver!r}")


def _check_steps(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"steps must be an integer >= 1, got {n!r}")
    return n


def uniform_steps(n: int, t0: float = 0.0, t1: float = 1.0, *, dtype: torch.dtype | None = None,
                  device=None) -> list[Step]:
    """n equal steps from t0 to t1: h = (t1 − t0)/n, t_i = t0 + i h, t_next = t_i + h.

    With ``dtype`` the times are 0-d tensors (t_next then is t_i + h rounded in that dtype); without,
    Python floats.
    """
    _check_steps(n)
    h = (t1 - t0) / n
    steps = []
    for i in range(n):
        t = t0 + i * h
        if dtype is not None:
            t = torch.full((), t, dtype=dtype, device=device)
        steps.append(Step(t, t + h, h))
    return steps


def grid_steps(times: torch.Tensor, batch: int | None = None, dtype: torch.dtype | None = None) -> list[Step]:
    """Steps along a 1-D grid ``times`` (any order): h = times[i+1] − times[i] as a Python float,
    the times expanded to ``[batch]`` and cast to ``dtype`` when given."""
    if times.dim() != 1 or len(times) < 2:
        raise InputError(f"times must be a 1-D grid of at least 2 points, got shape {tuple(times.shape)}")
    steps = []
    for i in range(len(times) - 1):
        t, t_next = times[i], times[i + 1]
        h = float(t_next - t)
        if batch is not None:
            t, t_next = t.expand(batch), t_next.expand(batch)
        if dtype is not None:
            t, t_next = t.to(dtype), t_next.to(dtype)
        steps.append(Step(t, t_next, h))
    return steps


def _map(fn: Callable, *states):
    """fn over a tensor state, or element-wise over a list of tensors (returns a list)."""
    if isinstance(states[0], torch.Tensor):
        return fn(*states)
    return [fn(*parts) for parts in zip(*states)]


def ode_step(field: Field, x, step: Step, solver: str = "heun", *, constrain: Callable | None = None):
    """One explicit step of dx/dt = field(x, t) (see the module doc for each solver).

    ``constrain`` (e.g. a clamp to a box) is applied to every intermediate state the field is
    evaluated at and to the result; the starting state is taken as it is.
    """
    h = step.h
    keep = constrain if constrain is not None else (lambda y: y)
    k1 = field(x, step.t)
    if solver == "euler":
        x_new = _map(lambda s, a: s + h * a, x, k1)
    elif solver == "heun":
        k2 = field(keep(_map(lambda s, a: s + h * a, x, k1)), step.t_next)
        x_new = _map(lambda s, a, b: s + 0.5 * h * (a + b), x, k1, k2)
    elif solver == "rk4":
        half = h / 2
        t_mid = step.t + half
        k2 = field(keep(_map(lambda s, a: s + half * a, x, k1)), t_mid)
        k3 = field(keep(_map(lambda s, a: s + half * a, x, k2)), t_mid)
        k4 = field(keep(_map(lambda s, a: s + h * a, x, k3)), step.t_next)
        x_new = _map(lambda s, a, b, c, d: s + h / 6 * (a + 2 * b + 2 * c + d), x, k1, k2, k3, k4)
    else:
        check_solver(solver)
    return keep(x_new)


def odeint(field: Field, x, steps: Sequence[Step], solver: str = "heun", *, constrain: Callable | None = None):
    """Integrate dx/dt = field(x, t) over ``steps``; returns the final state."""
    check_solver(solver)
    for step in steps:
        x = ode_step(field, x, step, solver, constrain=constrain)
    return x


def ode_step_with_divergence(field: Field, x: torch.Tensor, step: Step,
                             solver: str = "heun") -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler/Heun step of dx/dt = v and the step's quadrature of a rate d.

    ``field(x, t)`` returns ``(v, d)`` (v like x, d per sample); returns ``(x', h d₁)`` (Euler) or
    ``(x', h/2 (d₁ + d₂))`` (Heun), d₂ taken at the predictor x + h v₁.
    """
    check_solver(solver, DENSITY_SOLVERS)
    h = step.h
    v1, d1 = field(x, step.t)
    if solver == "euler":
        return x + h * v1, h * d1
    v2, d2 = field(x + h * v1, step.t_next)
    return x + 0.5 * h * (v1 + v2), 0.5 * h * (d1 + d2)


def ode_step_with_jacobian(field: Field, x: torch.Tensor, step: Step,
                           solver: str = "heun") -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler/Heun step and the exact Jacobian ∂x'/∂x of the discrete map (float64 [batch, D, D]).

    ``field(x, t)`` returns ``(v, J)``: v like x and J = ∂v/∂x flattened to [batch, D, D], D = x[0].numel().
    """
    check_solver(solver, DENSITY_SOLVERS)
    h = step.h
    v1, j1 = field(x, step.t)
    eye = torch.eye(j1.shape[-1], device=x.device, dtype=torch.float64)
    if solver == "euler":
        return x + h * v1, eye + h * j1.double()
    v2, j2 = field(x + h * v1, step.t_next)
    j1d, j2d = j1.double(), j2.double()
    return x + 0.5 * h * (v1 + v2), eye + 0.5 * h * (j1d + j2d @ (eye + h * j1d))


def euler_maruyama_step(x: torch.Tensor, drift: torch.Tensor, h: float, scale=None,
                        generator: torch.Generator | None = None, noise_dtype: torch.dtype | None = None) -> torch.Tensor:
    """x + drift·h + scale·ε, ε ~ N(0, I) drawn from ``generator`` (dtype ``noise_dtype``, default x's).

    ``drift`` is f evaluated at (x, t); ``scale`` the noise standard deviation of the step (g √|h|,
    a tensor broadcastable to x or a float). ``scale=None`` returns the mean x + drift·h and draws nothing.
    """
    mean = x + drift * h
    if scale is None:
        return mean
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=noise_dtype or x.dtype)
    return mean + scale * noise
