"""Judge generated heavy-ion events against reference events by physics: ``qcdgen hic validate``.

Both samples go through the ground-truth observables of :mod:`qcdgen.hic.observables`
(the same acceptances, the same centrality classes) and are compared row by row:

- **rows**, named ``"<class> [<species>] <quantity>"``: ``"20-30% dNch/deta"``,
  ``"20-30% pi+ multiplicity"`` (full phase space), ``"20-30% pi+ dN/dy"``,
  ``"20-30% pi+ <pT>"`` (|y| < 0.5), ``"20-30% charged <pT>"`` (⟨⟨pT⟩⟩ in the flow acceptance
  |η| < 0.8, 0.2 < pT < 5 GeV), ``"20-30% v2{2}"``, ``"20-30% v2{4}"``, ``"20-30% v2{2,|deta|>1}"``,
  ``"20-30% <dpT dpT>"``, ``"20-30% <dpT dpT dpT>"``, ``"20-30% rho2"``, ``"20-30% net charge"``,
  ``"20-30% pi+ dN/dpT[0.50-0.75]"`` (1/N d²N/dpT dy at |y| < 0.5 in that pT bin, GeV; species
  ``charged``: per unit η at |η| < 0.5). Each row has generated ± error, reference ± error,
  the ratio gen/ref with its propagated error (independent samples) and the pull
  (gen − ref)/√(σ_gen² + σ_ref²). Errors: event-resampling jackknife (or bootstrap).
- **cumulants**: v_n{k} = (∓c_n{k})^{1/k} is far from Gaussian when c_n{k} is within a few σ
  of 0. A v_n{k} row is tested only if c_n{k} is ≥ 3σ away from 0 with the physical sign on
  both sides; otherwise the c_n{k} row is tested instead and the v row is shown, flagged.
  Likewise ρ_n falls back to cov(v_n², [pT]).
- **NaN** (a cumulant of the unphysical sign, an absent species …): the row is kept with a
  flag saying which side and why, excluded from the pull test and χ², and counted in ``info``;
  never averaged. Species absent from both samples and spectrum bins with fewer than
  ``MIN_BIN_ENTRIES`` particles on both sides are not compared (counted in ``info``).

Pass rules (all must hold):

1. every tested |pull| is below ``max(max_abs_pull, z_N)``, where z_N is the Šidák
   look-elsewhere threshold at which N independent N(0, 1) pulls all stay below with
   probability 1 − ``family_alpha`` (≈ 4.1 for 300 rows at 1 %; a fixed 3 would fail a
   perfect generator in most validations of a few hundred rows). ``family_alpha=None``: 3 is used as is.
2. the χ² p-value lies in [``chi2_alpha``, 1 − ``chi2_alpha``]. χ² = Σ pull² over the tested
   rows; rows within a class are strongly correlated (all yields move with the event
   multiplicity), so the null distribution is Σ λᵢ χ²₁ with λ the eigenvalues of the pull
   correlation matrix R, approximated by Satterthwaite's a·χ²_b (a = tr R²/N,
   b = N²/tr R²). R comes from ``COV_GROUPS`` delete-a-group jackknife replicas of every
   observable on both sides; tr R² is corrected for the noise of the estimated correlations.
   Too *small* a χ² also fails: the samples share events, or the errors are overestimated.
3. the classifier two-sample test (:mod:`~qcdgen.hic.surrogate.two_sample`) does not tell
   the samples apart (AUC < ``auc_threshold`` or not significant).
4. accuracy: the headline ratios (:data:`ACCURACY_ROWS`: multiplicities, dN/dy, ⟨pT⟩, spectrum
   bins, v₂{2}, v₃{2}, v₂{4}) lie within ``tolerance`` (5 %) of 1 "where statistics allow": a row
   whose ratio error exceeds the tolerance is not judged, a judged row fails when
   (|r − 1| − tolerance)/σ_r exceeds the same Šidák threshold as the pulls. Rules 1–2 ask whether
   the samples are statistically identical (at per-mille errors they catch 1 % shifts); this asks
   whether the generator is good to the tolerance a physics use needs.

Centrality: the event field ``centrality`` when both samples have it; otherwise each
sample's mid-rank percentile of its own charged multiplicity at |η| < 0.5 (then both must be
minimum bias, or cover the same centrality range, for the classes to mean the same thing;
``info`` says which was used).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import check_events, count_events, iter_events, read_metadata
from qcdgen.hic.observables.summary import (
    HARMONICS, SPECIES, _batched_columns, _check_classes, _concat_columns, _settings, class_label,
    multiplicity_centrality, summarize_columns)
from qcdgen.hic.surrogate.two_sample import FEATURES, classifier_two_sample_test, event_features
from qcdgen.stats.compare import ComparisonRow, ValidationTable, _json_float, _pull
from qcdgen.stats.validation_result import Check, Histogram, Series, ValidationResult

__all__ = ["validate_events", "EventRow", "EventValidationTable", "DEFAULT_CLASSES", "VALIDATION_PT_BINS",
           "GROUPS"]

#: ALICE's Pb–Pb centrality classes; by default those populated in both samples are compared
DEFAULT_CLASSES = [(0, 5), (5, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 80)]
#: pT bin edges (GeV) of the compared spectra: coarse, so each bin holds many particles
VALIDATION_PT_BINS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
#: row groups of the per-group χ²
GROUPS = ("yields", "spectra", "mean pT", "flow", "fluctuations")
#: a class needs at least this many events in each sample
MIN_CLASS_EVENTS = 20
#: a spectrum bin is compared if either sample has at least this many particles in it
MIN_BIN_ENTRIES = 10
#: delete-a-group jackknife replicas for the correlations of the χ²
COV_GROUPS = 20
#: |c_n{k}| / σ below which v_n{k} is not Gaussian enough to be tested
CUMULANT_SIGNIFICANCE = 3.0
#: species drawn in the spectrum figures
PLOT_SPECIES = ("charged", "pi+", "K+", "p")
#: rows of the accuracy rule, by name suffix ("]" ends a spectrum bin's name); net charge and net
#: baryon are left out: they sit near 0, where a ratio means nothing
ACCURACY_ROWS = (" multiplicity", " dN/dy", "dNch/deta", " <pT>", "]", " v2{2}", " v3{2}", " v2{4}")
#: observables drawn against centrality
PLOT_VS_CENTRALITY = ("dNch/deta", "v2{2}", "v2{4}", "v3{2}", "v2{2,|deta|>1}", "charged <pT>", "<dpT dpT>",
                      "p <pT>")


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
        out.update({"class": self.centrality_class, "group": self.group, "ratio": _json_float(self.ratio),
                    "ratio_error": _json_float(self.ratio_error), "tested": self.tested, "flag": self.flag})
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
class _Sample:
    """Per-event columns of one sample and where they came from."""

    name: str
    cols: dict
    description: str

    @property
    def n_events(self) -> int:
        return len(self.cols["nch_mid"])


@dataclass
class _ClassResult:
    """Estimates of one class in one sample, plus delete-group replicas of every row value."""

    obs: dict
    spectra: dict
    flags: dict
    n_events: int
    idx: np.ndarray


# --------------------------------------------------------------------------- inputs

def _check_args(errors, seed, max_abs_pull, auc_threshold, family_alpha, chi2_alpha, pt_bins, tolerance):
    settings = _settings(0.8, (0.2, 5.0), 1.0, errors, 40, 200, VALIDATION_PT_BINS if pt_bins is None else pt_bins)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    for name, value, lo, hi in (("max_abs_pull", max_abs_pull, 0, math.inf), ("auc_threshold", auc_threshold, 0.5, 1),
                                ("chi2_alpha", chi2_alpha, 0, 0.5), ("tolerance", tolerance, 0, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo < value < hi:
            raise InputError(f"{name} must be a number in ({lo:g}, {hi:g}), got {value!r}")
    if family_alpha is not None and (isinstance(family_alpha, bool) or not isinstance(family_alpha, (int, float))
                                     or not 0 < family_alpha < 1):
        raise InputError(f"family_alpha must be None or a number in (0, 1), got {family_alpha!r}")
    return settings


def _load(source, name: str, settings: dict, bar) -> _Sample:
    """Per-event columns of a Parquet file (row group by row group) or of an event array."""
    if isinstance(source, ak.Array):
        check_events(source, name)
        if len(source) == 0:
            raise InputError(f"{name} holds no events")
        return _Sample(name, _concat_columns(_batched_columns(source, settings)), f"awkward array, {len(source)} events")
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"{name} must be a Parquet event file path or an awkward event array, "
                         f"got {type(source).__name__}")
    path = Path(source)
    total = count_events(path)  # refuses a missing or unreadable file with an InputError
    task = bar.add_task(f"reading {name}", total=total, status="") if bar is not None else None
    chunks = []
    for events in iter_events(path):
        if len(events):
            chunks.extend(_batched_columns(events, settings))
        if bar is not None:
            bar.advance(task, len(events))
    if not chunks:
        raise InputError(f"{name} file {str(path)!r} holds no events")
    meta = read_metadata(path)
    gen = meta.get("generator")
    return _Sample(name, _concat_columns(chunks),
                   f"{path} ({total} events" + (f", generator {gen}" if gen else "") + ")")


def _centralities(gen: _Sample, ref: _Sample) -> tuple[np.ndarray, np.ndarray, str]:
    if "centrality" in gen.cols and "centrality" in ref.cols:
        out = []
        for s in (gen, ref):
            c = np.asarray(s.cols["centrality"], dtype=np.float64)
            if not np.isfinite(c).all():
                raise InputError(f"{s.name}: event field 'centrality' has {int((~np.isfinite(c)).sum())} "
                                 "non-finite values")
            out.append(c)
        return out[0], out[1], "event field 'centrality' (both samples)"
    missing = [s.name for s in (gen, ref) if "centrality" not in s.cols]
    return (multiplicity_centrality(gen.cols["nch_mid"]), multiplicity_centrality(ref.cols["nch_mid"]),
            f"charged multiplicity at |eta|<0.5, ranked within each sample (no 'centrality' field in "
            f"{' and '.join(missing)}); valid only if both samples cover the same centrality range")


def _in_class(cent: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (cent >= lo) & ((cent < hi) | ((hi == 100) & (cent == 100)))


def _classes(requested, cent_g, cent_r) -> list[tuple[float, float]]:
    counts = lambda lo, hi: (int(_in_class(cent_g, lo, hi).sum()), int(_in_class(cent_r, lo, hi).sum()))  # noqa: E731
    if requested is not None:
        classes = _check_classes(requested)
        if not classes:
            raise InputError("centrality_classes must name at least one (lo, hi) class, got an empty list")
        for lo, hi in classes:
            ng, nr = counts(lo, hi)
            if min(ng, nr) < MIN_CLASS_EVENTS:
                raise InputError(f"centrality class {class_label(lo, hi)} has {ng} generated and {nr} reference "
                                 f"events; at least {MIN_CLASS_EVENTS} in each are needed")
        return classes
    classes = [c for c in DEFAULT_CLASSES if min(counts(*c)) >= MIN_CLASS_EVENTS]
    if not classes:
        raise InputError(f"generated and reference share no centrality class with at least {MIN_CLASS_EVENTS} "
                         f"events each (tried {', '.join(class_label(*c) for c in DEFAULT_CLASSES)}; generated "
                         f"spans {cent_g.min():.3g}-{cent_g.max():.3g}%, reference {cent_r.min():.3g}-"
                         f"{cent_r.max():.3g}%); pass centrality_classes")
    return classes


# --------------------------------------------------------------------------- rows

@dataclass(frozen=True)
class _Spec:
    key: object          # observable name, or ("spec", species, bin)
    name: str            # row name without the class
    group: str
    flag: str = ""


def _get(res: _ClassResult, key) -> tuple[float, float]:
    if isinstance(key, tuple):
        sp = res.spectra.get(key[1])
        return (math.nan, math.nan) if sp is None else (float(sp.values[key[2]]), float(sp.errors[key[2]]))
    est = res.obs.get(key)
    return (math.nan, math.nan) if est is None else (float(est.value), float(est.error))


def _values(obs: dict, spectra: dict, specs: list[_Spec]) -> np.ndarray:
    res = _ClassResult(obs, spectra, {}, 0, np.empty(0))
    return np.array([_get(res, s.key)[0] for s in specs])


def _flow_specs(g: _ClassResult, r: _ClassResult, n: int, label: str, sign: float) -> list[_Spec]:
    """v_n{label} tested if c_n{label} is significant with the physical sign on both sides, else c."""
    vname, cname = f"v{n}{{{label}}}", f"c{n}{{{label}}}"
    bad = []
    for side, res in (("generated", g), ("reference", r)):
        c, ce = _get(res, cname)
        v, _ = _get(res, vname)
        if not (math.isfinite(v) and math.isfinite(c) and ce > 0 and sign * c >= CUMULANT_SIGNIFICANCE * ce):
            bad.append(side)
    if not bad:
        return [_Spec(vname, vname, "flow")]
    why = (f"not tested: {cname} is within {CUMULANT_SIGNIFICANCE:g} sigma of 0 or of the unphysical sign in "
           f"{' and '.join(bad)}, so {vname} is not Gaussian; {cname} is tested instead")
    return [_Spec(vname, vname, "flow", why), _Spec(cname, cname, "flow")]


def _specs(g: _ClassResult, r: _ClassResult, skipped: dict) -> list[_Spec]:
    """The rows of one class (which depend on what both samples hold)."""
    present = [s for s in SPECIES if _get(g, f"mult({s})")[0] > 0 or _get(r, f"mult({s})")[0] > 0]
    skipped["absent species"].update(s for s in SPECIES if s not in present)
    specs = [_Spec("dNch/deta", "dNch/deta", "yields")]
    for s in present:
        specs += [_Spec(f"mult({s})", f"{s} multiplicity", "yields"), _Spec(f"dN/dy({s})", f"{s} dN/dy", "yields")]
    specs += [_Spec("net_charge", "net charge", "yields"), _Spec("net_baryon", "net baryon", "yields"),
              _Spec("mean_pt", "charged <pT>", "mean pT")]
    specs += [_Spec(f"mean_pt({s})", f"{s} <pT>", "mean pT") for s in present]
    for n, orders in HARMONICS.items():
        for k in orders:
            specs += _flow_specs(g, r, n, str(k), -1.0 if k in (4, 8) else 1.0)
        if f"v{n}{{2,|deta|>1}}" in g.obs:
            specs += _flow_specs(g, r, n, "2,|deta|>1", 1.0)
    specs += [_Spec("dpt_dpt", "<dpT dpT>", "fluctuations"), _Spec("dpt3", "<dpT dpT dpT>", "fluctuations")]
    for n in HARMONICS:
        rho_ok = all(math.isfinite(_get(x, f"rho{n}")[0]) for x in (g, r))
        specs.append(_Spec(f"rho{n}", f"rho{n}", "fluctuations",
                           "" if rho_ok else f"not tested: rho{n} is NaN on a side; cov(v{n}^2,pt) is tested instead"))
        if not rho_ok:
            specs.append(_Spec(f"cov(v{n}^2,pt)", f"cov(v{n}^2,pT)", "fluctuations"))
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
            specs.append(_Spec(("spec", sp, i), f"{sp} dN/dpT[{lo:.2f}-{hi:.2f}]", "spectra"))
    return specs


def _ratio(g: float, ge: float, f: float, fe: float) -> tuple[float, float]:
    if not (math.isfinite(f) and f != 0 and math.isfinite(g)):
        return math.nan, math.nan
    r = g / f
    return r, math.sqrt(ge ** 2 + (r * fe) ** 2) / abs(f)


def _flag(spec: _Spec, g: _ClassResult, r: _ClassResult, gv, ge, rv, re_) -> str:
    if spec.flag:
        return spec.flag
    bad = [f"{side}: {res.flags.get(str(spec.key), 'value or error is NaN')}"
           for side, res, v, e in (("generated", g, gv, ge), ("reference", r, rv, re_))
           if not (math.isfinite(v) and math.isfinite(e))]
    return ("NaN, not tested (" + "; ".join(bad) + ")") if bad else ""


def _rows(label: str, specs: list[_Spec], g: _ClassResult, r: _ClassResult, skipped: dict) -> list[EventRow]:
    rows = []
    for spec in specs:
        gv, ge = _get(g, spec.key)
        rv, re_ = _get(r, spec.key)
        if gv == 0 and rv == 0 and ge == 0 and re_ == 0:
            skipped["identically zero"] += 1
            continue
        ratio, ratio_err = _ratio(gv, ge, rv, re_)
        rows.append(EventRow(f"{label} {spec.name}", rv, re_, gv, ge, _pull(rv, re_, gv, ge), centrality_class=label,
                             group=spec.group, ratio=ratio, ratio_error=ratio_err,
                             flag=_flag(spec, g, r, gv, ge, rv, re_)))
    return rows


# --------------------------------------------------------------------------- correlations and χ²

def _replicas(cols: dict, idx: np.ndarray, specs: list[_Spec], settings: dict, seed: int) -> np.ndarray:
    """Delete-a-group jackknife replicas (G, n_specs) of every row value of one class."""
    groups = np.arange(len(idx)) % min(COV_GROUPS, len(idx))
    cheap = dict(settings, errors="jackknife", n_groups=2)  # only the values are used
    out = []
    for gid in range(groups.max() + 1):
        keep = idx[groups != gid]
        obs, spectra, _ = summarize_columns({k: v[keep] for k, v in cols.items()}, cheap, seed)
        out.append(_values(obs, spectra, specs))
    return np.array(out)


def _corr(reps: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of jackknife replicas; rows with NaN replicas uncorrelated."""
    d = reps - reps.mean(axis=0)
    ok = np.isfinite(d).all(axis=0) & (np.abs(d).sum(axis=0) > 0)
    d = np.where(ok, d, 0.0)
    cov = d.T @ d
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = cov / np.outer(sd, sd)
    c = np.where(np.outer(ok, ok), c, 0.0)
    np.fill_diagonal(c, 1.0)
    return c


