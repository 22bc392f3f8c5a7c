"""Tunnelling of the signed magnetisation in the broken phase of φ⁴: who moves between the ±|M| sectors?

In the broken phase the distribution of M = (1/V) Σ_x φ(x) has two peaks at ±⟨|M|⟩ separated by a
barrier whose height grows like the interface free energy 2σL^{d−1}. Local and Hamiltonian updates
(HMC, Fourier-accelerated HMC) cross it at a rate ∝ e^{−2σL^{d−1}}; a sampler whose proposals cover both
sectors (a Z₂-equivariant flow, a diffusion model with an odd score) followed by an exact Metropolis
step does not have to cross it. This module measures that, with plain result objects (no printing):

- :func:`sector_flips`: mean time between sector flips of a signed-M series ``[time, chains]``, with a
  hysteresis band ±m_c (default m_c = ½⟨|M|⟩): the sector changes only when M goes from below −m_c to
  above +m_c or back, so fluctuations around M = 0 are not counted as flips. m_c = ½⟨|M|⟩ sits half
  way between the barrier top (M = 0) and the peaks: a chain that wanders near M = 0 and returns is
  not counted, one that settles in the other peak always is. Pass one m_c for all samplers (the
  benchmark takes ½⟨|M|⟩ of FA-HMC) so their flip times compare. The error is Poisson's
  (T/n ± T/n^{3/2} for n flips in total time T; the hysteresis removes the quick re-crossings that
  would make flips cluster); with fewer than ``min_flips`` flips the result is reported as a 95 % CL
  lower bound on the mean flip time.
- :func:`signed_m_autocorrelation`: τ_int of the signed M by the Γ method over chains
  (:func:`qcdgen.stats.gamma_method`), with ⟨M⟩, ⟨|M|⟩, ⟨M²⟩ and a flag when no window was found
  (then τ_int is an underestimate; :func:`telegraph_tau` gives the estimate from the flip time).
- :func:`hmc_signed_m`: batched HMC or FA-HMC chains (step size tuned by dual averaging during the
  thermalisation, as :mod:`qcdgen.lattice.hmc_ensemble` does, then frozen), M after every trajectory.
- :func:`hybrid_signed_m`: an exact hybrid chain alternating ``k`` FA-HMC trajectories with one
  independence-Metropolis step on a fresh proposal per chain (accepted with min(1, w'/w),
  w = e^{−S}/q). Each kernel leaves p ∝ e^{−S} invariant, so their composition does.
- :func:`imh_signed_m`: proposals of a trained sampler (flow, diffusion) corrected by independence
  Metropolis (:func:`qcdgen.lattice.metropolis.metropolis_correct`), M along the corrected chains.
- :func:`cost_per_independent`: seconds per step × 2τ_int, optionally with the training time amortised
  over N configurations, (train_seconds/N + seconds per step) × 2τ_int.
- :func:`analyse_series`: everything above for one :class:`SignedMSeries`, as a :class:`TunnellingRow`.
- :func:`fit_exponential`, :func:`crossing_size`: flip times and costs against L, e^{a + bL}, and the L
  at which one cost overtakes another by a given factor.

``benchmarks/bench_phi4_tunnelling.py`` runs the study and prints the tables.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats as scipy_stats

from qcdgen.errors import InputError, NaNError
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.observables import magnetisation
from qcdgen.mcmc import HMC, DualAveraging, FourierKinetic
from qcdgen.runtime import make_generator, progress_bar, resolve_device
from qcdgen.stats import Estimate, gamma_method

HYSTERESIS_FRACTION = 0.5  # m_c = HYSTERESIS_FRACTION · ⟨|M|⟩
MIN_FLIPS = 5  # below this many flips the mean flip time is reported as a lower bound
CONFIDENCE = 0.95  # confidence level of that bound


# ----------------------------------------------------------------------------- sector flips
@dataclass(frozen=True)
class FlipStatistics:
    """Sector flips of a signed-M series (times in steps of the series).

    ``mean_time`` = ``time``/``flips`` (inf without flips) with Poisson error ``mean_time``/√flips;
    ``lower_bound`` is the one-sided ``CONFIDENCE`` lower bound on the mean time between flips
    (Poisson upper limit on the rate); ``is_bound`` is True when fewer than ``MIN_FLIPS`` flips were
    seen, and then the bound, not the mean, is the result to quote.
    """

    flips: int
    time: float  # observed steps summed over chains
    threshold: float  # m_c of the hysteresis band
    mean_time: float
    error: float
    lower_bound: float
    is_bound: bool
    flips_per_chain: tuple = ()

    @property
    def rate(self) -> float:
        return self.flips / self.time if self.time > 0 else math.nan

    def to_dict(self) -> dict:
        return {"flips": self.flips, "time": self.time, "threshold": self.threshold, "mean_time": self.mean_time,
                "error": self.error, "lower_bound": self.lower_bound, "is_bound": self.is_bound,
                "flips_per_chain": list(self.flips_per_chain)}


def _as_series(m) -> np.ndarray:
    """A signed-M series as a float64 array ``[time, chains]`` (1-D input: one chain)."""
    arr = np.asarray(torch.as_tensor(m).detach().cpu().double() if isinstance(m, torch.Tensor) else m,
                     dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise InputError(f"the signed-M series must have shape [time >= 2, chains >= 1], got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise NaNError(f"{int((~np.isfinite(arr)).sum())} non-finite values in the signed-M series")
    return arr


def sectors(m, threshold: float) -> np.ndarray:
    """Sector ±1 of every step with hysteresis: +1 after M > m_c, −1 after M < −m_c, the previous
    sector while |M| ≤ m_c, and 0 before a chain first leaves the band. Shape of ``m`` ([time, chains])."""
    arr = _as_series(m)
    if not threshold >= 0:
        raise InputError(f"the hysteresis threshold m_c must be >= 0, got {threshold!r}")
    raw = np.where(arr > threshold, 1, np.where(arr < -threshold, -1, 0)).astype(np.int8)
    # forward fill the last nonzero sector along time (index of the last nonzero entry so far)
    idx = np.where(raw != 0, np.arange(len(raw))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = np.take_along_axis(raw, idx, axis=0)
    return out


def sector_flips(m, threshold: float | None = None, fraction: float = HYSTERESIS_FRACTION,
                 min_flips: int = MIN_FLIPS, confidence: float = CONFIDENCE) -> FlipStatistics:
    """Count sector flips of ``m`` ([time, chains] or [time]) with the hysteresis band ±``threshold``.

    ``threshold`` defaults to ``fraction`` · ⟨|M|⟩ of the series itself; pass the same m_c (e.g. from a
    reference ensemble) to compare samplers. The mean time between flips is the total observed time
    (steps summed over chains) over the number of flips: the maximum-likelihood estimate for flips
    as a Poisson process, with relative error 1/√flips.
    """
    arr = _as_series(m)
    if threshold is None:
        if not 0 <= fraction < 1:
            raise InputError(f"the hysteresis fraction must be in [0, 1), got {fraction!r}")
        threshold = fraction * float(np.abs(arr).mean())
    sec = sectors(arr, threshold)
    changes = (sec[1:] != sec[:-1]) & (sec[:-1] != 0)
    per_chain = tuple(int(c) for c in changes.sum(0))
    flips = int(sum(per_chain))
    total = float((arr.shape[0] - 1) * arr.shape[1])
    # one-sided Poisson upper limit on the expected number of flips: χ²_{c}(2(n+1))/2
    upper = 0.5 * float(scipy_stats.chi2.ppf(confidence, 2 * (flips + 1)))
    lower_bound = total / upper
    if flips:
        mean, err = total / flips, total / flips ** 1.5
    else:
        mean, err = math.inf, math.nan
    return FlipStatistics(flips=flips, time=total, threshold=float(threshold), mean_time=mean, error=err,
                          lower_bound=lower_bound, is_bound=flips < min_flips, flips_per_chain=per_chain)


def telegraph_tau(flip_time: float, abs_m: float, m2: float) -> float:
    """τ_int(M) of a telegraph process that flips sector every ``flip_time`` steps on average.

    With flip probability p = 1/τ_f per step, ρ(t) = (1 − 2p)^t for the sign, so τ_int(sign) =
    1/(2p) − ½; M = sign · |M| with fast |M| fluctuations scales the correlated part by ⟨|M|⟩²/⟨M²⟩.
    A lower bound on τ_f gives an estimate (not a strict bound) of how large τ_int(M) is at least.
    """
    if not (flip_time > 0 and m2 > 0):
        return math.nan
    if math.isinf(flip_time):
        return math.inf
    return max(0.5, (0.5 * flip_time - 0.5) * abs_m ** 2 / m2)


# ----------------------------------------------------------------------------- τ_int of signed M
@dataclass(frozen=True)
class SignedMStatistics:
    """Γ-method analysis of a signed-M series over chains (times in steps of the series)."""

    tau_int: Estimate  # value τ_int(M), error δτ_int
    window_found: bool  # False: chains too short for their autocorrelation, τ_int underestimated
    samples: int  # steps summed over chains
    m: Estimate  # ⟨M⟩ (0 by symmetry)
    abs_m: Estimate  # ⟨|M|⟩
    m2: Estimate  # ⟨M²⟩

    @property
    def n_independent(self) -> float:
        """N / (2 τ_int(M))."""
        return self.samples / (2.0 * self.tau_int.value) if self.tau_int.value > 0 else math.nan

    def to_dict(self) -> dict:
        return {"tau_int": self.tau_int.to_dict(), "window_found": self.window_found, "samples": self.samples,
                "n_independent": self.n_independent, "m": self.m.to_dict(), "abs_m": self.abs_m.to_dict(),
                "m2": self.m2.to_dict()}


def _gamma_over_chains(arr: np.ndarray) -> tuple[Estimate, bool]:
    """Γ method on a [time, chains] series with chains as replicas; (estimate, window found)."""
    labels = np.repeat(np.arange(arr.shape[1]), arr.shape[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = gamma_method(arr.T.reshape(-1), replicas=labels)
    found = not any("window" in str(w.message).lower() for w in caught)
    return est, found


def signed_m_autocorrelation(m) -> SignedMStatistics:
    """τ_int of the signed M and the M moments of ``m`` ([time, chains] or [time]) by the Γ method."""
    arr = _as_series(m)
    est, found = _gamma_over_chains(arr)
    abs_m, _ = _gamma_over_chains(np.abs(arr))
    m2, _ = _gamma_over_chains(arr ** 2)
    tau = Estimate(est.tau_int, est.tau_int_error)
    return SignedMStatistics(tau_int=tau, window_found=found, samples=int(arr.size),
                             m=Estimate(est.value, est.error, est.tau_int, est.tau_int_error),
                             abs_m=abs_m, m2=m2)


# ----------------------------------------------------------------------------- cost
def cost_per_independent(seconds_per_step: float, tau_int: float, tau_int_error: float = 0.0,
                         train_seconds: float = 0.0, amortise_over: float | None = None) -> Estimate:
    """Seconds per independent configuration of M: (train_seconds/N + seconds per step) × 2τ_int.

    ``seconds_per_step``: wall time of one step of one chain (one proposal, one trajectory, one
    hybrid cycle); ``amortise_over``: the N configurations the training is shared by (None: no
    training counted). The error propagates δτ_int only.
    """
    if not seconds_per_step >= 0:
        raise InputError(f"seconds per step must be >= 0, got {seconds_per_step!r}")
    per_step = seconds_per_step
    if amortise_over is not None:
        if not amortise_over > 0:
            raise InputError(f"the number of configurations to amortise over must be > 0, got {amortise_over!r}")
        per_step = per_step + train_seconds / amortise_over
    return Estimate(2.0 * tau_int * per_step, 2.0 * tau_int_error * per_step)


# ----------------------------------------------------------------------------- series from samplers
@dataclass
class SignedMSeries:
    """The signed M of one sampler's chains, ``m`` [steps, chains], and what one step cost.

    ``seconds_per_step`` is the wall time per step of one chain (batch wall time / chains);
    ``train_seconds`` the training time of a trained sampler (0 for HMC).
    """

    name: str
    m: np.ndarray
    seconds_per_step: float
    acceptance: float
    acceptance_error: float = math.nan
    train_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.m.shape[0])

    @property
    def chains(self) -> int:
        return int(self.m.shape[1])


def _tuned_hmc(action: Phi4Action, fourier: bool, integrator: str, trajectory_length: float,
               step_size: float, device) -> HMC:
    kinetic = FourierKinetic(action.fourier_acceleration_kernel(device=device)) if fourier else None
    return HMC(lambda x: (action.log_prob(x), action.force(x)), step_size=step_size,
               trajectory_length=trajectory_length, integrator=integrator, kinetic=kinetic)


def _check_field(state_position: torch.Tensor, what: str) -> None:
    if not torch.all(torch.isfinite(state_position)):
        raise NaNError(f"{what} produced a non-finite field; lower the step size or check the action parameters")


def _thermalise(hmc: HMC, state, thermalize: int, target: float, generator, bar, task):
    adapter = DualAveraging(hmc.step_size, target=target)
    for _ in range(thermalize):
        state, info = hmc.step(state, generator)
        hmc.step_size = adapter.update(float(info.acceptance_prob.mean()))
        bar.advance(task)
    if thermalize > 0:
        hmc.step_size = adapter.final_step_size
    _check_field(state.position, "HMC thermalisation")
    return state


def _check_counts(**counts) -> None:
    for name, (value, minimum) in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def hmc_signed_m(action: Phi4Action, trajectories: int, chains: int = 4, thermalize: int = 500,
                 fourier: bool = False, seed: int = 0, integrator: str = "omelyan",
                 trajectory_length: float = 1.0, step_size: float = 0.1, target_acceptance: float = 0.8,
                 save_every: int | None = None, device: str = "cpu", progress: bool = False,
                 start: torch.Tensor | None = None) -> SignedMSeries:
    """Signed M after each of ``trajectories`` trajectories of ``chains`` HMC chains (FA-HMC if ``fourier``).

    The chains start from small random fields (each falls into a sector at random) and thermalise for
    ``thermalize`` trajectories while dual averaging tunes the step size towards
    ``target_acceptance``; the step size is then frozen. ``save_every``: keep every that many
    trajectories' configurations in ``extra["configs"]`` ([saved, chains, *site], float64 CPU), e.g.
    as training data. ``seconds_per_step`` is the production wall time per trajectory of one chain.
    """
    _check_counts(trajectories=(trajectories, 2), chains=(chains, 1), thermalize=(thermalize, 0))
    if save_every is not None:
        _check_counts(save_every=(save_every, 1))
    dev = resolve_device(device)
    generator = make_generator(seed, dev)
    hmc = _tuned_hmc(action, fourier, integrator, trajectory_length, step_size, dev)
    if start is None:
        start = 0.5 * torch.randn((chains, *action.site_shape), dtype=torch.float64, device=dev, generator=generator)
    state = hmc.init(start.to(dev, torch.float64))
    name = "FA-HMC" if fourier else "HMC"
    m = np.empty((trajectories, chains))
    accept = np.empty((trajectories, chains))
    saved = []
    with progress_bar(progress) as bar:
        task = bar.add_task(f"{name} L={action.size}", total=thermalize + trajectories, status="")
        state = _thermalise(hmc, state, thermalize, target_acceptance, generator, bar, task)
        t0 = time.perf_counter()
        for t in range(trajectories):
            state, info = hmc.step(state, generator)
            m[t] = magnetisation(state.position).cpu().numpy()
            accept[t] = info.acceptance_prob.cpu().numpy()
            if save_every is not None and (t + 1) % save_every == 0:
                saved.append(state.position.detach().cpu().clone())
            bar.advance(task)
        seconds = time.perf_counter() - t0
    _check_field(state.position, name)
    acc, _ = _gamma_over_chains(accept) if np.ptp(accept) > 0 else (Estimate(float(accept.mean()), 0.0), True)
    extra = {"step_size": hmc.dt, "n_steps": hmc.n_steps, "seconds": seconds, "fourier": fourier}
    if save_every is not None:
        extra["configs"] = torch.stack(saved) if saved else torch.empty((0, chains, *action.site_shape))
    return SignedMSeries(name=name, m=m, seconds_per_step=seconds / (trajectories * chains), acceptance=acc.value,
                         acceptance_error=acc.error, extra=extra)


def _proposal_dtype(proposal) -> torch.dtype:
    try:
        return next(proposal.parameters()).dtype
    except (AttributeError, StopIteration):
        return torch.float64


@torch.no_grad()
def hybrid_signed_m(action: Phi4Action, proposal, cycles: int, chains: int = 4, hmc_per_cycle: int = 1,
                    thermalize: int = 200, seed: int = 0, fourier: bool = True, integrator: str = "omelyan",
                    trajectory_length: float = 1.0, step_size: float = 0.1, target_acceptance: float = 0.8,
                    float64: bool = True, device: str = "cpu", progress: bool = False) -> SignedMSeries:
    """Exact hybrid chains: every cycle is ``hmc_per_cycle`` (FA-)HMC trajectories, then one independence
    Metropolis step per chain with a fresh proposal x' ~ q, accepted with min(1, w(x')/w(x)),
    w = e^{−S}/q.

    ``proposal`` has ``sample(n, generator) -> (x, log q)`` and ``log_prob(x) -> log q`` (a
    :class:`qcdgen.flows.Flow`, e.g. ``TrainedSampler.module`` of the flow sampler). Both kernels leave
    e^{−S} invariant, so the chain is exact; it needs log q at the current state after HMC moved it,
    one inverse pass per cycle. ``float64``: run a float64 copy of a module proposal, so the forward
    and inverse log q agree to rounding (a float32 flow agrees to about 1e-5 in log q).

    The chains start from proposals, thermalise ``thermalize`` HMC trajectories with dual averaging
    (no proposals), then run ``cycles`` cycles; M is recorded once per cycle (after the Metropolis
    step). ``seconds_per_step`` is the wall time of one cycle of one chain; ``extra`` holds the HMC
    and the proposal acceptances.
    """
    _check_counts(cycles=(cycles, 2), chains=(chains, 1), hmc_per_cycle=(hmc_per_cycle, 0),
                  thermalize=(thermalize, 0))
    dev = resolve_device(device)
    generator = make_generator(seed, dev)
    if float64 and isinstance(proposal, torch.nn.Module):
        proposal = copy.deepcopy(proposal).double()
    dtype = _proposal_dtype(proposal)
    hmc = _tuned_hmc(action, fourier, integrator, trajectory_length, step_size, dev)
    x0, _ = proposal.sample(chains, generator)
    state = hmc.init(x0.to(dev, torch.float64))
    m = np.empty((cycles, chains))
    flow_accept = np.empty((cycles, chains))
    hmc_accept = []
    with progress_bar(progress) as bar:
        task = bar.add_task(f"hybrid L={action.size}", total=thermalize + cycles, status="")
        state = _thermalise(hmc, state, thermalize, target_acceptance, generator, bar, task)
        t0 = time.perf_counter()
        for c in range(cycles):
            for _ in range(hmc_per_cycle):
                state, info = hmc.step(state, generator)
                hmc_accept.append(info.acceptance_prob.cpu().numpy())
            state, prob = _imh_step(action, proposal, state, hmc, dtype, generator)
            flow_accept[c] = prob.cpu().numpy()
            m[c] = magnetisation(state.position).cpu().numpy()
            bar.advance(task)
        seconds = time.perf_counter() - t0
    _check_field(state.position, "the hybrid chain")
    acc, _ = (_gamma_over_chains(flow_accept) if np.ptp(flow_accept) > 0
              else (Estimate(float(flow_accept.mean()), 0.0), True))
    extra = {"step_size": hmc.dt, "n_steps": hmc.n_steps, "hmc_per_cycle": hmc_per_cycle, "seconds": seconds,
             "hmc_acceptance": float(np.mean(hmc_accept)) if hmc_accept else math.nan}
    return SignedMSeries(name=f"hybrid(k={hmc_per_cycle})", m=m, seconds_per_step=seconds / (cycles * chains),
                         acceptance=acc.value, acceptance_error=acc.error, extra=extra)


def _imh_step(action, proposal, state, hmc: HMC, dtype, generator):
    """One independence-Metropolis step per chain; returns the new HMC state and the acceptance probabilities."""
    x = state.position
    log_q_current = proposal.log_prob(x.to(dtype)).to(torch.float64)
    y, log_q_new = proposal.sample(len(x), generator)
    y = y.to(x.device, torch.float64)
    log_p_new = action.log_prob(y)
    log_ratio = (log_p_new - log_q_new.to(torch.float64)) - (state.log_prob - log_q_current)
    log_ratio = torch.where(torch.isnan(log_ratio), torch.full_like(log_ratio, -math.inf), log_ratio)
    prob = torch.exp(log_ratio.clamp(max=0.0))
    u = torch.rand(prob.shape, dtype=prob.dtype, device=prob.device, generator=generator)
    accept = u < prob
    if accept.any():
        new = hmc.init(torch.where(accept.view(-1, *([1] * (x.dim() - 1))), y, x))
        return new, prob
    return state, prob


def imh_signed_m(model, configs: int, chains: int = 4, batch_size: int = 1000, seed: int = 0, options=None,
                 name: str | None = None, progress: bool = False) -> SignedMSeries:
    """Draw ``configs`` proposals from a trained sampler (``model.draw(n, generator, options)``), correct
    them by independence Metropolis in ``chains`` chains of equal length
    (:func:`qcdgen.lattice.metropolis.metropolis_correct`), and return M along the corrected chains.

    ``seconds_per_step`` is the drawing wall time per proposal (the Metropolis step itself is
    negligible); ``train_seconds`` the model's training time.
    """
    from qcdgen.lattice.metropolis import metropolis_correct

    _check_counts(configs=(configs, 4), chains=(chains, 1), batch_size=(batch_size, 1))
    if configs % chains or configs // chains < 2:
        raise InputError(f"configs ({configs}) must be a multiple of chains ({chains}) with >= 2 per chain")
    generator = make_generator(seed, next(model.module.parameters()).device)
    xs, log_qs = [], []
    seconds = 0.0
    with progress_bar(progress) as bar:
        task = bar.add_task(f"{name or model.name} L={model.action.size}", total=configs, status="")
        done = 0
        while done < configs:
            n = min(batch_size, configs - done)
            t0 = time.perf_counter()
            with torch.no_grad():
                x, log_q = model.draw(n, generator, options)
            seconds += time.perf_counter() - t0
            xs.append(x.detach().double().cpu())
            log_qs.append(log_q.detach().double().cpu())
            done += n
            bar.advance(task, n)
    phi, log_q = torch.cat(xs), torch.cat(log_qs)
    corrected, label, summary = metropolis_correct(model.action, phi, log_q, generator, chains=chains)
    m = magnetisation(corrected).cpu().numpy().reshape(chains, configs // chains).T
    if not np.array_equal(label.reshape(chains, -1), np.repeat(np.arange(chains), configs // chains).reshape(chains, -1)):
        raise RuntimeError("metropolis_correct returned chains of unequal length")  # pragma: no cover
    return SignedMSeries(name=name or model.name, m=m, seconds_per_step=seconds / configs,
                         acceptance=summary.acceptance, acceptance_error=summary.acceptance_error,
                         train_seconds=float(model.train_seconds),
                         extra={"importance_ess": summary.importance_ess, "log_z": summary.log_z.to_dict(),
                                "seconds": seconds, "proposals": configs})


# ----------------------------------------------------------------------------- one row of the study
@dataclass
class TunnellingRow:
    """The tunnelling measurements of one sampler at one lattice size (times in its own steps).

    ``tau_int`` is the Γ-method τ_int(M); when no window was found or fewer than ``MIN_FLIPS`` flips
    were seen, ``tau_is_bound`` is True and ``tau_int`` is raised to at least the telegraph estimate
    from the flip-time lower bound (:func:`telegraph_tau`): the cost is then a lower bound.
    """

    name: str
    size: int
    stats: SignedMStatistics
    flips: FlipStatistics
    tau_int: Estimate
    tau_is_bound: bool
    acceptance: float
    acceptance_error: float
    seconds_per_step: float
    train_seconds: float
    cost: Estimate  # no training counted
    amortised: dict  # N -> Estimate, training shared by N configurations
    steps: int
    chains: int
    extra: dict = field(default_factory=dict)

    @property
    def n_independent(self) -> float:
        return self.steps * self.chains / (2.0 * self.tau_int.value) if self.tau_int.value > 0 else math.nan

    def to_dict(self) -> dict:
        extra = {k: v for k, v in self.extra.items() if not isinstance(v, torch.Tensor)}
        return {"name": self.name, "L": self.size, "stats": self.stats.to_dict(), "flips": self.flips.to_dict(),
                "tau_int": self.tau_int.to_dict(), "tau_is_bound": self.tau_is_bound,
                "acceptance": self.acceptance, "acceptance_error": self.acceptance_error,
                "seconds_per_step": self.seconds_per_step, "train_seconds": self.train_seconds,
                "cost": self.cost.to_dict(), "amortised": {str(k): v.to_dict() for k, v in self.amortised.items()},
                "steps": self.steps, "chains": self.chains, "n_independent": self.n_independent, "extra": extra}


def analyse_series(series: SignedMSeries, size: int, threshold: float | None = None,
                   amortise_over=(10_000, 100_000, 1_000_000)) -> TunnellingRow:
    """τ_int(M), sector flips, and the cost per independent configuration of one series.

    ``threshold``: the hysteresis m_c (default ½⟨|M|⟩ of this series; pass a common one, e.g. from the
    reference sampler, to compare samplers).
    """
    st = signed_m_autocorrelation(series.m)
    flips = sector_flips(series.m, threshold)
    tau, bound = st.tau_int, False
    if not st.window_found or flips.is_bound:
        flip_time = flips.lower_bound if flips.is_bound else flips.mean_time
        floor = telegraph_tau(flip_time, st.abs_m.value, st.m2.value)
        bound = True
        if floor > tau.value:
            tau = Estimate(floor, math.nan)
    cost = cost_per_independent(series.seconds_per_step, tau.value, tau.error)
    amortised = {n: cost_per_independent(series.seconds_per_step, tau.value, tau.error, series.train_seconds, n)
                 for n in amortise_over}
    return TunnellingRow(name=series.name, size=size, stats=st, flips=flips, tau_int=tau, tau_is_bound=bound,
                         acceptance=series.acceptance, acceptance_error=series.acceptance_error,
                         seconds_per_step=series.seconds_per_step, train_seconds=series.train_seconds, cost=cost,
                         amortised=amortised, steps=series.steps, chains=series.chains, extra=dict(series.extra))


# ----------------------------------------------------------------------------- scaling with L
@dataclass(frozen=True)
class ExponentialFit:
    """log y = log_a + slope · L, fitted by weighted least squares on log y (errors δy/y).

    For a tunnelling time in d = 2, slope is the effective 2σ of e^{2σ L^{d−1}} (in lattice units,
    with whatever power-law prefactor the measured sizes fold in).
    """

    log_a: float
    slope: float
    slope_error: float
    sizes: tuple

    def __call__(self, size: float) -> float:
        return math.exp(self.log_a + self.slope * size)

    def to_dict(self) -> dict:
        return {"log_a": self.log_a, "slope": self.slope, "slope_error": self.slope_error, "sizes": list(self.sizes)}


def fit_exponential(sizes, values, errors=None) -> ExponentialFit:
    """Fit y(L) = a e^{slope · L} through ≥ 2 points (exact through 2); ``errors``: δy for the weights."""
    x = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if len(x) < 2 or len(np.unique(x)) < 2 or not np.all(y > 0) or not np.all(np.isfinite(y)):
        raise InputError(f"an exponential fit needs >= 2 distinct sizes with finite values > 0, got {sizes}, {values}")
    rel = np.ones_like(y) if errors is None else np.asarray(errors, dtype=np.float64) / y
    rel = np.where(np.isfinite(rel) & (rel > 0), rel, 1.0)
    w = 1.0 / rel ** 2
    design = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(design.T @ (design * w[:, None]))
    log_a, slope = cov @ (design.T @ (w * np.log(y)))
    return ExponentialFit(float(log_a), float(slope), float(math.sqrt(cov[1, 1])), tuple(float(v) for v in x))


def crossing_size(numerator: ExponentialFit, denominator: ExponentialFit, factor: float) -> float:
    """The L at which numerator(L)/denominator(L) = ``factor`` (NaN when the ratio never gets there
    because it does not grow with L)."""
    dslope = numerator.slope - denominator.slope
    if dslope <= 0:
        return math.nan
    return (math.log(factor) - (numerator.log_a - denominator.log_a)) / dslope


__all__ = ["HYSTERESIS_FRACTION", "MIN_FLIPS", "FlipStatistics", "sectors", "sector_flips", "telegraph_tau",
           "SignedMStatistics", "signed_m_autocorrelation", "cost_per_independent", "SignedMSeries",
           "hmc_signed_m", "hybrid_signed_m", "imh_signed_m", "TunnellingRow", "analyse_series",
           "ExponentialFit", "fit_exponential", "crossing_size"]
