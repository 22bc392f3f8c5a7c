"""The rows of ``qcdgen hic validate``: row types, and the rows of one centrality class.

A row compares one observable of one class, generated against reference: values, errors, the
ratio gen/ref with its first-order error for independent samples and the pull. Which rows a
class has depends on what both samples hold (species present, significant cumulants, populated
spectrum bins); see :mod:`qcdgen.hic.surrogate.validate` for the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qcdgen.hic.observables.summary import HARMONICS, SPECIES
from qcdgen.jsonutil import json_float
from qcdgen.stats.compare import ComparisonRow, ValidationTable, pull

__all__ = ["EventRow", "EventValidationTable", "ClassResult", "RowSpec", "estimate_of", "row_values", "row_specs",
           "ratio_with_error", "build_rows", "MIN_BIN_ENTRIES", "CUMULANT_SIGNIFICANCE"]

#: a spectrum bin is compared if either sample has at least this many particles in it
MIN_BIN_ENTRIES = 10
#: |c_n{k}| / σ below which v_n{k} is not Gaussian enough to be tested
CUMULANT_SIGNIFICANCE = 3.0


@dataclass(frozen=True)
class EventRow(ComparisonRow):
    """A :class:`~qcdgen.stats.ComparisonRow` with the class, group, ratio and a flag.

    A non-empty ``flag`` means the row is shown but not tested (NaN, or not Gaussian enough)."""

    centrality_class: str = ""
    group: str = ""
    ratio: float = math.nan
    ratio_error: float = math.nan
    flag: str = ""

    @property
    def tested(self) -> bool:
        return not self.flag

    def to_dict(self) -> dict:
        out = super().to_dict()
        out.update({"class": self.centrality_class, "group": self.group, "ratio": json_float(self.ratio),
                    "ratio_error": json_float(self.ratio_error), "tested": self.tested, "flag": self.flag})
        return out


@dataclass
class EventValidationTable(ValidationTable):
    """Pull table whose flagged rows are shown but neither tested nor counted in χ².

    ``max_abs_pull`` is the effective (look-elsewhere) threshold; ``chi2_tests`` holds
    ``{"all" | group: {"chi2", "ndf", "dof_eff", "p"}}`` with correlations accounted for."""

    chi2_tests: dict = field(default_factory=dict)

    @property
    def tested_rows(self) -> list:
        return [r for r in self.rows if getattr(r, "tested", True)]

    @property
    def passed(self) -> bool:
        rows = self.tested_rows
        return bool(rows) and all(abs(r.pull) < self.max_abs_pull for r in rows)

    def chi2(self) -> tuple[float, int]:
        rows = self.tested_rows
        return float(sum(r.pull ** 2 for r in rows)), len(rows)


@dataclass
class ClassResult:
    """Estimates of one class in one sample, plus delete-group replicas of every row value."""

    obs: dict
    spectra: dict
    flags: dict
    n_events: int
    idx: np.ndarray


@dataclass(frozen=True)
class RowSpec:
    """What one row compares: the estimate's key, the row name (without the class), its χ² group and,
    when set, why it is shown but not tested."""

    key: object          # observable name, or ("spec", species, bin)
    name: str            # row name without the class
    group: str
    flag: str = ""


def estimate_of(res: ClassResult, key) -> tuple[float, float]:
    """(value, error) of an observable name or a ``("spec", species, bin)`` key; NaN if absent."""
    if isinstance(key, tuple):
        sp = res.spectra.get(key[1])
        return (math.nan, math.nan) if sp is None else (float(sp.values[key[2]]), float(sp.errors[key[2]]))
    est = res.obs.get(key)
    return (math.nan, math.nan) if est is None else (float(est.value), float(est.error))


def row_values(obs: dict, spectra: dict, specs: list[RowSpec]) -> np.ndarray:
    """The values of the rows ``specs`` from one sample's observables and spectra."""
    res = ClassResult(obs, spectra, {}, 0, np.empty(0))
    return np.array([estimate_of(res, s.key)[0] for s in specs])


def _flow_specs(g: ClassResult, r: ClassResult, n: int, label: str, sign: float) -> list[RowSpec]:
    """v_n{label} tested if c_n{label} is significant with the physical sign on both sides, else c."""
    vname, cname = f"v{n}{{{label}}}", f"c{n}{{{label}}}"
    bad = []
    for side, res in (("generated", g), ("reference", r)):
        c, ce = estimate_of(res, cname)
        v, _ = estimate_of(res, vname)
        if not (math.isfinite(v) and math.isfinite(c) and ce > 0 and sign * c >= CUMULANT_SIGNIFICANCE * ce):
            bad.append(side)
    if not bad:
        return [RowSpec(vname, vname, "flow")]
    why = (f"not tested: {cname} is within {CUMULANT_SIGNIFICANCE:g} sigma of 0 or of the unphysical sign in "
           f"{' and '.join(bad)}, so {vname} is not Gaussian; {cname} is tested instead")
    return [RowSpec(vname, vname, "flow", why), RowSpec(cname, cname, "flow")]