def _r2_excess(rows: list[EventRow], rep_g: np.ndarray, rep_r: np.ndarray) -> np.ndarray:
    """Off-diagonal R_ij² of the pulls of one class, corrected for the noise of the estimate.

    R_ij = (ρᵍ σᵍᵢσᵍⱼ + ρʳ σʳᵢσʳⱼ)/(sᵢsⱼ); an estimated correlation with ν = G − 1 degrees of
    freedom has variance ≈ (1 − ρ²)²/ν, which is subtracted from R̂_ij²."""
    sg = np.array([r.generated_error for r in rows])
    sr = np.array([r.reference_error for r in rows])
    s = np.hypot(sg, sr)
    wg, wr = np.outer(sg, sg) / np.outer(s, s), np.outer(sr, sr) / np.outer(s, s)
    cg, cr = _corr(rep_g), _corr(rep_r)
    big_r = wg * cg + wr * cr
    nu_g, nu_r = max(len(rep_g) - 1, 1), max(len(rep_r) - 1, 1)
    out = big_r ** 2 - (wg ** 2 * (1 - cg ** 2) ** 2 / nu_g + wr ** 2 * (1 - cr ** 2) ** 2 / nu_r)
    np.fill_diagonal(out, 0.0)
    return out


def _chi2_test(pulls: np.ndarray, tr_r2: float) -> dict:
    """Σ pull² and its Satterthwaite p-value: Σλχ²₁ ≈ a·χ²_b, a = trR²/N, b = N²/trR²."""
    from scipy.stats import chi2

    n = len(pulls)
    if n == 0:
        return {"chi2": math.nan, "ndf": 0, "dof_eff": math.nan, "p": math.nan}
    t = float(np.sum(pulls ** 2))
    tr = max(tr_r2, float(n))
    a, b = tr / n, n * n / tr
    return {"chi2": t, "ndf": n, "dof_eff": b, "p": float(chi2.sf(t / a, b))}


