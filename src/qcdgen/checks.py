"""Argument checks shared by every layer (public).

Every check raises :class:`qcdgen.errors.InputError` with a message naming the parameter, the
offending value and what is allowed, and returns the value converted (``int``, ``float``, a
float array). Non-finite data raise :class:`NonFiniteDataError`, which is both a
:class:`qcdgen.errors.NaNError` and an :class:`qcdgen.errors.InputError`, so callers may catch
either.

- scalars: :func:`check_positive_int`, :func:`check_positive_float` (anything ``float()``
  accepts), :func:`check_real` (a real number, not a bool, within optional bounds),
  :func:`check_choice`;
- data: :func:`as_data`, :func:`as_1d`, :func:`replica_groups`, :func:`eval_func`.

This module replaces ``qcdgen.stats._validate`` (kept as a deprecated re-export),
``qcdgen.inverse.spectral._checks`` and the private checks of the radial Schrödinger solver.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from qcdgen.errors import InputError, NaNError

__all__ = ["NonFiniteDataError", "as_data", "as_1d", "replica_groups", "check_positive_int",
           "check_positive_float", "check_real", "check_choice", "eval_func"]


class NonFiniteDataError(NaNError, InputError):
    """NaN or inf found in statistical input data (never averaged away)."""


def as_data(data, name: str = "data", min_rows: int = 1) -> tuple[np.ndarray, bool]:
    """Return ``(array of shape (N, A), was_1d)`` after validating ``data``."""
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array of shape (N,) or (N, A), "
                         f"got an object that cannot be converted to float ({exc})") from None
    if arr.ndim not in (1, 2):
        raise InputError(f"{name} must have shape (N,) or (N, A), got shape {arr.shape}")
    was_1d = arr.ndim == 1
    if was_1d:
        arr = arr[:, None]
    n, a = arr.shape
    if n == 0 or a == 0:
        raise InputError(f"{name} must be non-empty, got shape {np.shape(data)}")
    if n < min_rows:
        raise InputError(f"{name} needs at least {min_rows} samples (rows), got {n}")
    bad = ~np.isfinite(arr)
    if bad.any():
        per_col = bad.sum(axis=0)
        nan_col = np.isnan(arr).sum(axis=0)
        parts = [f"column {j}: {int(nan_col[j])} NaN, {int(per_col[j] - nan_col[j])} inf"
                 for j in np.flatnonzero(per_col)]
        raise NonFiniteDataError(
            f"{name} contains {int(bad.sum())} non-finite values of {arr.size} "
            f"({'; '.join(parts)}); only finite numbers are allowed")
    return arr, was_1d


def as_1d(x, name: str = "x", min_rows: int = 1) -> np.ndarray:
    """Validate a 1-D finite series and return it as a float array."""
    if np.ndim(x) != 1:
        raise InputError(f"{name} must be a 1-D series of shape (N,), got shape {np.shape(x)}")
    out, _ = as_data(x, name=name, min_rows=min_rows)
    return out[:, 0]


def replica_groups(replicas, n: int, name: str = "replicas") -> tuple[list[np.ndarray], list]:
    """Return (index arrays per replica, labels) in order of first appearance.

    Indices within a replica keep the order in which they appear in the data
    (Monte Carlo time order).  ``replicas=None`` means a single chain.
    """
    if replicas is None:
        return [np.arange(n)], [0]
    lab = np.asarray(replicas)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise InputError(f"{name} must be a 1-D label array of length N={n}, got shape {lab.shape}")
    if lab.dtype.kind not in "iub":
        if lab.dtype.kind == "f" and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab)):
            lab = lab.astype(np.int64)
        else:
            raise InputError(f"{name} must hold integer labels, got dtype {lab.dtype}")
    uniq, first = np.unique(lab, return_index=True)
    order = uniq[np.argsort(first)]
    groups = [np.flatnonzero(lab == r) for r in order]
    return groups, [r.item() for r in order]


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """Validate an integer parameter ``>= minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive_float(value, name: str) -> float:
    """Validate a finite float parameter ``> 0``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_real(value, name: str, low: float | None = None, high: float | None = None,
               low_open: bool = True) -> float:
    """Validate a finite real number (bools and strings rejected) with ``value > low`` (or ``>= low``
    when ``low_open`` is False) and ``value <= high``; return it as a float."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = ([f"{'>' if low_open else '>='} {low:g}"] if low is not None else []) + \
                 ([f"<= {high:g}"] if high is not None else [])
        raise InputError(f"{name} must be a finite number{' ' + ' and '.join(bounds) if bounds else ''}, "
                         f"got {value!r}")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    """Validate that ``value`` is one of ``choices`` (shown comma-separated in the message)."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def eval_func(func, means: np.ndarray, name: str = "func") -> tuple[np.ndarray, bool]:
    """Call ``func(means)``; return (1-D float array of outputs, returned_scalar)."""
    if not callable(func):
        raise InputError(f"{name} must be callable or None, got {func!r}")
    out = np.asarray(func(np.array(means, copy=True)), dtype=float)
    if out.ndim > 1:
        raise InputError(f"{name} must return a scalar or a 1-D array, got shape {out.shape}")
    if out.ndim == 1 and out.size == 0:
        raise InputError(f"{name} must return a scalar or a non-empty 1-D array, got an empty array")
    if not np.all(np.isfinite(out)):
        raise NonFiniteDataError(
            f"{name} returned non-finite value(s) {out.tolist()} at means {np.asarray(means).tolist()}")
    return np.atleast_1d(out), out.ndim == 0


def check_training_flags(settings, min_steps: int = 1) -> None:
    """The optimiser flags every dataless lattice sampler shares: ``steps``, ``batch_size``, ``lr``, ``warmup``,
    ``seed``, ``eval_samples`` (InputError naming the flag). ``min_steps = 0`` where the untrained model is
    already a useful sampler (a flow on a physics prior)."""
    check_positive_int(settings.steps, "--steps", minimum=min_steps)
    check_positive_int(settings.batch_size, "--batch-size", minimum=2)
    if not (isinstance(settings.lr, (int, float)) and math.isfinite(settings.lr) and settings.lr > 0):
        raise InputError(f"--lr must be a finite number > 0, got {settings.lr!r}")
    check_positive_int(settings.warmup, "--warmup", minimum=0)
    check_positive_int(settings.seed, "--seed", minimum=0)
    check_positive_int(settings.eval_samples, "--eval-samples", minimum=2)
