"""Reference-vs-generated validation tables built from pulls.

The pull of observable O is (O_gen − O_ref)/sqrt(σ_ref² + σ_gen²), the
standard normal deviate for two independent Gaussian estimates (e.g. PDG,
"Statistics" review, sec. on consistency of measurements).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from qcdgen.checks import check_positive_float
from qcdgen.errors import InputError
from qcdgen.jsonutil import json_float

__all__ = ["ComparisonRow", "ValidationTable", "compare", "pull"]


def pull(ref: float, ref_err: float, gen: float, gen_err: float) -> float:
    """(gen − ref)/sqrt(ref_err² + gen_err²); 0 if both errors vanish and values agree, else ±inf."""
    diff = gen - ref
    denom = math.hypot(ref_err, gen_err)
    if math.isnan(diff) or math.isnan(denom):
        return float("nan")
    if denom == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / denom


@dataclass(frozen=True)
class ComparisonRow:
    """One observable: reference and generated estimates and their pull."""

    observable: str
    reference: float
    reference_error: float
    generated: float
    generated_error: float
    pull: float

    def to_dict(self) -> dict:
        """Dict with keys observable, reference, reference_error, generated, generated_error, pull (inf/nan -> None)."""
        return {
            "observable": str(self.observable),
            "reference": json_float(self.reference),
            "reference_error": json_float(self.reference_error),
            "generated": json_float(self.generated),
            "generated_error": json_float(self.generated_error),
            "pull": json_float(self.pull),
        }


@dataclass
class ValidationTable:
    """Rows of pulls; ``passed`` iff every |pull| < ``max_abs_pull`` (NaN fails, empty table fails)."""

    rows: list[ComparisonRow] = field(default_factory=list)
    max_abs_pull: float = 3.0

    @property
    def passed(self) -> bool:
        """True iff the table has rows and all |pull| < max_abs_pull (a NaN pull fails)."""
        return bool(self.rows) and all(abs(r.pull) < self.max_abs_pull for r in self.rows)

    def chi2(self) -> tuple[float, int]:
        """(Σ pull², ndf = number of rows); χ² with ndf degrees of freedom for independent observables."""
        return float(sum(r.pull ** 2 for r in self.rows)), len(self.rows)

    def to_dict(self) -> dict:
        """JSON-serialisable ``{"passed": bool, "rows": [row.to_dict(), ...]}``."""
        return {"passed": self.passed, "rows": [r.to_dict() for r in self.rows]}

    def format(self) -> str:
        """Plain-text aligned table; rows with |pull| >= max_abs_pull (or NaN) are flagged with '!'."""
        header = ("observable", "reference", "generated", "pull", "")
        lines = []
        for r in self.rows:
            flag = "" if abs(r.pull) < self.max_abs_pull else "!"
            lines.append((
                r.observable,
                f"{r.reference:.6g} ± {r.reference_error:.2g}",
                f"{r.generated:.6g} ± {r.generated_error:.2g}",
                f"{r.pull:+.2f}",
                flag,
            ))
        widths = [max(len(row[i]) for row in [header, *lines]) for i in range(5)]

        def fmt(row):
            cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in (1, 2, 3)] + [row[4]]
            return "  ".join(cells).rstrip()

        chi2, ndf = self.chi2()
        out = [fmt(header), "  ".join("-" * w for w in widths[:4])]
        out += [fmt(row) for row in lines]
        out.append(f"chi2/ndf = {chi2:.2f}/{ndf}   max |pull| allowed < {self.max_abs_pull:g}   "
                   f"{'PASSED' if self.passed else 'FAILED'}")
        return "\n".join(out)


def _value_error(est, side: str, name: str) -> tuple[float, float]:
    try:
        v, e = float(est.value), float(est.error)
    except (AttributeError, TypeError, ValueError):
        raise InputError(f"{side}[{name!r}] must be an Estimate with .value and .error, got {est!r}") from None
    if e < 0:
        raise InputError(f"{side}[{name!r}].error must be >= 0, got {e}")
    return v, e


def compare(reference: Mapping, generated: Mapping, observables=None, max_abs_pull=3.0) -> ValidationTable:
    """Build a :class:`ValidationTable` of pulls between reference and generated Estimates.

    One row per observable present in both mappings (in the reference's order),
    or per name in ``observables``; a requested name missing from either side,
    or no common observable at all, raises InputError.
    """
    max_abs_pull = check_positive_float(max_abs_pull, "max_abs_pull")
    for side, m in (("reference", reference), ("generated", generated)):
        if not isinstance(m, Mapping):
            raise InputError(f"{side} must be a mapping name -> Estimate, got {type(m).__name__}")
    if observables is None:
        names = [k for k in reference if k in generated]
        if not names:
            raise InputError(f"reference and generated share no observable: reference has "
                             f"{sorted(map(str, reference))}, generated has {sorted(map(str, generated))}")
    else:
        if isinstance(observables, str):
            observables = [observables]
        names = list(observables)
        if not names:
            raise InputError("observables must name at least one observable, got an empty list")
        for n in names:
            for side, m in (("reference", reference), ("generated", generated)):
                if n not in m:
                    raise InputError(f"observables: {n!r} is missing from {side}; "
                                     f"available: {sorted(map(str, m))}")
    rows = []
    for n in names:
        rv, re_ = _value_error(reference[n], "reference", n)
        gv, ge = _value_error(generated[n], "generated", n)
        rows.append(ComparisonRow(str(n), rv, re_, gv, ge, pull(rv, re_, gv, ge)))
    return ValidationTable(rows=rows, max_abs_pull=max_abs_pull)