def _chi2_tests(blocks: list[tuple[list[EventRow], np.ndarray]]) -> dict:
    out = {}
    for group in ("all",) + GROUPS:
        pulls, tr = [], 0.0
        for rows, excess in blocks:
            sel = np.array([r.tested and (group == "all" or r.group == group) for r in rows], dtype=bool)
            pulls.extend(r.pull for r, s in zip(rows, sel) if s)
            tr += sel.sum() + float(excess[np.ix_(sel, sel)].sum())
        out[group] = _chi2_test(np.array(pulls, dtype=float), tr)
    return out


def _sidak(n: int, alpha: float) -> float:
    """|z| below which n independent N(0,1) values all stay with probability 1 − alpha."""
    from scipy.stats import norm

    return float(norm.isf(-math.expm1(math.log1p(-alpha) / max(n, 1)) / 2))


def _threshold(n: int, max_abs_pull: float, family_alpha) -> float:
    """The pull threshold for n tested values: max_abs_pull, raised to the Šidák value unless family_alpha is None."""
    return max_abs_pull if family_alpha is None else max(max_abs_pull, _sidak(n, family_alpha))


# --------------------------------------------------------------------------- figures

def _series_vs_centrality(per_class: dict, classes) -> list[Series]:
    out = []
    for name in PLOT_VS_CENTRALITY:
        pick = [per_class[class_label(*c)].get(name) for c in classes]
        if all(p is None for p in pick):
            continue
        nan = (math.nan,) * 4
        vals = np.array([nan if p is None else (p.reference, p.reference_error, p.generated, p.generated_error)
                         for p in pick])
        out.append(Series(f"{name} vs centrality", np.array([0.5 * (lo + hi) for lo, hi in classes]),
                          vals[:, 0], vals[:, 1], vals[:, 2], vals[:, 3], xlabel="centrality (%)", ylabel=name))
    return out


