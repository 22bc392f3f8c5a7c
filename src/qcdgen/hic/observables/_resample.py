"""Event-resampling errors for observables that are functions of event-averaged columns (private).

Every heavy-ion observable here is ``f(column means)``: a weighted event average
``Σ_ev w·x / Σ_ev w`` is the ratio of the means of the per-event columns ``w·x`` and ``w``,
a cumulant is a polynomial in such ratios, and so on. Errors therefore come from resampling
*events* and re-evaluating ``f`` on the resampled column means:

- ``"jackknife"``: delete-one-group jackknife. Event i goes to group ``i mod G`` (events are
  independent, and striding keeps every group a fair sample even when a file is ordered, e.g.
  by impact parameter); ``f_g = f(means without group g)``;
  error² = (G−1)/G Σ_g (f_g − f̄)² (delete-a-group jackknife; Efron & Tibshirani,
  "An Introduction to the Bootstrap", 1993, ch. 11).
- ``"bootstrap"``: ``n_boot`` replicas drawing N events with replacement (seeded, the same
  replicas for every observable of one :class:`Resampler`); error = std of ``f`` over replicas.

The central value is always ``f(means of all events)``. ``qcdgen.stats.jackknife`` is not used
because it bins *consecutive* samples and drops the trailing incomplete bin (right for Markov
chains, but it would discard events here) and refuses non-finite replicas, whereas an unphysical
cumulant must come back as NaN with a flag.

A non-finite central value gives ``Estimate(nan, nan)``; a finite value with non-finite replicas
gives ``Estimate(value, nan)``; both are reported in the returned flags, never averaged away.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from qcdgen.errors import InputError
from qcdgen.stats import Estimate

ERROR_METHODS = ("jackknife", "bootstrap")


class ObservableWarning(RuntimeWarning):
    """An observable came out NaN (or with a NaN error); the message says which and why."""


#: bootstrap event-count matrices up to this many entries are kept, larger ones regenerated
_BOOT_CACHE_ENTRIES = 4_000_000


def check_errors_args(errors: str, n_groups: int, n_boot: int) -> None:
    if errors not in ERROR_METHODS:
        raise InputError(f"errors must be one of {list(ERROR_METHODS)}, got {errors!r}")
    if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)) or n_groups < 2:
        raise InputError(f"n_groups must be an integer >= 2, got {n_groups!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise InputError(f"n_boot must be an integer >= 2, got {n_boot!r}")


class Resampler:
    """Resampled column means for one sample of ``n_events`` events.

    ``func`` passed to :meth:`estimate` takes column means with the columns on the last axis
    (shape ``(A,)`` or ``(R, A)``) and returns outputs with the outputs on the last axis
    (``(K,)`` or ``(R, K)``), i.e. it is written with ``m[..., j]`` and ``np.stack(..., axis=-1)``.
    """

    def __init__(self, n_events: int, errors: str = "jackknife", n_groups: int = 40,
                 n_boot: int = 200, seed: int = 0):
        check_errors_args(errors, n_groups, n_boot)
        if n_events < 2:
            raise InputError(f"event-resampling errors need at least 2 events, got {n_events}")
        self.n_events = int(n_events)
        self.errors = errors
        self.seed = int(seed)
        if errors == "jackknife":
            self.n_groups = min(int(n_groups), self.n_events)
            g = np.arange(self.n_events) % self.n_groups
            self._order = np.argsort(g, kind="stable")
            self._sizes = np.bincount(g, minlength=self.n_groups)
            self._starts = np.concatenate([[0], np.cumsum(self._sizes)[:-1]])
        else:
            self.n_boot = int(n_boot)
            self._boot = None
            if self.n_boot * self.n_events <= _BOOT_CACHE_ENTRIES:
                self._boot = np.stack([self._boot_counts(b) for b in range(self.n_boot)]).astype(np.float32)

    def _boot_counts(self, b: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, b])
        return np.bincount(rng.integers(0, self.n_events, self.n_events), minlength=self.n_events)

    def means(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(means over all events (A,), resampled means (R, A)) of per-event columns (N, A)."""
        cols = np.asarray(cols, dtype=np.float64)
        if cols.ndim == 1:
            cols = cols[:, None]
        if cols.shape[0] != self.n_events:
            raise ValueError(f"columns have {cols.shape[0]} rows, resampler was built for {self.n_events}")
        total = cols.sum(axis=0)
        full = total / self.n_events
        if self.errors == "jackknife":
            group_sums = np.add.reduceat(cols[self._order], self._starts, axis=0)
            reps = (total[None, :] - group_sums) / (self.n_events - self._sizes)[:, None]
        elif self._boot is not None:
            reps = (self._boot @ cols) / self.n_events
        else:
            reps = np.empty((self.n_boot, cols.shape[1]))
            for b in range(self.n_boot):
                reps[b] = self._boot_counts(b) @ cols / self.n_events
        return full, reps

    def estimate(self, cols: np.ndarray, func: Callable[[np.ndarray], np.ndarray] | None,
                 names: Sequence[str]) -> tuple[list[Estimate], list[str]]:
        """Estimates of ``func(column means)`` (``None``: the means themselves) and flags."""
        full, reps = self.means(cols)
        with np.errstate(all="ignore"):
            value = np.atleast_1d(np.asarray(full if func is None else func(full), dtype=np.float64))
            f_r = np.asarray(reps if func is None else func(reps), dtype=np.float64).reshape(len(reps), -1)
        if value.size != len(names) or f_r.shape[1] != len(names):
            raise ValueError(f"func returned {value.size} outputs, {len(names)} names given")
        out, flags = [], []
        for j, name in enumerate(names):
            v, fr = float(value[j]), f_r[:, j]
            if not np.isfinite(v):
                out.append(Estimate(float("nan"), float("nan")))
                flags.append(f"{name}: value is not finite (NaN reported)")
                continue
            bad = ~np.isfinite(fr)
            if bad.any():
                out.append(Estimate(v, float("nan")))
                flags.append(f"{name}: {int(bad.sum())} of {len(fr)} {self.errors} resamples are not "
                             f"finite, error reported as NaN")
                continue
            if self.errors == "jackknife":
                g = len(fr)
                err = np.sqrt((g - 1) / g * ((fr - fr.mean()) ** 2).sum())
            else:
                err = fr.std(ddof=1)
            out.append(Estimate(v, float(err)))
        return out, flags
