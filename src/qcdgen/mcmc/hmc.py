"""Hybrid (Hamiltonian) Monte Carlo over any differentiable log-density, batched over chains.

Duane, Kennedy, Pendleton & Roweth, Phys. Lett. B 195 (1987) 216. A sampler is a pair of
pure-ish functions over a state (blackjax style): :meth:`HMC.init` and :meth:`HMC.step`.
Each row of the batch is an independent chain with its own accept/reject; all chains share
one step size. The engine knows nothing about lattices: it takes a callable returning
``(log p(x), ∇ log p(x))`` per chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from qcdgen.errors import InputError, NaNError
from qcdgen.mcmc.integrators import GRADIENTS_PER_STEP, Phase, get_integrator
from qcdgen.mcmc.kinetic import EuclideanKinetic

LogProbAndGrad = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def autograd_log_prob_and_grad(log_prob: Callable[[torch.Tensor], torch.Tensor]) -> LogProbAndGrad:
    """Wrap a log-density with no analytic gradient; the gradient comes from autograd."""

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            logp = log_prob(x)
            (grad,) = torch.autograd.grad(logp.sum(), x)
        return logp.detach(), grad

    return fn


@dataclass
class HMCState:
    """Positions of all chains with their cached log-density and gradient."""

    position: torch.Tensor  # [chains, *event_shape]
    log_prob: torch.Tensor  # [chains]
    grad: torch.Tensor  # [chains, *event_shape]


@dataclass
class HMCInfo:
    """Per-chain diagnostics of one trajectory."""

    accepted: torch.Tensor  # bool [chains]
    delta_h: torch.Tensor  # H_final − H_initial [chains]
    acceptance_prob: torch.Tensor  # min(1, e^{−ΔH}) [chains]


class HMC:
    """HMC with trajectory length τ = n_steps · step_size.

    Parameters
    ----------
    log_prob_and_grad : x ↦ (log p(x) [chains], ∇ log p(x) [chains, ...]).
    step_size : requested integrator step ε (the tuned quantity).
    trajectory_length : τ, kept exact: ``n_steps = ⌈τ/ε⌉`` and the step used is ``dt = τ/n_steps``.
    integrator : ``"leapfrog"`` or ``"omelyan"``.
    kinetic : :class:`EuclideanKinetic` (default) or :class:`FourierKinetic`.
    """

    def __init__(self, log_prob_and_grad: LogProbAndGrad, step_size: float = 0.1,
                 trajectory_length: float = 1.0, integrator: str = "omelyan", kinetic=None):
        if not step_size > 0 or not math.isfinite(step_size):
            raise InputError(f"step size must be a finite number > 0, got {step_size!r}")
        if not trajectory_length > 0:
            raise InputError(f"trajectory length must be > 0, got {trajectory_length!r}")
        self.fn = log_prob_and_grad
        self.integrator_name = integrator
        self.integrate = get_integrator(integrator)
        self.kinetic = kinetic if kinetic is not None else EuclideanKinetic()
        self.trajectory_length = float(trajectory_length)
        self.step_size = float(step_size)

    @property
    def n_steps(self) -> int:
        """Integer number of steps, ⌈τ/ε⌉ for the requested step size ε."""
        return max(1, math.ceil(self.trajectory_length / self.step_size - 1e-9))

    @property
    def dt(self) -> float:
        """The step actually integrated, τ/n ≤ ε: every trajectory has exactly length τ."""
        return self.trajectory_length / self.n_steps

    @property
    def gradients_per_trajectory(self) -> int:
        return GRADIENTS_PER_STEP[self.integrator_name] * self.n_steps

    def init(self, position: torch.Tensor) -> HMCState:
        logp, grad = self.fn(position)
        _check_finite(logp, "log-density at the initial position")
        return HMCState(position, logp, grad)

    def hamiltonian(self, log_prob: torch.Tensor, momentum: torch.Tensor) -> torch.Tensor:
        return -log_prob + self.kinetic.energy(momentum)

    def trajectory(self, state: HMCState, momentum: torch.Tensor) -> Phase:
        """Integrate from (x, π) for one trajectory; no accept/reject (used by reversibility tests)."""
        phase = Phase(state.position, momentum, state.log_prob, state.grad)
        return self.integrate(phase, self.fn, self.kinetic.velocity, self.dt, self.n_steps)

    def step(self, state: HMCState, generator: torch.Generator) -> tuple[HMCState, HMCInfo]:
        """One trajectory and a Metropolis accept/reject for every chain independently."""
        momentum = self.kinetic.sample(state.position, generator)
        h_old = self.hamiltonian(state.log_prob, momentum)
        end = self.trajectory(state, momentum)
        delta_h = self.hamiltonian(end.log_prob, end.momentum) - h_old
        # A diverged trajectory (NaN/inf energy) is rejected, not averaged: ΔH = +inf.
        delta_h = torch.where(torch.isfinite(delta_h), delta_h, torch.full_like(delta_h, math.inf))
        accept_prob = torch.exp(torch.clamp(-delta_h, max=0.0))
        uniform = torch.rand(delta_h.shape, dtype=delta_h.dtype, device=delta_h.device, generator=generator)
        accepted = uniform < accept_prob
        mask = accepted.reshape((-1,) + (1,) * (state.position.dim() - 1))
        new = HMCState(
            position=torch.where(mask, end.position, state.position),
            log_prob=torch.where(accepted, end.log_prob, state.log_prob),
            grad=torch.where(mask, end.grad, state.grad),
        )
        return new, HMCInfo(accepted, delta_h, accept_prob)


class DualAveraging:
    """Step-size adaptation towards a target acceptance (Nesterov 2009; Hoffman & Gelman,
    JMLR 15 (2014) 1593, Alg. 5), driven by the mean Metropolis probability over chains.

    log ε_t = μ − √t/γ · H̄_t,  H̄_t = (1 − 1/(t+t₀)) H̄_{t−1} + (δ − α_t)/(t+t₀);
    the final step size is the averaged exp(log ε̄).
    """

    def __init__(self, initial_step_size: float, target: float = 0.8, gamma: float = 0.05,
                 t0: float = 10.0, kappa: float = 0.75):
        if not 0.0 < target < 1.0:
            raise InputError(f"target acceptance must be in (0, 1), got {target!r}")
        self.mu = math.log(10.0 * initial_step_size)
        self.target, self.gamma, self.t0, self.kappa = target, gamma, t0, kappa
        self.t = 0
        self.h_bar = 0.0
        self.log_step = math.log(initial_step_size)
        self.log_step_avg = math.log(initial_step_size)

    def update(self, acceptance: float) -> float:
        """Feed the mean acceptance probability of the last trajectory; returns the next step size."""
        self.t += 1
        eta = 1.0 / (self.t + self.t0)
        self.h_bar = (1.0 - eta) * self.h_bar + eta * (self.target - acceptance)
        self.log_step = self.mu - math.sqrt(self.t) / self.gamma * self.h_bar
        weight = self.t ** (-self.kappa)
        self.log_step_avg = weight * self.log_step + (1.0 - weight) * self.log_step_avg
        return math.exp(self.log_step)

    @property
    def final_step_size(self) -> float:
        return math.exp(self.log_step_avg)

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)


def _check_finite(x: torch.Tensor, what: str) -> None:
    bad = (~torch.isfinite(x)).sum().item()
    if bad:
        raise NaNError(f"{bad} non-finite value(s) in the {what}")