def _ratio_series(label: str, rows: list[EventRow]) -> Series | None:
    """gen/ref per tested non-spectrum row with a significant reference (x: order in the table)."""
    pick = [r for r in rows if r.tested and r.group != "spectra" and math.isfinite(r.ratio)
            and abs(r.reference) > 3 * r.reference_error]
    if not pick:
        return None
    ref = np.array([abs(r.reference) for r in pick])
    return Series(f"{label}: generated / reference ({pick[0].observable[len(label) + 1:]} ... "
                  f"{pick[-1].observable[len(label) + 1:]}, table order)", np.arange(len(pick), dtype=float),
                  np.ones(len(pick)), np.array([r.reference_error for r in pick]) / ref,
                  np.array([r.ratio for r in pick]), np.array([r.generated_error for r in pick]) / ref,
                  xlabel="row of this class (table order)", ylabel="generated / reference")


def _spectrum_series(label: str, g: _ClassResult, r: _ClassResult) -> list[Series]:
    out = []
    for sp in PLOT_SPECIES:
        sg, sr = g.spectra.get(sp), r.spectra.get(sp)
        if sg is None or sr is None or not (np.nansum(sg.values) > 0 or np.nansum(sr.values) > 0):
            continue
        out.append(Series(f"{label} {sp} pT spectrum (|{sg.variable}|<{sg.window:g})", sg.centers, sr.values,
                          sr.errors, sg.values, sg.errors, xlabel="pT (GeV)", ylabel=f"1/N d2N/dpT d{sg.variable}",
                          log_y=True))
    return out


