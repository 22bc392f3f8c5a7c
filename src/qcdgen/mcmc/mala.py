"""Metropolis-adjusted Langevin algorithm (MALA), batched over chains.

Proposal x' = x + ε ∇log p(x) + √(2ε) ξ, accepted with probability
min(1, p(x') q(x|x') / (p(x) q(x'|x))), q(y|x) ∝ exp(−‖y − x − ε∇log p(x)‖²/(4ε))
(Roberts & Tweedie, Bernoulli 2 (1996) 341). Every step leaves p invariant, so MALA steps
applied after any sampler move its output towards p and never away from it.
"""

from __future__ import annotations

import torch

from qcdgen.errors import InputError
from qcdgen.mcmc.hmc import HMCState, LogProbAndGrad, _check_finite


class MALA:
    """MALA with one step size shared by all chains (rows of the batch)."""

    def __init__(self, log_prob_and_grad: LogProbAndGrad, step_size: float):
        if not step_size > 0:
            raise InputError(f"MALA step size must be > 0, got {step_size!r}")
        self.fn = log_prob_and_grad
        self.step_size = float(step_size)

    def init(self, position: torch.Tensor) -> HMCState:
        logp, grad = self.fn(position)
        return HMCState(position, logp, grad)

    def _log_q(self, to: torch.Tensor, frm: HMCState) -> torch.Tensor:
        diff = to - frm.position - self.step_size * frm.grad
        return -diff.flatten(1).pow(2).sum(1) / (4 * self.step_size)

    def step(self, state: HMCState, generator: torch.Generator) -> tuple[HMCState, torch.Tensor]:
        """One MALA step per chain; returns the new state and the per-chain acceptance probability."""
        x = state.position
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        proposal = x + self.step_size * state.grad + (2 * self.step_size) ** 0.5 * noise
        logp, grad = self.fn(proposal)
        _check_finite(logp, "MALA log-density")
        new = HMCState(proposal, logp, grad)
        log_ratio = logp + self._log_q(x, new) - state.log_prob - self._log_q(proposal, state)
        prob = torch.exp(log_ratio.clamp(max=0.0))
        u = torch.rand(prob.shape, generator=generator, device=x.device, dtype=prob.dtype)
        accept = u < prob
        view = (-1,) + (1,) * (x.dim() - 1)
        position = torch.where(accept.view(view), proposal, x)
        log_prob = torch.where(accept, logp, state.log_prob)
        grad_new = torch.where(accept.view(view), grad, state.grad)
        return HMCState(position, log_prob, grad_new), prob
