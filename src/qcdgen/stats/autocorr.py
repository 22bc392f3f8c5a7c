"""Wolff's Γ-method for errors of Monte Carlo estimates with autocorrelations.

Reference: U. Wolff, "Monte Carlo errors with less errors",
Comput. Phys. Commun. 156 (2004) 143 [hep-lat/0306017].  Equation numbers
below refer to that paper.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.fft

from qcdgen.checks import (
    as_1d,
    as_data,
    check_positive_float,
    check_positive_int,
    eval_func,
    replica_groups,
)
from qcdgen.errors import InputError
from qcdgen.stats.estimate import Estimate

__all__ = [
    "gamma_method",
    "integrated_autocorr_time",
    "effective_sample_size",
    "autocorrelation_function",
]


def _autocov_sums(fluct: np.ndarray, max_lag: int) -> np.ndarray:
    """Σ_i δ(i) δ(i+t) for t = 0..max_lag, column-wise, via FFT (zero padded).

    ``fluct`` has shape (n, K); returns shape (max_lag + 1, K).  Lags >= n give 0.
    """
    n, k = fluct.shape
    out = np.zeros((max_lag + 1, k))
    size = scipy.fft.next_fast_len(2 * n, real=True)
    spec = scipy.fft.rfft(fluct, n=size, axis=0)
    acf = scipy.fft.irfft(spec * spec.conj(), n=size, axis=0)
    m = min(max_lag, n - 1)
    out[: m + 1] = acf[: m + 1]
    return out


def _gamma(fluct: np.ndarray, groups: list[np.ndarray], max_lag: int) -> np.ndarray:
    """Γ(t) = 1/(N − R t) Σ_r Σ_{i=1}^{N_r−t} δ_r(i) δ_r(i+t)  (Wolff), shape (max_lag+1, K)."""
    n_tot = fluct.shape[0]
    total = np.zeros((max_lag + 1, fluct.shape[1]))
    for idx in groups:
        total += _autocov_sums(fluct[idx], max_lag)
    t = np.arange(max_lag + 1)
    return total / (n_tot - len(groups) * t)[:, None]


def _window(gamma: np.ndarray, n_tot: int, S: float) -> tuple[int, bool]:
    """Automatic window W (Wolff sec. 3.3); returns (W, found)."""
    w_max = gamma.shape[0] - 1
    w = np.arange(1, w_max + 1)
    tau_int = 0.5 + np.cumsum(gamma[1:]) / gamma[0]
    g = np.full(w_max, -1.0)
    pos = tau_int > 0.5
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        tau = S / np.log((2 * tau_int[pos] + 1) / (2 * tau_int[pos] - 1))
        g[pos] = np.exp(-w[pos] / tau) - tau / np.sqrt(w[pos] * n_tot)
    neg = np.flatnonzero(g < 0)
    if neg.size:
        return int(w[neg[0]]), True
    return w_max, False


def _analyse(gamma: np.ndarray, n_tot: int, S: float, label: str) -> tuple[float, float, float]:
    """Window, bias-correct and return (error, tau_int, tau_int_error) for one Γ(t)."""
    if gamma[0] <= 0:
        return 0.0, 0.5, 0.0
    w, found = _window(gamma, n_tot, S)
    if not found:
        warnings.warn(
            f"gamma_method: no automatic window found for {label} up to W = {w} "
            f"(half the shortest replica); chain too short for its autocorrelation, "
            f"error is probably underestimated",
            RuntimeWarning,
            stacklevel=3,
        )
    g = gamma[: w + 1].copy()
    c_f = g[0] + 2.0 * g[1:].sum()
    g += c_f / n_tot  # Wolff's bias correction of Γ(t) for the subtracted mean
    c_f = g[0] + 2.0 * g[1:].sum()
    if c_f <= 0:
        warnings.warn(
            f"gamma_method: non-positive integrated autocorrelation C_F = {c_f:.3g} for {label}; "
            f"error set to NaN",
            RuntimeWarning,
            stacklevel=3,
        )
        return float("nan"), float("nan"), float("nan")
    tau = c_f / (2.0 * g[0])
    return float(np.sqrt(c_f / n_tot)), float(tau), float(tau * np.sqrt((4 * w + 2) / n_tot))


def _prepare(data, replicas, S):
    arr, was_1d = as_data(data, name="data", min_rows=2)
    S = check_positive_float(S, "S")
    groups, _ = replica_groups(replicas, arr.shape[0])
    n_min = min(len(g) for g in groups)
    if n_min < 2:
        raise InputError(f"replicas: every replica needs >= 2 samples, got a replica with {n_min}")
    return arr, was_1d, groups, S, n_min // 2


def gamma_method(data, func=None, replicas=None, S=1.5):
    """Mean (or derived quantity) with error by Wolff's Γ-method [hep-lat/0306017].

    ``data``: shape (N,) or (N, A), rows in Monte Carlo time order.
    ``replicas``: optional length-N integer labels of independent chains; the
    autocorrelation function is computed within replicas and summed.
    ``func``: maps the vector of primary means ā (shape (A,)) to a scalar or a
    1-D array of K derived quantities; it is linearised by central finite
    differences with step h_α = sqrt(Γ_αα(0)/N) (Wolff sec. 2).  ``S``: window
    parameter of the automatic windowing (sec. 3.3).

    Returns an :class:`Estimate` (1-D data without ``func``, or scalar ``func``)
    or a list of Estimates.  The value is f(ā); the error is sqrt(C_F/N) after
    Wolff's bias correction; ``tau_int_error`` follows eq. (42).
    """
    arr, was_1d, groups, S, w_max = _prepare(data, replicas, S)
    n_tot, n_obs = arr.shape
    means = arr.mean(axis=0)
    delta = arr - means

    if func is None:
        values = means
        grad = None
        scalar = was_1d
    else:
        values, scalar = eval_func(func, means)
        var0 = np.einsum("ij,ij->j", delta, delta) / n_tot
        grad = np.empty((n_obs, values.size))
        for a in range(n_obs):
            h = np.sqrt(var0[a] / n_tot)
            if h == 0:
                h = 1e-8 * max(abs(means[a]), 1.0)
            step = np.zeros(n_obs)
            step[a] = h
            up, _ = eval_func(func, means + step)
            down, _ = eval_func(func, means - step)
            if up.shape != values.shape or down.shape != values.shape:
                raise InputError("func must return the same number of outputs for every argument, "
                                 f"got {values.size}, {up.size} and {down.size}")
            grad[a] = (up - down) / (2 * h)
        delta = delta @ grad  # projected fluctuations δ_F(i)

    gamma = _gamma(delta, groups, w_max)
    results = []
    for k in range(delta.shape[1]):
        err, tau, dtau = _analyse(gamma[:, k], n_tot, S, label=f"observable {k}")
        results.append(Estimate(float(values[k]), err, tau, dtau))
    return results[0] if scalar else results


def integrated_autocorr_time(x, replicas=None, S=1.5) -> tuple[float, float]:
    """(τ_int, δτ_int) of a 1-D series by Wolff's Γ-method (hep-lat/0306017; error from eq. 42)."""
    x = as_1d(x, name="x", min_rows=2)
    est = gamma_method(x, replicas=replicas, S=S)
    return est.tau_int, est.tau_int_error