def _feature_histograms(x_g: np.ndarray, x_r: np.ndarray) -> list[Histogram]:
    out = []
    for j, name in enumerate(FEATURES[:5]):
        a, b = x_g[:, j], x_r[:, j]
        both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
        if both.size < 2 or both.min() == both.max():
            continue
        edges = np.linspace(*np.quantile(both, [0.001, 0.999]), 31)
        if not edges[-1] > edges[0]:
            continue
        out.append(Histogram(f"event {name}", edges, np.histogram(b[np.isfinite(b)], edges)[0],
                             np.histogram(a[np.isfinite(a)], edges)[0], xlabel=name))
    return out


# --------------------------------------------------------------------------- pipeline

def _progress(enabled: bool):
    if not enabled:
        return None
    from qcdgen.runtime import progress_bar

    return progress_bar(True)


def validate_events(generated, reference, *, centrality_classes=None, report=None, json_path=None,
                    errors: str = "jackknife", seed: int = 0, max_abs_pull: float = 3.0,
                    auc_threshold: float = 0.55, family_alpha: float | None = 0.01, chi2_alpha: float = 1e-3,
                    pt_bins=None, tolerance: float = 0.05, progress: bool = True) -> ValidationResult:
    """Compare generated with reference heavy-ion events (Parquet paths or awkward event arrays).

    ``centrality_classes``: list of (lo, hi) percent (default: the ALICE classes with at least
    ``MIN_CLASS_EVENTS`` events in both samples). ``report``/``json_path``: HTML page and JSON
    ``{"passed", "rows", "checks", "info"}``, written atomically (paths checked before any
    work). ``errors``: "jackknife" or "bootstrap". ``pt_bins``: spectrum bin edges (default
    :data:`VALIDATION_PT_BINS`). ``tolerance``: relative accuracy of rule 4. Pass rules and
    thresholds: see the module docstring.
    """
    from qcdgen.io.atomic import check_writable
    from qcdgen.report.html import write_report

    settings = _check_args(errors, seed, max_abs_pull, auc_threshold, family_alpha, chi2_alpha, pt_bins, tolerance)
    for path, what in ((report, "HTML report"), (json_path, "JSON report")):
        if path is not None:
            check_writable(path, what)
    bar = _progress(progress)
    if bar is not None:
        bar.start()
    try:
        gen = _load(generated, "generated", settings, bar)
        ref = _load(reference, "reference", settings, bar)
        result = _validate(gen, ref, centrality_classes, settings, int(seed), float(max_abs_pull),
                           float(auc_threshold), family_alpha, float(chi2_alpha), float(tolerance), bar)
    finally:
        if bar is not None:
            bar.stop()
    if report is not None or json_path is not None:
        write_report(result, html_path=report, json_path=json_path)
    return result


