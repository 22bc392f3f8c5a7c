"""Cumulants κ_1 … κ_n of a one-point distribution from Monte Carlo samples, with jackknife errors.

Raw moments μ'_p = ⟨x^p⟩ are turned into cumulants by the recursion

    κ_n = μ'_n − Σ_{m=1}^{n−1} C(n−1, m−1) κ_m μ'_{n−m}

(e.g. Kendall & Stuart, *The Advanced Theory of Statistics* vol. 1, §3.14). The estimator is the
plug-in one (cumulants of the sample moments, bias O(1/N)); its errors come from a delete-one-bin
jackknife over samples (:func:`qcdgen.stats.jackknife`), so autocorrelations are accounted for
when ``bin_size`` exceeds the integrated autocorrelation time.

A sample may hold several values (``samples`` of shape ``[N, k]``, e.g. the k sites of a lattice
configuration): the cumulants are then those of the pooled one-point distribution, and the jackknife
deletes whole samples, which keeps the correlations among a sample's k values in the error.
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.checks import NonFiniteDataError, check_positive_int
from qcdgen.errors import InputError
from qcdgen.stats.autocorr import gamma_method
from qcdgen.stats.estimate import Estimate
from qcdgen.stats.resampling import jackknife

__all__ = ["cumulants_from_moments", "power_means", "sample_cumulants", "cumulants_from_power_means"]

MAX_ORDER = 12


def _check_order(order) -> int:
    order = check_positive_int(order, "order")
    if not 2 <= order <= MAX_ORDER:
        raise InputError(f"order must be an integer in [2, {MAX_ORDER}], got {order!r}")
    return order


def cumulants_from_moments(moments) -> np.ndarray:
    """κ_1 … κ_n from the raw moments μ'_1 … μ'_n (a 1-D sequence, μ'_1 first)."""
    mu = np.asarray(moments, dtype=float)
    if mu.ndim != 1 or mu.size < 1:
        raise InputError(f"moments must be a non-empty 1-D sequence (μ'_1, μ'_2, ...), got shape {mu.shape}")
    kappa = np.empty_like(mu)
    for n in range(1, mu.size + 1):
        k = mu[n - 1]
        for m in range(1, n):
            k -= math.comb(n - 1, m - 1) * kappa[m - 1] * mu[n - m - 1]
        kappa[n - 1] = k
    return kappa


def power_means(samples, order: int, shift: float = 0.0) -> np.ndarray:
    """Per-sample means of (x − shift)^p, p = 1 … order: shape [N, order] from samples [N] or [N, k]."""
    order = _check_order(order)
    x = np.asarray(samples, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise InputError(f"samples must have shape [N] or [N, k] with N >= 2, got {np.shape(samples)}")
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        raise NonFiniteDataError(f"samples hold non-finite values in {bad.size} of {x.shape[0]} samples "
                                 f"(first: sample {bad[0]})")
    d = x - shift
    out = np.empty((x.shape[0], order))
    power = np.ones_like(d)
    for p in range(order):
        power *= d
        out[:, p] = power.mean(axis=1)
    return out


def sample_cumulants(samples, order: int = 8, bin_size: int = 1, replicas=None, symmetric: bool = False,
              scale: float = 1.0, standardized: bool = False, bias_corrected: bool = False,
              method: str = "jackknife") -> list[Estimate]:
    """Estimates of κ_1 … κ_order of the (pooled) one-point distribution of ``samples``.

    ``symmetric``: the distribution is known to be even (x → −x, e.g. the Z₂ of φ⁴); odd moments are
    set to zero, which is the estimator on the data pooled with its mirror image (κ_odd = 0 exactly).
    ``scale``: report cumulants of the rescaled variable s·x, i.e. κ_n s^n (s a fixed number).
    ``standardized``: report κ_n/κ_2^{n/2} for n >= 3 (κ_1 and κ_2 unchanged).
    ``method``: ``"jackknife"`` over bins of ``bin_size`` samples (within ``replicas``, e.g. Markov
    chains; ``bias_corrected`` applies to it), or ``"gamma"``: Wolff's Γ-method on the per-sample power
    means (:func:`qcdgen.stats.gamma_method`), which also gives each cumulant's τ_int.
    """
    order = _check_order(order)
    x = np.asarray(samples, dtype=float)
    # cumulants of order >= 2 do not depend on a shift; centring on the mean keeps the powers small
    shift = 0.0 if symmetric else float(np.mean(x)) if np.all(np.isfinite(x)) and x.size else 0.0
    return cumulants_from_power_means(power_means(x, order, shift), shift=shift, bin_size=bin_size,
                                      replicas=replicas, symmetric=symmetric, scale=scale,
                                      standardized=standardized, bias_corrected=bias_corrected, method=method)


def cumulants_from_power_means(sums, shift: float = 0.0, bin_size: int = 1, replicas=None, symmetric: bool = False,
                               scale: float = 1.0, standardized: bool = False, bias_corrected: bool = False,
                               method: str = "jackknife") -> list[Estimate]:
    """:func:`sample_cumulants` from per-sample power means ``sums[i, p−1]`` = mean of (x − shift)^p over sample i
    (as :func:`power_means` gives them; a large ensemble can be reduced to these chunk by chunk)."""
    sums = np.asarray(sums, dtype=float)
    if sums.ndim != 2 or sums.shape[0] < 2:
        raise InputError(f"power means must have shape [N >= 2, order], got {sums.shape}")
    order = _check_order(sums.shape[1])
    if method not in ("jackknife", "gamma"):
        raise InputError(f"method must be 'jackknife' or 'gamma', got {method!r}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise InputError(f"scale must be a finite number > 0, got {scale!r}")
    scales = float(scale) ** np.arange(1, order + 1)

    def func(means: np.ndarray) -> np.ndarray:
        mu = means.copy()
        if symmetric:
            mu[0::2] = 0.0
        kappa = cumulants_from_moments(mu)
        kappa[0] += shift
        kappa *= scales
        if standardized:
            if kappa[1] <= 0:
                return np.full(order, np.nan)
            kappa[2:] /= kappa[1] ** (np.arange(3, order + 1) / 2)
        return kappa

    if method == "gamma":
        return gamma_method(sums, func, replicas=replicas)
    return jackknife(sums, func, bin_size=bin_size, replicas=replicas, bias_corrected=bias_corrected)
