"""Spectral functions as posteriors: a Gaussian-process prior on ρ(ω) and the exact linear-Gaussian posterior.

The data are linear in ρ, D = K ρ + ε with ε ~ N(0, Σ), Σ = diag σ². With the prior ρ ~ N(0, C) the posterior
is Gaussian (Rasmussen & Williams, *Gaussian Processes for Machine Learning*, MIT 2006, eq. 2.19–2.22, with a
linear observation operator; for spectral functions: Horak et al., PRD 105 (2022) 036014):

    S = K C Kᵀ + Σ,   mean = C Kᵀ S⁻¹ D,   cov = C − C Kᵀ S⁻¹ K C.

The prior covariance is a Matérn-3/2 kernel of length ℓ under a non-stationary envelope g,

    C(ω, ω') = a² g(ω) g(ω') (1 + √3 r) e^{−√3 r},  r = |ω − ω'|/ℓ,   g(ω) = tanh(ω/ω₀) / (1 + (ω/Λ)²),

so that ρ(0) = 0 (ρ is odd in ω for bosonic correlators) and ρ falls off beyond Λ; the four hyperparameters
(a, ℓ, ω₀, Λ) maximise the evidence log p(D | ·) = −½ Dᵀ S⁻¹ D − ½ log det S − (n/2) log 2π (type-II
maximum likelihood). The band is the pointwise interval mean ± z √cov_jj. The prior does not enforce
ρ ≥ 0, and a single length scale is too smooth for narrow peaks: the band's coverage is measured on mocks,
not assumed (benchmarks/bench_spectral_posterior.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from qcdgen.errors import ConvergenceError, InputError

__all__ = ["GPPosterior", "HYPERPARAMETERS", "gp_posterior", "fit_gp", "log_evidence"]

_JITTER = 1e-12


@dataclass
class GPPosterior:
    """Posterior mean and covariance of ρ on the ω grid, the hyperparameters and their evidence."""

    omega: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    hyper: dict
    log_evidence: float

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))

    def band(self, z: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        return self.mean - z * self.std, self.mean + z * self.std

    def samples(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws [n, n_omega] from the posterior."""
        w, v = np.linalg.eigh(0.5 * (self.cov + self.cov.T))
        root = v * np.sqrt(np.clip(w, 0.0, None))
        return self.mean + rng.standard_normal((n, len(self.mean))) @ root.T


HYPERPARAMETERS = ("amplitude", "length", "onset", "falloff")


def _prior(omega: np.ndarray, amplitude: float, length: float, onset: float, falloff: float) -> np.ndarray:
    g = np.tanh(omega / onset) / (1.0 + (omega / falloff) ** 2)
    r = math.sqrt(3.0) * np.abs(omega[:, None] - omega[None, :]) / length
    return amplitude**2 * np.outer(g, g) * (1.0 + r) * np.exp(-r)


def _factor(K, sigma, C):
    S = K @ C @ K.T + np.diag(sigma**2)
    S += _JITTER * np.trace(S) / len(S) * np.eye(len(S))
    return cho_factor(S, lower=True)


def log_evidence(K, data, sigma, omega, hyper: dict) -> float:
    """log p(D | hyperparameters) of the linear-Gaussian model (module docstring)."""
    try:
        f = _factor(K, sigma, _prior(omega, **hyper))
    except np.linalg.LinAlgError:
        return -math.inf
    alpha = cho_solve(f, data)
    return float(-0.5 * data @ alpha - np.log(np.diag(f[0])).sum() - 0.5 * len(data) * math.log(2 * math.pi))


def _as_arrays(K, data, sigma, omega):
    arrays = [np.asarray(torch.as_tensor(a).detach().cpu(), dtype=float) for a in (K, data, sigma, omega)]
    K, data, sigma, omega = arrays[0], arrays[1].reshape(-1), arrays[2].reshape(-1), arrays[3].reshape(-1)
    if K.shape != (len(data), len(omega)):
        raise InputError(f"kernel matrix has shape {K.shape}, expected ({len(data)}, {len(omega)})")
    return K, data, sigma, omega


