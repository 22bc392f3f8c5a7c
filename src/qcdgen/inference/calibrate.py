"""Posterior sampling with emcee, and the calibration of an emulator against data.

:func:`sample_emcee` runs the affine-invariant ensemble sampler (Goodman & Weare, CAMCS 5
(2010) 65; emcee: Foreman-Mackey et al., PASP 125 (2013) 306) on any batched log-density and
decides burn-in and thinning from the integrated autocorrelation time τ_int of each parameter
(``get_autocorr_time``, Sokal's automatic window): it stops when the chain is longer than
``tau_factor`` · max τ and τ has changed by less than 1 % since the last check (emcee's
"monitoring convergence" recipe), then discards 2 max τ steps and keeps every ½ min τ-th.
Its R̂ is the split-chain potential scale reduction over walkers (Gelman et al., BDA3, Sec.
11.4): each walker's kept chain is cut in two and

    R̂ = √(((n − 1)/n · W + B/n) / W),

W the mean within-chain variance and B/n the variance of the chain means; ≈ 1 when mixed.

:func:`calibrate` is the emulator posterior p(θ | y) ∝ L(θ) p(θ) (:mod:`.likelihood`):
summary (median, 68 %/95 % central intervals, MAP), χ²/ndf at the MAP and the posterior
predictive (the emulator at posterior draws).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from qcdgen.errors import InputError
from qcdgen.inference.data import ExperimentalData
from qcdgen.inference.likelihood import BoxPrior, LogPosterior, emulator_likelihood

__all__ = ["EmceeResult", "sample_emcee", "split_rhat", "find_map", "CalibrationResult", "calibrate",
           "posterior_csv_text"]


def split_rhat(chains) -> np.ndarray:
    """Split-chain R̂ per parameter of ``chains`` (steps, chains, d) (Gelman et al., BDA3)."""
    chains = np.asarray(chains, float)
    n = chains.shape[0] // 2
    if n < 2:
        return np.full(chains.shape[-1], math.nan)
    halves = np.concatenate([chains[:n], chains[n:2 * n]], axis=1)        # (n, 2M, d)
    means = halves.mean(axis=0)
    W = halves.var(axis=0, ddof=1).mean(axis=0)
    B_over_n = means.var(axis=0, ddof=1)
    var_plus = (n - 1) / n * W + B_over_n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(var_plus / W)


@dataclass
class EmceeResult:
    """Kept samples (``samples`` (S, d), ``log_prob`` (S,)) after burn-in and thinning, with diagnostics."""

    samples: np.ndarray
    log_prob: np.ndarray
    tau: np.ndarray
    rhat: np.ndarray
    burn: int
    thin: int
    steps: int
    walkers: int
    acceptance: float
    converged: bool
    best: np.ndarray          # highest log-density point visited
    best_log_prob: float

    @property
    def effective_samples(self) -> float:
        """≈ walkers · (steps − burn)/max τ."""
        return self.walkers * (self.steps - self.burn) / float(np.max(self.tau))


def sample_emcee(log_prob, initial, seed: int = 0, max_steps: int = 20000, check_every: int = 250,
                 tau_factor: float = 50.0, min_steps: int = 500, progress: bool = False) -> EmceeResult:
    """Run emcee from ``initial`` (walkers, d) until τ-converged or ``max_steps`` (see the module text).

    ``log_prob`` takes θ (N, d) and returns (N,) (vectorised); ``seed`` fixes the sampler's
    random stream, so a run is reproducible.
    """
    import emcee

    initial = np.asarray(initial, float)
    walkers, d = initial.shape
    if walkers < 2 * d:
        raise InputError(f"--walkers must be at least twice the number of parameters ({2 * d}), got {walkers}")
    for name, v, lo in (("max_steps", max_steps, 1), ("check_every", check_every, 1), ("min_steps", min_steps, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise InputError(f"{name} must be an integer >= {lo}, got {v!r}")
    sampler = emcee.EnsembleSampler(walkers, d, log_prob, vectorize=True)
    state = emcee.State(initial, random_state=np.random.RandomState(int(seed)).get_state())
    old_tau = np.full(d, np.inf)
    converged = False
    from qcdgen.runtime import progress_bar

    with progress_bar(progress) as bar:
        task = bar.add_task("emcee", total=max_steps, status="")
        for _ in sampler.sample(state, iterations=max_steps):
            it = sampler.iteration
            if it % check_every:
                continue
            bar.update(task, completed=it)
            tau = sampler.get_autocorr_time(tol=0)
            if (np.all(np.isfinite(tau)) and it >= min_steps and np.all(tau * tau_factor < it)
                    and np.all(np.abs(old_tau - tau) < 0.01 * tau)):
                converged = True
                break
            old_tau = tau
            bar.update(task, status=f"tau {np.max(tau):.1f}")
        bar.update(task, completed=sampler.iteration)
    steps = sampler.iteration
    tau = sampler.get_autocorr_time(tol=0)
    tau = np.where(np.isfinite(tau) & (tau > 0), tau, float(steps))
    burn = int(min(math.ceil(2 * np.max(tau)), steps // 2))
    thin = max(1, int(0.5 * np.min(tau)))
    chain = sampler.get_chain(discard=burn)
    samples = sampler.get_chain(discard=burn, thin=thin, flat=True)
    lp = sampler.get_log_prob(discard=burn, thin=thin, flat=True)
    all_lp = sampler.get_log_prob()
    t, w = np.unravel_index(np.argmax(all_lp), all_lp.shape)
    best = sampler.get_chain()[t, w].copy()
    return EmceeResult(samples=samples, log_prob=lp, tau=np.asarray(tau, float), rhat=split_rhat(chain),
                       burn=burn, thin=thin, steps=steps, walkers=walkers,
                       acceptance=float(np.mean(sampler.acceptance_fraction)), converged=converged,
                       best=best, best_log_prob=float(all_lp[t, w]))


def find_map(log_post, box, start) -> np.ndarray:
    """Maximise ``log_post`` within ``box`` from ``start`` (L-BFGS-B in unit coordinates)."""
    from scipy.optimize import minimize

    def f(u):
        v = log_post(box.from_unit(np.clip(u, 0, 1))[None])[0]
        return -v if np.isfinite(v) else 1e300

    u0 = np.clip(box.to_unit(start), 0, 1)
    res = minimize(f, u0, method="L-BFGS-B", bounds=[(0, 1)] * box.ndim, options={"maxiter": 500})
    u = u0 if (not np.isfinite(res.fun) or res.fun > f(u0)) else np.clip(res.x, 0, 1)
    return box.from_unit(u)


@dataclass
class CalibrationResult:
    """Posterior of the emulator's parameters given data (see :func:`calibrate`)."""

    names: list[str]
    lo: np.ndarray
    hi: np.ndarray
    mcmc: EmceeResult
    map: np.ndarray
    chi2_map: float
    ndf: int
    data: ExperimentalData
    map_mean: np.ndarray            # emulator mean at the MAP (m,)
    map_std: np.ndarray             # √diag of the emulator covariance at the MAP (m,)
    predictive: np.ndarray          # quantiles 2.5, 16, 50, 84, 97.5 % of the emulator mean over draws (5, m)
    truth: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def samples(self) -> np.ndarray:
        return self.mcmc.samples

    def quantiles(self, q) -> np.ndarray:
        return np.quantile(self.samples, q, axis=0)

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Central credible interval of probability ``level`` per parameter."""
        a = 0.5 * (1 - level)
        q = self.quantiles([a, 1 - a])
        return q[0], q[1]

    def truth_inside(self, level: float = 0.95) -> np.ndarray | None:
        if self.truth is None:
            return None
        lo, hi = self.interval(level)
        return (self.truth >= lo) & (self.truth <= hi)

    def summary(self) -> list[dict]:
        q = self.quantiles([0.025, 0.16, 0.5, 0.84, 0.975])
        rows = []
        for j, name in enumerate(self.names):
            row = {"parameter": name, "median": q[2, j], "lo68": q[1, j], "hi68": q[3, j], "lo95": q[0, j],
                   "hi95": q[4, j], "map": self.map[j], "mean": float(self.samples[:, j].mean()),
                   "std": float(self.samples[:, j].std(ddof=1)), "tau_int": self.mcmc.tau[j],
                   "rhat": self.mcmc.rhat[j], "range": [self.lo[j], self.hi[j]]}
            if self.truth is not None:
                row["truth"] = self.truth[j]
                row["truth_in_68"] = bool(q[1, j] <= self.truth[j] <= q[3, j])
                row["truth_in_95"] = bool(q[0, j] <= self.truth[j] <= q[4, j])
            rows.append(row)
        return rows

    def to_json_dict(self) -> dict:
        m = self.mcmc
        return {"parameters": self.summary(), "chi2_map": self.chi2_map, "ndf": self.ndf,
                "chi2_per_ndf": self.chi2_map / self.ndf if self.ndf > 0 else None,
                "mcmc": {"walkers": m.walkers, "steps": m.steps, "burn": m.burn, "thin": m.thin,
                         "samples": int(len(m.samples)), "acceptance": m.acceptance, "converged": m.converged,
                         "tau_int": m.tau, "rhat": m.rhat, "max_rhat": float(np.nanmax(m.rhat)),
                         "effective_samples": m.effective_samples},
                "data": [{"observable": o, "class": c, "value": v, "error": e, "map_prediction": p, "emulator_std": s}
                         for (o, c), v, e, p, s in zip(self.data.keys, self.data.values, self.data.errors,
                                                       self.map_mean, self.map_std)],
                "info": self.info}


def posterior_csv_text(result: CalibrationResult) -> str:
    """Posterior samples: header of parameter names plus ``log_posterior``, one row per kept sample."""
    lines = [",".join([*result.names, "log_posterior"])]
    for row, lp in zip(result.samples, result.mcmc.log_prob):
        lines.append(",".join([*(repr(float(v)) for v in row), repr(float(lp))]))
    return "\n".join(lines) + "\n"


def calibrate(emulator, data: ExperimentalData, *, walkers: int | None = None, max_steps: int = 20000,
              seed: int = 0, truth=None, predictive_draws: int = 200, progress: bool = False,
              check_every: int = 250, tau_factor: float = 50.0, min_steps: int = 500) -> CalibrationResult:
    """Sample p(θ | data) ∝ L(θ) · U(box) for ``emulator`` (:class:`~qcdgen.inference.emulator.Emulator`).

    Walkers start uniformly in the design's box; ``truth`` (d,) is only recorded (closure tests).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    box = emulator.box
    d = box.ndim
    if walkers is None:
        walkers = max(32, 4 * d)
    if isinstance(walkers, bool) or not isinstance(walkers, (int, np.integer)) or walkers < 2 * d:
        raise InputError(f"--walkers must be an integer >= 2 x parameters = {2 * d}, got {walkers!r}")
    if truth is not None:
        truth = box.check_inside(np.asarray(truth, float), "--truth")[0]
    like = emulator_likelihood(emulator, data.keys, data.values, data.cov)
    prior = BoxPrior(box)
    post = LogPosterior(prior, like)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    initial = prior.sample(int(walkers), rng)
    mc = sample_emcee(post, initial, seed=int(seed), max_steps=max_steps, check_every=check_every,
                      tau_factor=tau_factor, min_steps=min_steps, progress=progress)
    theta_map = find_map(post, box, mc.best)
    idx = emulator.index(data.keys)
    chi2 = float(like.chi2(theta_map[None])[0])
    mean, cov = emulator.predict(theta_map, idx=idx, check=False)
    draws = mc.samples[rng.choice(len(mc.samples), size=min(predictive_draws, len(mc.samples)), replace=False)]
    pred = emulator.predict(draws, idx=idx, check=False, return_cov=False)
    return CalibrationResult(names=list(box.names), lo=box.lo, hi=box.hi, mcmc=mc, map=theta_map, chi2_map=chi2,
                             ndf=len(data) - d, data=data, map_mean=mean, map_std=np.sqrt(np.diag(cov)),
                             predictive=np.quantile(pred, [0.025, 0.16, 0.5, 0.84, 0.975], axis=0), truth=truth,
                             info={"seed": int(seed), "max_steps": int(max_steps)})


def write_posterior(path: str | os.PathLike, result: CalibrationResult) -> None:
    from qcdgen.io.atomic import atomic_write_text

    atomic_write_text(path, posterior_csv_text(result))
