"""A validation result as plain data: what the ``report`` layer turns into HTML and JSON.

Domain pipelines (lattice, heavy-ion) fill one of these; they never draw or format
anything themselves. Everything is NumPy arrays, floats and strings, so a result can
be built in a test without any plotting library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcdgen.stats.compare import ValidationTable, _json_float

__all__ = ["Check", "Histogram", "Series", "ValidationResult"]


@dataclass
class Series:
    """A curve measured on both sides, e.g. G(r) against r or κ_n against n."""

    name: str
    x: np.ndarray
    reference: np.ndarray
    reference_error: np.ndarray
    generated: np.ndarray
    generated_error: np.ndarray
    xlabel: str = "x"
    ylabel: str = ""
    log_y: bool = False


@dataclass
class Histogram:
    """Raw counts of one quantity in common bins (edges has one more entry than the counts).

    ``*_tau_int`` is the integrated autocorrelation time of the entries (0.5 = independent): a
    Markov chain's bin counts fluctuate √(2τ_int) times more than Poisson, and the error bars say so.
    """

    name: str
    edges: np.ndarray
    reference: np.ndarray
    generated: np.ndarray
    xlabel: str = ""
    reference_tau_int: float = 0.5
    generated_tau_int: float = 0.5


@dataclass
class Check:
    """An extra pass/fail test beside the pull table (e.g. the memorisation check)."""

    name: str
    passed: bool
    detail: str
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": bool(self.passed), "detail": self.detail,
                "values": {k: _json_float(v) if isinstance(v, (int, float, np.floating)) else v
                           for k, v in self.values.items()}}


@dataclass
class ValidationResult:
    """Everything a report shows. ``passed`` needs the pull table and every check to pass.

    - ``info``: run facts shown as a two-column table (files, action, sampler, acceptance …).
    - ``series``/``histograms``: reference against generated, drawn as plots.
    - ``images``: name -> array [k, L, L] of example 2D configurations, drawn as heat maps.
    - ``loss_curve``: (steps, losses) of the training run, or None.
    """

    title: str
    table: ValidationTable
    info: dict[str, str] = field(default_factory=dict)
    series: list[Series] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    loss_curve: tuple[np.ndarray, np.ndarray] | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.table.passed and all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        """``{"passed", "rows": [...], "checks": [...], "info": {...}}`` (strict JSON: inf/NaN -> None)."""
        return {"passed": self.passed, "rows": self.table.to_dict()["rows"],
                "checks": [c.to_dict() for c in self.checks], "info": dict(self.info)}
