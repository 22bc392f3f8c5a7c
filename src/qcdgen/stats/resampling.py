"""Binning, jackknife and Flyvbjerg–Petersen blocking error estimates."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.stats

from qcdgen.checks import (
    NonFiniteDataError,
    as_1d,
    as_data,
    check_positive_int,
    eval_func,
    replica_groups,
)
from qcdgen.errors import InputError
from qcdgen.stats.estimate import Estimate

__all__ = ["bin_data", "jackknife", "blocking_error", "naive_error"]

#: minimum number of blocks for a blocking level to take part in the plateau search
MIN_BLOCKS = 32


def _bin(arr: np.ndarray, bin_size: int, groups, labels) -> tuple[np.ndarray, np.ndarray]:
    chunks, bin_labels = [], []
    for idx, lab in zip(groups, labels):
        nb = len(idx) // bin_size
        if nb == 0:
            continue
        sel = arr[idx[: nb * bin_size]]
        chunks.append(sel.reshape(nb, bin_size, arr.shape[1]).mean(axis=1))
        bin_labels.append(np.full(nb, lab))
    if not chunks:
        longest = max(len(g) for g in groups)
        raise InputError(f"bin_size must be <= the longest replica length {longest}, got {bin_size}")
    return np.concatenate(chunks), np.concatenate(bin_labels)


def bin_data(data, bin_size, replicas=None) -> tuple[np.ndarray, np.ndarray]:
    """Means over non-overlapping bins of ``bin_size`` consecutive samples (standard binning).

    Bins never straddle replica boundaries; samples of one replica are taken in
    the order they appear in ``data``; each replica's incomplete trailing bin
    is dropped.  Returns ``(binned, bin_labels)`` with ``binned`` of shape
    (n_bins,) or (n_bins, A) like ``data``, and the replica label of each bin
    (0 for all when ``replicas`` is None).
    """
    arr, was_1d = as_data(data, name="data")
    bin_size = check_positive_int(bin_size, "bin_size")
    groups, labels = replica_groups(replicas, arr.shape[0])
    binned, bin_labels = _bin(arr, bin_size, groups, labels)
    return (binned[:, 0] if was_1d else binned), bin_labels


def jackknife(data, func=None, bin_size=1, replicas=None, bias_corrected=False):
    """Delete-one-bin jackknife (Quenouille–Tukey; e.g. Efron, SIAM 1982, ch. 3).

    Data are first binned with :func:`bin_data` (``bin_size`` should exceed the
    autocorrelation time).  With n bins, f_i = f(mean without bin i) and
    error = sqrt((n−1)/n Σ_i (f_i − f̄)²).  The value is f(mean of the binned
    samples), or the bias-corrected n f(mean) − (n−1) f̄ if ``bias_corrected``.
    ``func`` follows :func:`gamma_method`: means vector (A,) -> scalar or 1-D
    array; None gives the mean of each column.  ``tau_int`` of the returned
    Estimates is not estimated and keeps its default.
    """
    arr, was_1d = as_data(data, name="data")
    bin_size = check_positive_int(bin_size, "bin_size")
    groups, labels = replica_groups(replicas, arr.shape[0])
    bins, _ = _bin(arr, bin_size, groups, labels)
    n = bins.shape[0]
    if n < 2:
        raise InputError(f"jackknife needs >= 2 bins; bin_size={bin_size} leaves {n} bin(s) "
                         f"of N={arr.shape[0]} samples")
    total = bins.sum(axis=0)
    full = total / n
    loo = (total[None, :] - bins) / (n - 1)  # leave-one-out means, shape (n, A)

    if func is None:
        values, scalar = full, was_1d
        f_i = loo
    else:
        values, scalar = eval_func(func, full)
        f_i = np.empty((n, values.size))
        for i in range(n):
            out = np.atleast_1d(np.asarray(func(loo[i].copy()), dtype=float))
            if out.shape != values.shape:
                raise InputError(f"func must return the same number of outputs for every argument, "
                                 f"got {values.size} and {out.size}")
            f_i[i] = out
        if not np.all(np.isfinite(f_i)):
            bad = np.flatnonzero(~np.all(np.isfinite(f_i), axis=1))
            raise NonFiniteDataError(f"func returned non-finite values on {bad.size} of {n} "
                                     f"jackknife samples (first: sample {bad[0]})")
    f_bar = f_i.mean(axis=0)
    err = np.sqrt((n - 1) / n * ((f_i - f_bar) ** 2).sum(axis=0))
    if bias_corrected:
        values = n * values - (n - 1) * f_bar
    res = [Estimate(float(v), float(e)) for v, e in zip(values, err)]
    return res[0] if scalar else res


def naive_error(x) -> float:
    """Error of the mean ignoring autocorrelations, s/sqrt(N) with the ddof=1 sample std."""
    x = as_1d(x, name="x", min_rows=2)
    return float(x.std(ddof=1) / np.sqrt(x.shape[0]))


def _lag1_autocorr(blocks: np.ndarray, block_labels: np.ndarray) -> float:
    """Lag-1 autocorrelation of block means, pairs taken within replicas only."""
    d = blocks - blocks.mean()
    same = block_labels[1:] == block_labels[:-1]
    denom = d @ d
    return float((d[:-1] * d[1:])[same].sum() / denom) if denom > 0 else 0.0


def blocking_error(x, replicas=None, confidence: float = 0.99) -> tuple[float, np.ndarray, np.ndarray]:
    """Flyvbjerg–Petersen blocking error of the mean, J. Chem. Phys. 91 (1989) 461.

    Block sizes b = 1, 2, 4, ... (blocks built within replicas, trailing
    samples dropped) while at least 2 blocks remain; at each level the naive
    error e_b = s_b/sqrt(n_b) of the n_b block means (Flyvbjerg–Petersen).

    Plateau rule (an automated test in the spirit of M. Jonsson, Phys. Rev. E
    98 (2018) 043304): once blocks are independent, the lag-1 autocorrelation
    r_b of the block means satisfies n_b r_b² ~ χ²_1.  Among levels with
    n_b >= 32, the plateau is the first level k with
    Σ_{levels j >= k} n_j r_j² below the ``confidence`` quantile of χ² with as
    many degrees of freedom as terms; e_k is returned.  This selects the first
    level whose value agrees, within statistical uncertainty, with all later
    reliable levels.  If no level qualifies (or no level has >= 32 blocks) a
    RuntimeWarning is issued and the error at the largest block size with
    >= 32 blocks (or b = 1) is returned.

    Returns ``(plateau error, block sizes, errors)``.
    """
    x = as_1d(x, name="x", min_rows=2)
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    groups, labels = replica_groups(replicas, x.shape[0])
    arr = x[:, None]
    sizes, errs, nbs, stat = [], [], [], []
    b = 1
    while sum(len(g) // b for g in groups) >= 2:
        blocks, block_labels = _bin(arr, b, groups, labels)
        blocks = blocks[:, 0]
        n_b = blocks.shape[0]
        sizes.append(b)
        nbs.append(n_b)
        errs.append(blocks.std(ddof=1) / np.sqrt(n_b))
        stat.append(n_b * _lag1_autocorr(blocks, block_labels) ** 2)
        b *= 2
    sizes = np.asarray(sizes)
    errs = np.asarray(errs)
    cand = np.flatnonzero(np.asarray(nbs) >= MIN_BLOCKS)
    if cand.size:
        tail = np.cumsum(np.asarray(stat)[cand][::-1])[::-1]  # Σ_{j >= k} n_j r_j^2
        dof = np.arange(cand.size, 0, -1)
        ok = np.flatnonzero(tail < scipy.stats.chi2.ppf(confidence, dof))
        if ok.size:
            return float(errs[cand[ok[0]]]), sizes, errs
    fallback = cand[-1] if cand.size else 0
    warnings.warn(
        f"blocking_error: no plateau found among {cand.size} block levels with >= {MIN_BLOCKS} "
        f"blocks (N={x.shape[0]}); returning the error at block size {sizes[fallback]}, "
        f"which may be underestimated",
        RuntimeWarning,
        stacklevel=2,
    )
    return float(errs[fallback]), sizes, errs