def row_specs(g: ClassResult, r: ClassResult, skipped: dict) -> list[RowSpec]:
    """The rows of one class (which depend on what both samples hold)."""
    present = [s for s in SPECIES if estimate_of(g, f"mult({s})")[0] > 0 or estimate_of(r, f"mult({s})")[0] > 0]
    skipped["absent species"].update(s for s in SPECIES if s not in present)
    specs = [RowSpec("dNch/deta", "dNch/deta", "yields")]
    for s in present:
        specs += [RowSpec(f"mult({s})", f"{s} multiplicity", "yields"), RowSpec(f"dN/dy({s})", f"{s} dN/dy", "yields")]
    specs += [RowSpec("net_charge", "net charge", "yields"), RowSpec("net_baryon", "net baryon", "yields"),
              RowSpec("mean_pt", "charged <pT>", "mean pT")]
    specs += [RowSpec(f"mean_pt({s})", f"{s} <pT>", "mean pT") for s in present]
    for n, orders in HARMONICS.items():
        for k in orders:
            specs += _flow_specs(g, r, n, str(k), -1.0 if k in (4, 8) else 1.0)
        if f"v{n}{{2,|deta|>1}}" in g.obs:
            specs += _flow_specs(g, r, n, "2,|deta|>1", 1.0)
    specs += [RowSpec("dpt_dpt", "<dpT dpT>", "fluctuations"), RowSpec("dpt3", "<dpT dpT dpT>", "fluctuations")]
    for n in HARMONICS:
        rho_ok = all(math.isfinite(estimate_of(x, f"rho{n}")[0]) for x in (g, r))
        specs.append(RowSpec(f"rho{n}", f"rho{n}", "fluctuations", "" if rho_ok else
                             f"not tested: rho{n} is NaN on a side; cov(v{n}^2,pt) is tested instead"))
        if not rho_ok:
            specs.append(RowSpec(f"cov(v{n}^2,pt)", f"cov(v{n}^2,pT)", "fluctuations"))
    for sp in ("charged",) + tuple(present):
        sg, sr = g.spectra.get(sp), r.spectra.get(sp)
        if sg is None or sr is None:
            continue
        norm = np.diff(sg.edges) * 2 * sg.window
        for i, (lo, hi) in enumerate(zip(sg.edges[:-1], sg.edges[1:])):
            entries = max(sg.values[i] * norm[i] * g.n_events, sr.values[i] * norm[i] * r.n_events)
            if not entries >= MIN_BIN_ENTRIES:
                skipped["sparse spectrum bins"] += 1
                continue
            specs.append(RowSpec(("spec", sp, i), f"{sp} dN/dpT[{lo:.2f}-{hi:.2f}]", "spectra"))
    return specs


def ratio_with_error(g: float, ge: float, f: float, fe: float) -> tuple[float, float]:
    """g/f and its first-order error √(σ_g² + (g/f)² σ_f²)/|f| for independent g and f.

    NaN unless g and f are finite and f ≠ 0."""
    if not (math.isfinite(f) and f != 0 and math.isfinite(g)):
        return math.nan, math.nan
    r = g / f
    return r, math.sqrt(ge ** 2 + (r * fe) ** 2) / abs(f)


def _flag(spec: RowSpec, g: ClassResult, r: ClassResult, gv, ge, rv, re_) -> str:
    if spec.flag:
        return spec.flag
    bad = [f"{side}: {res.flags.get(str(spec.key), 'value or error is NaN')}"
           for side, res, v, e in (("generated", g, gv, ge), ("reference", r, rv, re_))
           if not (math.isfinite(v) and math.isfinite(e))]
    return ("NaN, not tested (" + "; ".join(bad) + ")") if bad else ""


def build_rows(label: str, specs: list[RowSpec], g: ClassResult, r: ClassResult, skipped: dict) -> list[EventRow]:
    """The rows of the class ``label``, generated ``g`` against reference ``r`` (rows zero with zero error on both
    sides are counted in ``skipped``, not shown)."""
    rows = []
    for spec in specs:
        gv, ge = estimate_of(g, spec.key)
        rv, re_ = estimate_of(r, spec.key)
        if gv == 0 and rv == 0 and ge == 0 and re_ == 0:
            skipped["identically zero"] += 1
            continue
        ratio, ratio_err = ratio_with_error(gv, ge, rv, re_)
        rows.append(EventRow(f"{label} {spec.name}", rv, re_, gv, ge, pull(rv, re_, gv, ge), centrality_class=label,
                             group=spec.group, ratio=ratio, ratio_error=ratio_err,
                             flag=_flag(spec, g, r, gv, ge, rv, re_)))
    return rows
