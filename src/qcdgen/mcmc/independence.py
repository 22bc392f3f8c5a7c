"""Independence Metropolis–Hastings: exact sampling of p from proposals drawn from q.

Proposals x_i ~ q are i.i.d.; the chain moves from x to x' with probability
min(1, w(x')/w(x)), w = p/q (Tierney, Ann. Stat. 22 (1994) 1701). Only log w = log p − log q
up to a constant is needed, so an unnormalised e^{−S} is fine. The result is exact for any q
that covers p, and its efficiency is measured by the acceptance and by τ_int of the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
import torch

from qcdgen.errors import InputError, NaNError
from qcdgen.stats import gamma_method


@dataclass
class IndependenceChain:
    """Chain of proposal indices (``index[k]`` is the state after step k) and diagnostics."""

    index: np.ndarray  # int64 [n]
    accepted: np.ndarray  # bool [n]; step 0 is the initial state of each chain (counted as accepted)
    chain: np.ndarray  # int32 [n] chain label of each step
    acceptance: float  # fraction of accepted proposals (initial states excluded)
    acceptance_error: float  # Γ-method error of that fraction (accept/reject runs are correlated)
    importance_ess: float  # (Σw)² / (n Σw²) ∈ (0, 1], the normalised importance-sampling ESS


def importance_ess(log_weights: np.ndarray) -> float:
    """Kish's effective sample size per sample, (Σw)²/(nΣw²), computed stably in log space."""
    lw = np.asarray(log_weights, dtype=np.float64)
    lw = lw - lw.max()
    w = np.exp(lw)
    return float(w.sum() ** 2 / (len(w) * (w ** 2).sum()))


def log_partition_estimate(log_weights) -> tuple[float, float]:
    """log Z = log ⟨w⟩_q with w = e^{−S}/q (importance sampling), and its delta-method error.

    For i.i.d. proposals, Var(log Ẑ) ≈ Var(w) / (n ⟨w⟩²) to leading order in 1/n (computed stably
    in log space); it equals (1/ess − 1)/n with ess the normalised Kish ESS.
    A poor proposal makes this error an underestimate: trust it only when the ESS is not tiny.
    """
    lw = np.asarray(log_weights, dtype=np.float64)
    n = len(lw)
    if n < 2:
        raise InputError(f"log Z needs at least 2 proposals, got {n}")
    if not np.isfinite(lw).all():
        raise NaNError(f"{int((~np.isfinite(lw)).sum())} proposals have a non-finite log-weight")
    top = lw.max()
    w = np.exp(lw - top)
    mean = w.mean()
    var = w.var(ddof=1)
    return float(top + np.log(mean)), float(np.sqrt(var / n) / mean)


def independence_metropolis(log_weights, generator: torch.Generator, chains: int = 1) -> IndependenceChain:
    """Run ``chains`` independent IMH chains over consecutive blocks of the proposals.

    ``log_weights[i] = log p(x_i) − log q(x_i)`` for proposals in the order they were drawn.
    """
    lw = np.asarray(torch.as_tensor(log_weights).detach().cpu().double(), dtype=np.float64)
    n = len(lw)
    if not (isinstance(chains, int) and 1 <= chains <= max(1, n // 2)):
        raise InputError(f"chains must be an integer between 1 and n/2 = {n // 2}, got {chains!r}")
    if np.isnan(lw).any() or np.isposinf(lw).any():
        raise NaNError(f"{int((np.isnan(lw) | np.isposinf(lw)).sum())} proposals have a NaN or +inf "
                       "log-weight log p − log q; the proposal density or the action is broken")
    log_u = np.log(torch.rand(n, generator=generator, dtype=torch.float64,
                              device=generator.device).cpu().numpy())
    bounds = np.linspace(0, n, chains + 1).round().astype(int)
    index = np.empty(n, dtype=np.int64)
    accepted = np.zeros(n, dtype=bool)
    label = np.empty(n, dtype=np.int32)
    for c in range(chains):
        lo, hi = bounds[c], bounds[c + 1]
        current = lo
        index[lo], accepted[lo], label[lo:hi] = lo, True, c
        for i in range(lo + 1, hi):
            if log_u[i] < lw[i] - lw[current]:
                current = i
                accepted[i] = True
            index[i] = current
    steps = np.ones(n, dtype=bool)
    steps[bounds[:-1]] = False  # the initial state of a chain is not a proposal
    acceptance, acceptance_error = _acceptance_estimate(accepted[steps], label[steps])
    return IndependenceChain(index=index, accepted=accepted, chain=label, acceptance=acceptance,
                             acceptance_error=acceptance_error, importance_ess=importance_ess(lw))


def _acceptance_estimate(accepted: np.ndarray, chain: np.ndarray) -> tuple[float, float]:
    """Mean of the accept indicators with a Γ-method error over the chains."""
    if len(accepted) == 0:
        return float("nan"), float("nan")
    x = accepted.astype(np.float64)
    if x.min() == x.max() or len(x) < 4:  # all accepted or all rejected: no fluctuation to measure
        return float(x.mean()), 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains: the window warning is expected
        est = gamma_method(x, replicas=chain)
    return float(est.value), float(est.error)
