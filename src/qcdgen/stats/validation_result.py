"""A validation result as plain data: what the ``report`` layer turns into HTML and JSON.

Domain pipelines (lattice, heavy-ion) fill one of these; they never draw or format
anything themselves. Everything is NumPy arrays, floats and strings, so a result can
be built in a test without any plotting library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qcdgen.jsonutil import json_float
from qcdgen.stats.compare import ComparisonRow, ValidationTable

__all__ = ["Check", "Histogram", "Series", "ValidationResult", "Y_SCALES"]


Y_SCALES = ("linear", "log", "symlog")


@dataclass
class Series:
    """A curve measured on both sides, e.g. G(r) against r or κ_n against n.

    ``y_scale`` is the scale of the value axis: "linear", "log" (points <= 0 are not drawn) or
    "symlog" (logarithmic in |y| beyond ``linthresh``, linear inside it, so values of both signs
    spanning many decades, and error bars crossing zero, are all visible). ``log_y=True`` is the
    older spelling of ``y_scale="log"`` and still works. ``linthresh`` (symlog only): the half-width
    of the linear region; ``None`` picks a power of ten from the data.
    """

    name: str
    x: np.ndarray
    reference: np.ndarray
    reference_error: np.ndarray
    generated: np.ndarray
    generated_error: np.ndarray
    xlabel: str = "x"
    ylabel: str = ""
    log_y: bool = False
    y_scale: str = "linear"
    linthresh: float | None = None

    def __post_init__(self) -> None:
        if self.y_scale not in Y_SCALES:
            raise ValueError(f"Series {self.name!r}: y_scale must be one of {Y_SCALES}, got {self.y_scale!r}")
        if self.log_y and self.y_scale == "symlog":
            raise ValueError(f"Series {self.name!r}: log_y=True contradicts y_scale='symlog'")
        if self.linthresh is not None and not (math.isfinite(self.linthresh) and self.linthresh > 0):
            raise ValueError(f"Series {self.name!r}: linthresh must be a finite number > 0 or None, "
                             f"got {self.linthresh!r}")

    @property
    def scale(self) -> str:
        """The effective value-axis scale: "log" if ``log_y`` is set, else ``y_scale``."""
        return "log" if self.log_y else self.y_scale


def _outside(values: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    below = int(np.count_nonzero(values < lo))
    return below, int(values.size - below - np.count_nonzero((values >= lo) & (values <= hi)))


@dataclass
class Histogram:
    """Raw counts of one quantity in common bins (edges has one more entry than the counts).

    ``*_tau_int`` is the integrated autocorrelation time of the entries (0.5 = independent): a
    Markov chain's bin counts fluctuate √(2τ_int) times more than Poisson, and the error bars say so.

    ``*_underflow`` / ``*_overflow``: entries below ``edges[0]`` / not in any bin above it (values
    above ``edges[-1]``, +inf and NaN), so in-range + underflow + overflow = all entries. ``None``
    means "not recorded" (the plot then normalises to the in-range entries and says so).
    :meth:`from_samples` fills them.
    """

    name: str
    edges: np.ndarray
    reference: np.ndarray
    generated: np.ndarray
    xlabel: str = ""
    reference_tau_int: float = 0.5
    generated_tau_int: float = 0.5
    reference_underflow: int | None = None
    reference_overflow: int | None = None
    generated_underflow: int | None = None
    generated_overflow: int | None = None

    @classmethod
    def from_samples(cls, name: str, reference, generated, edges, xlabel: str = "",
                     reference_tau_int: float = 0.5, generated_tau_int: float = 0.5) -> Histogram:
        """Bin both samples in ``edges`` (last bin closed, as :func:`numpy.histogram`) and record
        how many entries of each fall outside."""
        edges = np.asarray(edges, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise ValueError(f"histogram {name!r}: edges must be >= 2 finite increasing numbers")
        sides = {}
        for side, values in (("reference", reference), ("generated", generated)):
            values = np.asarray(values, dtype=float).ravel()
            under, over = _outside(values, edges[0], edges[-1])
            sides[side] = (np.histogram(values[np.isfinite(values)], edges)[0], under, over)
        return cls(name=name, edges=edges, reference=sides["reference"][0], generated=sides["generated"][0],
                   xlabel=xlabel, reference_tau_int=reference_tau_int, generated_tau_int=generated_tau_int,
                   reference_underflow=sides["reference"][1], reference_overflow=sides["reference"][2],
                   generated_underflow=sides["generated"][1], generated_overflow=sides["generated"][2])

    @property
    def outside_recorded(self) -> bool:
        """True if all four underflow/overflow counts are known."""
        return None not in (self.reference_underflow, self.reference_overflow,
                            self.generated_underflow, self.generated_overflow)

    def total(self, side: str) -> int | None:
        """All entries of ``side`` ("reference" or "generated"): in range + outside; None if outside unknown."""
        if side not in ("reference", "generated"):
            raise ValueError(f"side must be 'reference' or 'generated', got {side!r}")
        under, over = getattr(self, f"{side}_underflow"), getattr(self, f"{side}_overflow")
        if under is None or over is None:
            return None
        counts = np.asarray(getattr(self, side), dtype=float)
        return int(round(float(counts[np.isfinite(counts)].sum()))) + int(under) + int(over)


@dataclass
class Check:
    """An extra pass/fail test beside the pull table (e.g. the memorisation check)."""

    name: str
    passed: bool
    detail: str
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": bool(self.passed), "detail": self.detail,
                "values": {k: json_float(v) if isinstance(v, (int, float, np.floating)) else v
                           for k, v in self.values.items()}}


@dataclass
class ValidationResult:
    """Everything a report shows. ``passed`` needs the pull table and every check to pass.

    - ``info``: run facts shown as a two-column table (files, action, sampler, acceptance …).
    - ``series``/``histograms``: reference against generated, drawn as plots.
    - ``images``: name -> array [k, L, L] of example 2D configurations, drawn as heat maps.
    - ``loss_curve``: (steps, losses) of the training run, or None.
    - ``aliases``: dropped name -> kept name, for observables that are the same estimator of the
      same data as a row of the table (e.g. ``{"kappa2": "chi2"}``): each quantity is one row and
      counts once in χ²/ndf; :meth:`row` finds a row under either name.
    """

    title: str
    table: ValidationTable
    info: dict[str, str] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    loss_curve: tuple[np.ndarray, np.ndarray] | None = None
    checks: list[Check] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.table.passed and all(c.passed for c in self.checks)

    def row(self, observable: str) -> ComparisonRow:
        """The table row of ``observable`` or of the observable it is an alias of; KeyError if neither."""
        name = self.aliases.get(observable, observable)
        for r in self.table.rows:
            if r.observable == name:
                return r
        raise KeyError(observable)

    def to_dict(self) -> dict:
        """``{"passed", "rows": [...], "checks": [...], "info": {...}}`` (strict JSON: inf/NaN -> None),
        plus ``"aliases": {dropped: kept}`` when some observables were merged."""
        out = {"passed": self.passed, "rows": self.table.to_dict()["rows"],
               "checks": [c.to_dict() for c in self.checks], "info": dict(self.info)}
        if self.aliases:
            out["aliases"] = dict(self.aliases)
        return out