def effective_sample_size(x, replicas=None, S=1.5) -> float:
    """Effective number of independent samples N / (2 τ_int) (Wolff, hep-lat/0306017)."""
    x = as_1d(x, name="x", min_rows=2)
    tau, _ = integrated_autocorr_time(x, replicas=replicas, S=S)
    return float(x.shape[0] / (2.0 * tau))


def autocorrelation_function(x, max_lag=None) -> np.ndarray:
    """Normalised autocorrelation ρ(t) = Γ(t)/Γ(0), t = 0..max_lag (Wolff, hep-lat/0306017), via FFT.

    Γ(t) = 1/(N−t) Σ_{i=1}^{N−t} δ(i) δ(i+t).  ``max_lag`` defaults to N//2 and
    must satisfy 0 <= max_lag <= N−1.  For constant data ρ = (1, 0, 0, ...).
    """
    x = as_1d(x, name="x", min_rows=1)
    n = x.shape[0]
    if max_lag is None:
        max_lag = n // 2
    max_lag = check_positive_int(max_lag, "max_lag", minimum=0)
    if max_lag > n - 1:
        raise InputError(f"max_lag must be an integer in [0, N-1] = [0, {n - 1}], got {max_lag}")
    gamma = _gamma((x - x.mean())[:, None], [np.arange(n)], max_lag)[:, 0]
    if gamma[0] <= 0:
        rho = np.zeros(max_lag + 1)
        rho[0] = 1.0
        return rho
    return gamma / gamma[0]