def _fit_hyper(K, data, sigma, omega, fixed: dict) -> dict:
    """Maximise the evidence over the hyperparameters not in ``fixed`` (Nelder–Mead in their logarithms,
    started from a few length scales)."""
    free = [h for h in HYPERPARAMETERS if h not in fixed]
    span = float(omega.max() - omega.min())
    start = dict(amplitude=float(np.abs(data).mean() / max(np.abs(K.sum(1)).mean(), 1e-300)),
                 onset=span / 40, falloff=span / 4)

    def hyper(x):
        return fixed | {h: math.exp(v) for h, v in zip(free, x)}

    best = None
    for length in ((fixed["length"],) if "length" in fixed else (span / 60, span / 20, span / 7)):
        x0 = [math.log((start | {"length": length})[h]) for h in free]
        res = minimize(lambda x: -log_evidence(K, data, sigma, omega, hyper(x)), x0, method="Nelder-Mead",
                       options=dict(xatol=1e-3, fatol=1e-4, maxiter=400 * len(free)))
        if best is None or res.fun < best.fun:
            best = res
    if not np.isfinite(best.fun):
        raise ConvergenceError("the GP evidence is not finite for any hyperparameters tried")
    return hyper(best.x)


def _conditional(K, data, sigma, omega, hyper) -> tuple[np.ndarray, np.ndarray]:
    C = _prior(omega, **hyper)
    f = _factor(K, sigma, C)
    CKt = C @ K.T
    return CKt @ cho_solve(f, data), C - CKt @ cho_solve(f, CKt.T)


def _marginalised(K, data, sigma, omega, hyper: dict, free: list, draws: int, steps: int, seed: int):
    """Mixture over hyperparameters drawn from p(h | D) ∝ p(D | h) (log-uniform prior on each free h) with
    emcee, started around the evidence maximum: mean = E_h[mean_h], cov = E_h[cov_h] + Cov_h[mean_h]."""
    import emcee

    rng = np.random.default_rng(seed)
    x_best = np.log([hyper[h] for h in free])
    walkers = max(4 * len(free), 8)
    start = x_best + 0.05 * rng.standard_normal((walkers, len(free)))

    def log_post(x):
        if np.any(np.abs(x - x_best) > 5.0):        # log-uniform prior, e^±5 around the maximum
            return -np.inf
        return log_evidence(K, data, sigma, omega, hyper | {h: math.exp(v) for h, v in zip(free, x)})

    sampler = emcee.EnsembleSampler(walkers, len(free), log_post)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    sampler.run_mcmc(start, steps, progress=False)
    chain = sampler.get_chain(discard=steps // 2, flat=True)
    picks = chain[rng.choice(len(chain), size=min(draws, len(chain)), replace=False)]
    means, covs = [], []
    for x in picks:
        m, c = _conditional(K, data, sigma, omega, hyper | {h: math.exp(v) for h, v in zip(free, x)})
        means.append(m)
        covs.append(c)
    means = np.array(means)
    mean = means.mean(0)
    cov = np.mean(covs, axis=0) + np.cov(means.T, bias=True)
    return mean, cov, picks


def gp_posterior(K, data, sigma, omega, *, marginalise: bool = False, draws: int = 24, steps: int = 120,
                 seed: int = 0, **fixed) -> GPPosterior:
    """The posterior of ρ. Keyword arguments fix hyperparameters (amplitude, length, onset, falloff > 0); the
    others maximise the evidence, or, with ``marginalise``, are integrated over (``draws`` hyperparameter
    samples from an emcee chain of ``steps`` steps; see :func:`_marginalised`)."""
    K, data, sigma, omega = _as_arrays(K, data, sigma, omega)
    fixed = {k: v for k, v in fixed.items() if v is not None}
    for name, value in fixed.items():
        if name not in HYPERPARAMETERS:
            raise InputError(f"unknown GP hyperparameter {name!r}; known: {', '.join(HYPERPARAMETERS)}")
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InputError(f"GP {name} must be a finite number > 0, got {value!r}")
    hyper = fixed if len(fixed) == len(HYPERPARAMETERS) else _fit_hyper(K, data, sigma, omega, fixed)
    free = [h for h in HYPERPARAMETERS if h not in fixed]
    if marginalise and free:
        mean, cov, _ = _marginalised(K, data, sigma, omega, hyper, free, draws, steps, seed)
    else:
        mean, cov = _conditional(K, data, sigma, omega, hyper)
    return GPPosterior(omega=omega, mean=mean, cov=cov, hyper=hyper,
                       log_evidence=log_evidence(K, data, sigma, omega, hyper))


def fit_gp(K: torch.Tensor, data: torch.Tensor, sigma: torch.Tensor, omega: torch.Tensor, *,
           generator: torch.Generator | None = None, device: str | torch.device = "cpu", **fixed) -> torch.Tensor:
    """The GP posterior mean (the ``fit_<method>`` interface of :mod:`.api`; deterministic, CPU)."""
    post = gp_posterior(K, data, sigma, omega, **fixed)
    return torch.as_tensor(post.mean, dtype=torch.float64)
