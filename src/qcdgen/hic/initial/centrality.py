"""Centrality: percentiles of the inelastic cross section.

A :class:`CentralityCalibration` is built from a minimum-bias sample of an ordering variable:
the impact parameter (small b = central) or a multiplicity-like quantity such as the total
entropy (large = central). The centrality of a value x is the percentage of events that are
more central than x, from the empirical distribution with mid-ranks for ties and linear
interpolation between distinct sample values (0 % = most central, 100 % = most peripheral).

Geometric centrality (by impact parameter) for Glauber events comes from
:func:`b_range_for_centrality`: percentiles of b among *inelastic* minimum-bias events; for
small c it approaches b = √(c σ_inel / π).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

from qcdgen.checks import as_1d, check_positive_int
from qcdgen.errors import InputError
from qcdgen.hic.centrality import ALICE_CLASSES
from qcdgen.hic.initial.glauber import COLLISION_MODELS, minimum_bias_trials, resolve_sigma_nn
from qcdgen.hic.initial.nuclei import Nucleus, as_nucleus

__all__ = ["CentralityCalibration", "DEFAULT_CLASSES", "parse_centrality",
           "b_range_for_centrality", "impact_parameter_calibration"]

#: the usual ALICE-style classes, in percent
DEFAULT_CLASSES = ALICE_CLASSES

_RANGE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*(?:-|–|—|:|to)\s*(\d+(?:\.\d*)?|\.\d+)\s*%?\s*$")


def parse_centrality(text) -> tuple[float, float]:
    """``"0-10"`` (also ``"0–10%"``, ``"20:30"``, ``(0, 10)``) → (0.0, 10.0), checked 0 ≤ lo < hi ≤ 100."""
    if isinstance(text, str):
        m = _RANGE_RE.match(text)
        if not m:
            raise InputError(f"centrality must look like 'lo-hi' in percent, e.g. '0-10', got {text!r}")
        lo, hi = float(m.group(1)), float(m.group(2))
    else:
        try:
            lo, hi = (float(v) for v in text)
        except (TypeError, ValueError):
            raise InputError(f"centrality must be 'lo-hi' or a pair (lo, hi) in percent, "
                             f"got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not 0.0 <= lo < hi <= 100.0:
        raise InputError(f"centrality class must satisfy 0 <= lo < hi <= 100 (percent), got {text!r}")
    return lo, hi


@dataclass(frozen=True)
class CentralityCalibration:
    """Map an ordering variable to centrality percent from a minimum-bias sample.

    Build with :meth:`from_impact_parameter` or :meth:`from_multiplicity`.
    ``values`` are the distinct sample values (ascending) and ``cdf`` the mid-rank
    cumulative fraction at each of them.
    """

    values: np.ndarray
    cdf: np.ndarray
    larger_is_central: bool
    n_events: int
    variable: str = "x"

    @classmethod
    def _build(cls, sample, larger_is_central: bool, name: str) -> "CentralityCalibration":
        v = as_1d(sample, name=name, min_rows=2)
        u, cnt = np.unique(v, return_counts=True)
        if u.size < 2:
            raise InputError(f"{name} must contain at least two distinct values to define centrality")
        below = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        cdf = (below + 0.5 * cnt) / v.size
        return cls(u, cdf, larger_is_central, int(v.size), name)

    @classmethod
    def from_impact_parameter(cls, b_values) -> "CentralityCalibration":
        """Calibration from minimum-bias impact parameters (fm); small b is central."""
        b = as_1d(b_values, name="b_values", min_rows=2)
        if np.any(b < 0):
            raise InputError("b_values must be >= 0 fm")
        return cls._build(b, False, "b_values")

    @classmethod
    def from_multiplicity(cls, values) -> "CentralityCalibration":
        """Calibration from a minimum-bias multiplicity-like variable; large is central."""
        return cls._build(values, True, "values")

    @classmethod
    def from_glauber_trials(cls, b, inelastic) -> "CentralityCalibration":
        """Geometric calibration from minimum-bias Glauber trials (``b`` in fm and the bool
        ``inelastic`` of :func:`qcdgen.hic.initial.glauber.minimum_bias_trials`): the
        distribution of b among the inelastic trials. With stratified b² the central classes,
        where every trial interacts, follow c = π b²/σ_inel up to 1/N."""
        b = as_1d(b, name="b", min_rows=2)
        inel = np.asarray(inelastic, dtype=bool)
        if inel.shape != b.shape:
            raise InputError(f"inelastic must have the shape of b {b.shape}, got {inel.shape}")
        if inel.sum() < 2:
            raise InputError("fewer than two inelastic trials: cannot calibrate centrality")
        return cls.from_impact_parameter(b[inel])

    def centrality(self, x) -> np.ndarray | float:
        """Centrality in percent of value(s) ``x`` (0 = most central)."""
        xa = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(xa)):
            raise InputError(f"x must be finite, got {x!r}")
        f = np.interp(xa, self.values, self.cdf, left=0.0, right=1.0)
        c = 100.0 * (1.0 - f if self.larger_is_central else f)
        return float(c) if c.ndim == 0 else c

    def value_at(self, c) -> np.ndarray | float:
        """Inverse of :meth:`centrality`: the ordering-variable value at centrality ``c`` (%)."""
        ca = np.asarray(c, dtype=float)
        if not np.all(np.isfinite(ca)) or np.any((ca < 0) | (ca > 100)):
            raise InputError(f"centrality must be in [0, 100] percent, got {c!r}")
        f = ca / 100.0
        if self.larger_is_central:
            f = 1.0 - f
        # extend the mid-rank table to the sample's end points so that 0 and 100 % map there
        cdf = np.concatenate([[0.0], self.cdf, [1.0]])
        vals = np.concatenate([[self.values[0]], self.values, [self.values[-1]]])
        out = np.interp(f, cdf, vals)
        return float(out) if out.ndim == 0 else out

    def edges(self, classes=DEFAULT_CLASSES) -> np.ndarray:
        """Cut values (n_classes, 2): the variable at each class's (lo, hi) percent.

        For impact parameter the pair is (b_lo, b_hi) ascending; for multiplicity it is
        (value at lo %, value at hi %), i.e. descending.
        """
        cls_ = [parse_centrality(c) for c in classes]
        return np.array([[self.value_at(lo), self.value_at(hi)] for lo, hi in cls_])

    def classify(self, x, classes=DEFAULT_CLASSES) -> np.ndarray:
        """Index of the class (lo ≤ c < hi) of each value, −1 when in none."""
        c = np.atleast_1d(self.centrality(x))
        out = np.full(c.shape, -1, dtype=np.int64)
        for i, cl in enumerate(classes):
            lo, hi = parse_centrality(cl)
            out[(out < 0) & (c >= lo) & ((c < hi) | ((hi == 100.0) & (c <= hi)))] = i
        return out


@functools.lru_cache(maxsize=32)
def _b_calibration_cached(pa: Nucleus, pb: Nucleus, sigma_nn, collision, n_trials, seed, w):
    b, inel, bmax = minimum_bias_trials(pa, pb, None, n_trials, np.random.default_rng(seed),
                                        collision=collision, sigma_nn=sigma_nn, w=w)
    return CentralityCalibration.from_glauber_trials(b, inel), bmax


def impact_parameter_calibration(projectile, target, sqrts=None, *, n_trials: int = 6000,
                                 seed: int = 12345, collision: str = "hard-disk",
                                 sigma_nn=None, w: float = 0.5) -> CentralityCalibration:
    """Geometric centrality calibration from ``n_trials`` minimum-bias Glauber trials
    (:meth:`CentralityCalibration.from_glauber_trials`). Cached per argument set; the fixed
    seed makes it deterministic. 6000 Pb–Pb trials give σ_inel to ≈ 1 %, so b at fixed c
    to ≈ 0.5 % in central classes.
    """
    return _calibration(projectile, target, sqrts, n_trials, seed, collision, sigma_nn, w)[0]


def _calibration(projectile, target, sqrts, n_trials, seed, collision, sigma_nn, w):
    n_trials = check_positive_int(n_trials, "n_trials", minimum=100)
    sig = resolve_sigma_nn(sqrts, sigma_nn)
    if collision not in COLLISION_MODELS:
        raise InputError(f"collision must be one of {COLLISION_MODELS}, got {collision!r}")
    w = float(w) if collision == "trento" else 0.5  # w only matters for the TRENTo kernel
    return _b_calibration_cached(as_nucleus(projectile), as_nucleus(target), float(sig),
                                 collision, n_trials, int(seed), w)


def b_range_for_centrality(c_lo, c_hi=None, projectile="Pb", target="Pb", sqrts=2760.0, *,
                           n_trials: int = 6000, seed: int = 12345, collision: str = "hard-disk",
                           sigma_nn=None, w: float = 0.5) -> tuple[float, float]:
    """Impact-parameter range (b_lo, b_hi) in fm of the geometric centrality class [c_lo, c_hi] %.

    ``c_lo`` may also be a string ``"0-10"`` or a pair, with ``c_hi`` omitted. Percentiles of
    b in the inelastic cross section from :func:`impact_parameter_calibration`; 100 % maps to
    the maximum impact parameter of the Glauber sampling.
    """
    lo, hi = parse_centrality(c_lo if c_hi is None else (c_lo, c_hi))
    cal, bmax = _calibration(projectile, target, sqrts, n_trials, seed, collision, sigma_nn, w)
    b_lo = 0.0 if lo == 0.0 else float(cal.value_at(lo))
    b_hi = bmax if hi == 100.0 else float(cal.value_at(hi))
    return b_lo, b_hi