def _class_result(sample: _Sample, idx: np.ndarray, settings: dict, seed: int) -> _ClassResult:
    obs, spectra, flags = summarize_columns({k: v[idx] for k, v in sample.cols.items()}, settings, seed)
    named = {}
    for f in flags:
        name, _, why = f.partition(": ")
        named.setdefault(name, why)
    return _ClassResult(obs, spectra, named, len(idx), idx)


def _validate(gen: _Sample, ref: _Sample, requested, settings, seed, max_abs_pull, auc_threshold, family_alpha,
              chi2_alpha, tolerance, bar) -> ValidationResult:
    cent_g, cent_r, source = _centralities(gen, ref)
    classes = _classes(requested, cent_g, cent_r)
    task = bar.add_task("classes", total=len(classes), status="") if bar is not None else None
    skipped = {"absent species": set(), "sparse spectrum bins": 0, "identically zero": 0}
    rows, blocks, per_class, series, spectra_series = [], [], {}, [], []
    strata_g, strata_r = np.full(gen.n_events, -1), np.full(ref.n_events, -1)
    for ci, (lo, hi) in enumerate(classes):
        label = class_label(lo, hi)
        ig, ir = np.flatnonzero(_in_class(cent_g, lo, hi)), np.flatnonzero(_in_class(cent_r, lo, hi))
        strata_g[ig[strata_g[ig] < 0]] = ci
        strata_r[ir[strata_r[ir] < 0]] = ci
        g, r = _class_result(gen, ig, settings, seed), _class_result(ref, ir, settings, seed)
        specs = _specs(g, r, skipped)
        class_rows = _rows(label, specs, g, r, skipped)
        kept = {row.observable[len(label) + 1:] for row in class_rows}
        specs = [s for s in specs if s.name in kept]
        rep_g = _replicas(gen.cols, ig, specs, settings, seed)
        rep_r = _replicas(ref.cols, ir, specs, settings, seed)
        blocks.append((class_rows, _r2_excess(class_rows, rep_g, rep_r)))
        rows.extend(class_rows)
        per_class[label] = {row.observable[len(label) + 1:]: row for row in class_rows}
        ratio = _ratio_series(label, class_rows)
        if ratio is not None:
            series.append(ratio)
        if ci in {0, len(classes) // 2, len(classes) - 1}:  # figures are slow: three classes at most
            spectra_series += _spectrum_series(label, g, r)
        if bar is not None:
            bar.advance(task)
    tested = [r for r in rows if r.tested]
    threshold = _threshold(len(tested), max_abs_pull, family_alpha)
    table = EventValidationTable(rows=rows, max_abs_pull=threshold, chi2_tests=_chi2_tests(blocks))
    checks = [_pull_check(table, tested, max_abs_pull, family_alpha),
              _chi2_check(table.chi2_tests, chi2_alpha),
              _accuracy_check(tested, tolerance, max_abs_pull, family_alpha)]
    if bar is not None:
        task = bar.add_task("classifier two-sample test", total=1, status="")
    x_g, x_r = event_features(gen.cols), event_features(ref.cols)
    use_g, use_r = strata_g >= 0, strata_r >= 0
    c2st = classifier_two_sample_test(x_g[use_g], x_r[use_r], strata_gen=strata_g[use_g],
                                      strata_ref=strata_r[use_r], seed=seed, auc_threshold=auc_threshold)
    if bar is not None:
        bar.advance(task)
    checks.append(Check("classifier two-sample test", c2st.passed, c2st.detail(), c2st.values()))
    info = _info(gen, ref, source, classes, cent_g, cent_r, settings, table, skipped, c2st)
    return ValidationResult(title="heavy-ion events: generated vs reference", table=table, info=info,
                            series=(_series_vs_centrality(per_class, classes) if len(classes) > 1 else [])
                            + series + spectra_series,
                            histograms=_feature_histograms(x_g[use_g], x_r[use_r]), checks=checks)


def _pull_check(table: EventValidationTable, tested: list[EventRow], max_abs_pull: float, family_alpha) -> Check:
    finite = [r for r in tested if math.isfinite(r.pull)]
    worst = max(tested, key=lambda r: abs(r.pull) if math.isfinite(r.pull) else math.inf, default=None)
    why = (f"max({max_abs_pull:g}, Sidak threshold of {len(tested)} rows at {family_alpha:g} false-alarm "
           f"probability)" if family_alpha is not None else "max_abs_pull")
    n_fail = sum(1 for r in tested if not abs(r.pull) < table.max_abs_pull)
    detail = (f"{len(tested)} rows tested, {n_fail} with |pull| >= {table.max_abs_pull:.2f} = {why}; "
              + (f"largest: {worst.observable} (pull {worst.pull:+.2f})" if worst is not None else "no rows"))
    return Check("pulls", table.passed, detail,
                 {"threshold": table.max_abs_pull, "rows_tested": len(tested), "rows_failing": n_fail,
                  "max_abs_pull": max((abs(r.pull) for r in finite), default=math.nan),
                  "pull_mean": float(np.mean([r.pull for r in finite])) if finite else math.nan,
                  "pull_std": float(np.std([r.pull for r in finite], ddof=1)) if len(finite) > 1 else math.nan})


def _accuracy_check(tested: list[EventRow], tolerance: float, max_abs_pull: float, family_alpha) -> Check:
    """Rule 4: the headline ratios within ``tolerance`` of 1 where their error allows a judgement."""
    rows = [r for r in tested if r.observable.endswith(ACCURACY_ROWS)
            and math.isfinite(r.ratio) and math.isfinite(r.ratio_error)]
    judged = [r for r in rows if r.ratio_error <= tolerance]
    z = _threshold(len(judged), max_abs_pull, family_alpha)
    excess = {r.observable: (abs(r.ratio - 1) - tolerance) / r.ratio_error if r.ratio_error > 0 else
              (math.inf if abs(r.ratio - 1) > tolerance else -math.inf) for r in judged}
    failing = sorted((r for r in judged if excess[r.observable] > z), key=lambda r: -excess[r.observable])
    within = sum(1 for r in judged if abs(r.ratio - 1) <= tolerance)
    detail = (f"{len(judged)} of {len(rows)} headline ratios have an error <= {tolerance:.0%} and are judged; "
              f"{within} lie within {tolerance:.0%} of 1, {len(failing)} are beyond it by more than "
              f"{z:.2f} sigma" + (": " + "; ".join(f"{r.observable} {r.ratio:.3f} ± {r.ratio_error:.3f}"
                                                   for r in failing[:8]) if failing else ""))
    return Check(f"accuracy {tolerance:.0%}", bool(judged) and not failing, detail,
                 {"tolerance": tolerance, "rows": len(rows), "rows_judged": len(judged), "rows_within": within,
                  "rows_failing": len(failing), "threshold": z})


def _chi2_check(tests: dict, alpha: float) -> Check:
    t = tests["all"]
    p = t["p"]
    passed = bool(math.isfinite(p) and alpha <= p <= 1 - alpha)
    parts = [f"{g}: {v['chi2']:.1f}/{v['ndf']} (eff. dof {v['dof_eff']:.1f}, p={v['p']:.3g})"
             for g, v in tests.items() if v["ndf"]]
    low = " (chi2 too small: shared events or overestimated errors?)" if math.isfinite(p) and p > 1 - alpha else ""
    detail = (f"p-value must lie in [{alpha:g}, {1 - alpha:g}]{low}; correlations between rows accounted for; "
              + "; ".join(parts))
    values = {f"{g} {k}": v[k] for g, v in tests.items() for k in ("chi2", "ndf", "dof_eff", "p")}
    return Check("chi2", passed, detail, values)


def _info(gen, ref, source, classes, cent_g, cent_r, settings, table, skipped, c2st) -> dict[str, str]:
    nan_rows = [r.observable for r in table.rows if r.flag.startswith("NaN")]
    not_gauss = [r.observable for r in table.rows if r.flag.startswith("not tested")]
    counts = ", ".join(f"{class_label(lo, hi)} ({int(_in_class(cent_g, lo, hi).sum())}/"
                       f"{int(_in_class(cent_r, lo, hi).sum())})" for lo, hi in classes)
    more = lambda xs: "; ".join(xs[:12]) + (f" ... (+{len(xs) - 12})" if len(xs) > 12 else "")  # noqa: E731
    info = {
        "generated": gen.description, "reference": ref.description,
        "centrality from": source,
        "classes (generated/reference events)": counts,
        "acceptance": ("flow, <dpT dpT>, rho_n, charged <pT>: charged |eta|<0.8, 0.2<pT<5 GeV, eta gap 1; "
                       "dNch/deta, charged spectrum: |eta|<0.5; dN/dy, species <pT> and spectra: |y|<0.5; "
                       "multiplicity: full phase space"),
        "errors": f"{settings['errors']} over events"
                  + (f" ({settings['n_groups']} groups)" if settings["errors"] == "jackknife" else
                     f" ({settings['n_boot']} replicas)"),
        "pT bins (GeV)": ", ".join(f"{e:g}" for e in settings["pt_bins"]),
        "rows": f"{len(table.rows)} shown, {len(table.tested_rows)} tested",
        "NaN rows (not tested)": f"{len(nan_rows)}" + (f": {more(nan_rows)}" if nan_rows else ""),
        "v_n{k} / rho_n replaced by cumulants": f"{len(not_gauss)}" + (f": {more(not_gauss)}" if not_gauss else ""),
        "not compared": (f"species absent from both samples: {', '.join(sorted(skipped['absent species'])) or 'none'}; "
                         f"{skipped['sparse spectrum bins']} spectrum bins with < {MIN_BIN_ENTRIES} particles on "
                         f"both sides; {skipped['identically zero']} rows zero with zero error on both sides"),
        "chi2 (all rows)": "{chi2:.1f}/{ndf} (effective dof {dof_eff:.1f}), p = {p:.3g}".format(**table.chi2_tests["all"]),
        "classifier AUC": f"{c2st.auc:.3f} ± {c2st.auc_error:.3f} (null sigma {c2st.null_sigma:.3f}, "
                          f"{c2st.n_per_sample} events per sample)",
    }
    return info
