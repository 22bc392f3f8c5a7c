"""The standard set of heavy-ion observables, over all events and per centrality class.

:func:`observe` turns events into *per-event columns* (Q-vector correlators, pT power sums,
species counts, spectrum bin counts, net charges — a few hundred numbers per event) and then
every observable into a function of column means with an event-resampling error. A class is a
subset of rows; :func:`observe_file` builds the columns row group by row group, so memory
holds the columns, never all events.

Acceptances (ALICE-like conventions):

- flow ``vn{k}``, ``cn{k}``, ``vn{2,|deta|>Δ}``, ``mean_pt``, ``dpt_dpt``, ``dpt3``, ``rhon``:
  charged particles with |η| < ``eta_max`` and ``pt_range[0]`` < pT < ``pt_range[1]``
  (defaults |η| < 0.8, 0.2 < pT < 5 GeV). ``mean_pt`` is ⟨⟨pT⟩⟩ of that sample
  (Σ pT / N over all its particles), the reference of the pT fluctuations;
- ``dNch/deta``: charged particles at |η| < 0.5, all pT;
- ``mult(s)``: mean number of species s per event, full phase space, no cuts;
- ``dN/dy(s)``, ``mean_pt(s)`` and the spectra: species s at |y| < 0.5, all pT;
  charged spectrum ``charged`` per unit η at |η| < 0.5;
- ``net_charge``, ``net_baryon``: mean per event at |η| < 0.5, all particles.

Centrality: the event field ``centrality`` (percent) when present; otherwise each event's
centrality is the mid-rank percentile of its charged multiplicity at |η| < 0.5 within the
analysed sample, c = 100 (N_more + N_equal/2) / N_events (most central = highest
multiplicity; tied events share one value and so one class). Class (lo, hi) holds
lo ≤ c < hi (c = 100 belongs to a class ending at 100).

Every sample (all events, each class) is checked by :func:`~qcdgen.hic.observables.quality.assess`:
NaN results (a cumulant of the unphysical sign, ⟨pT⟩ of an absent species …) stay NaN,
impossible numbers (|ρ_n| > 1, v_n{4} ≥ v_n{2}) become NaN with the raw value in the reason,
and samples too small for an observable (fewer than 50–100 events for four-particle cumulants
and ρ_n) are flagged. ``quality[scope][name]`` holds the flags, ``to_json_dict`` adds
``"flag"`` and ``"reason"`` to each flagged observable, and :meth:`ObservableSummary.warning_lines`
gives one short line per problem, each naming the JSON key to look at; :func:`observe` warns
them one :class:`ObservableWarning` per line. Nothing is ever averaged over a NaN.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import awkward as ak
import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import check_events, iter_events
from qcdgen.hic.observables._resample import ObservableWarning, Resampler, check_errors_args
from qcdgen.hic.observables.fluctuations import (
    PT_COLUMNS, net_columns, pt_correlators_from_columns, rho_columns, rho_from_columns)
from qcdgen.hic.observables.flow import ORDERS, QVectors, flow_columns, flow_from_columns
from qcdgen.hic.observables.quality import ObservableFlag, assess
from qcdgen.hic.observables.spectra import (
    FlatParticles, PtSpectrum, check_abs_cut, check_bins, check_range, select,
    species_count_columns, spectrum_columns, spectrum_from_columns)
from qcdgen.hic.species import IDENTIFIED
from qcdgen.jsonutil import json_float
from qcdgen.stats import Estimate

__all__ = ["observe", "observe_file", "event_columns", "summarize_columns", "ObservableSummary",
           "HARMONICS", "SPECIES", "class_label", "observable_settings", "batched_columns", "concat_columns",
           "check_classes", "multiplicity_centrality"]

#: harmonic -> cumulant orders computed
HARMONICS = {2: ORDERS, 3: (2, 4)}
#: species reported by name (see qcdgen.hic.species.IDENTIFIED)
SPECIES = tuple(IDENTIFIED)
#: window of the mid-rapidity quantities (|η| or |y| below it)
MID = 0.5
#: events are turned into columns in slices of about this many particles (bounds the memory)
BATCH_PARTICLES = 1 << 19


def class_label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}%"


#: longest warning line aimed at (names are packed into it, the rest counted as "+N more");
#: with the CLI's "qcdgen: warning: " prefix a line stays within 120 characters
LINE_WIDTH = 103
#: :meth:`ObservableSummary.warning_lines` shows at most this many lines by default
MAX_WARNING_LINES = 40


def _name_rank(name: str) -> int:
    """Order of names in a warning (stable sort): flow harmonics, then rho_n, then the rest."""
    return 0 if name.startswith("v") and "{" in name else 1 if name.startswith("rho") else 2


def _by_rank(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (_name_rank(n), len(n)))


def _pack(head: str, names: list[str], tail: str, width: int = LINE_WIDTH) -> str:
    """``head name1 name2 ... +K more tail``, as many names as fit in ``width`` characters."""
    names = _by_rank(names)
    shown: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        more = f" +{rest} more" if rest else ""
        if shown and len(" ".join([head, *shown, name])) + len(more) + len(tail) > width:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return " ".join([head, *shown]) + (f" +{rest} more" if rest else "") + tail


@dataclass
class ObservableSummary:
    """Observables (name → :class:`~qcdgen.stats.Estimate`) over all events and per class.

    ``observables``: all events; ``per_class[label]``: events of one centrality class
    (``label`` like ``"0-10%"``, ranges in ``classes``); ``spectra["all" | label][species]``:
    :class:`~qcdgen.hic.observables.spectra.PtSpectrum`; ``quality[scope][name]``
    (scope ``"all"`` or a label): :class:`~qcdgen.hic.observables.quality.ObservableFlag` of each
    flagged observable (values flagged ``undefined``/``unreliable`` are NaN here);
    ``notes[scope]``: problems that concern no single observable; ``flags``: all of these as
    text, one per problem.
    """

    observables: dict[str, Estimate]
    n_events: int
    classes: list[tuple[float, float]] = field(default_factory=list)
    per_class: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    class_events: dict[str, int] = field(default_factory=dict)
    spectra: dict[str, dict[str, PtSpectrum]] = field(default_factory=dict)
    centrality_source: str | None = None
    settings: dict = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    quality: dict[str, dict[str, ObservableFlag]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Estimate:
        return self.observables[name]

    @property
    def names(self) -> list[str]:
        return list(self.observables)

    @property
    def class_labels(self) -> list[str]:
        return [class_label(lo, hi) for lo, hi in self.classes]

    def flag(self, name: str, scope: str = "all") -> ObservableFlag | None:
        """The flag of observable ``name`` in ``scope`` (``"all"`` or a class label), or None."""
        return self.quality.get(scope, {}).get(name)

    def scope_events(self, scope: str) -> int:
        return self.n_events if scope == "all" else self.class_events.get(scope, 0)

    @staticmethod
    def json_key(scope: str, name: str | None = None) -> str:
        """Where ``to_json_dict()`` holds observable ``name`` of ``scope`` (or the class itself)."""
        if scope == "all":
            return f'observables["{name}"]' if name is not None else "observables"
        base = f'per_class["{scope}"]'
        return f'{base}["observables"]["{name}"]' if name is not None else base

    def table(self, name: str) -> dict[str, np.ndarray]:
        """One observable across the centrality classes, for plotting:
        ``{"lo", "hi", "center", "value", "error", "n_events"}`` arrays (empty without classes)."""
        lo = np.array([c[0] for c in self.classes], dtype=float)
        hi = np.array([c[1] for c in self.classes], dtype=float)
        est = [self.per_class[class_label(a, b)].get(name, Estimate(math.nan, math.nan))
               for a, b in self.classes]
        return {"lo": lo, "hi": hi, "center": 0.5 * (lo + hi),
                "value": np.array([e.value for e in est], dtype=float),
                "error": np.array([e.error for e in est], dtype=float),
                "n_events": np.array([self.class_events.get(class_label(a, b), 0) for a, b in self.classes],
                                     dtype=int)}

    def warning_lines(self, max_lines: int | None = MAX_WARNING_LINES) -> list[str]:
        """One short line per class and problem (empty classes, values shown as n/a, a sample
        too small for some observables …), each naming the key of :meth:`to_json_dict` whose
        ``"flag"`` and ``"reason"`` give the details. More than ``max_lines`` lines end in one
        line counting the rest (None: all)."""
        lines: list[str] = []
        empty = [lab for lab in self.class_labels if self.class_events.get(lab, 0) < 2]
        if empty:
            lines.append(_pack(f"{len(empty)} of {len(self.classes)} classes have < 2 events (no estimates):",
                               empty, f'; see {self.json_key(empty[0])}["n_events"]'))
        for scope in ["all"] + [lab for lab in self.class_labels if lab not in empty]:
            q = self.quality.get(scope, {})
            where = "all events" if scope == "all" else scope
            groups: dict[tuple[str, str], list[str]] = {}
            for name, fl in q.items():
                if fl.nulled:
                    groups.setdefault(("n/a", fl.group), []).append(name)
                elif "few_events" in fl.flags:
                    groups.setdefault(("few", ""), []).append(name)
                else:
                    groups.setdefault(("kept", fl.group), []).append(name)
            for (kind, group), names in groups.items():
                first = self.json_key(scope, _by_rank(names)[0])
                if kind == "n/a":
                    lines.append(_pack(f"{where}:", names, f" n/a ({group}); see {first}"))
                elif kind == "few":
                    lines.append(_pack(f"{where}: {self.scope_events(scope)} events, too few for", names,
                                       f"; see {first}"))
                else:
                    lines.append(_pack(f"{where}:", names, f" {group}; see {first}"))
            for note in self.notes.get(scope, []):
                text = f"{where}: {note}"
                lines.append(text if len(text) <= LINE_WIDTH else text[:LINE_WIDTH - 3] + "...")
        if max_lines is not None and len(lines) > max_lines:
            rest = len(lines) - (max_lines - 1)
            lines = lines[:max_lines - 1] + [f'{rest} more warnings: see "warnings" in the JSON summary']
        return lines

    def to_json_dict(self) -> dict:
        """Strict-JSON-ready dict: ``{"observables": {name: {"value", "error"}}, ...}`` over all
        events, plus ``per_class``, ``settings``, ``centrality_source``, ``flags`` and
        ``warnings`` (every line of :meth:`warning_lines`). A flagged observable also has
        ``"flag"`` (see :data:`~qcdgen.hic.observables.quality.FLAG_ORDER`) and ``"reason"``.
        NaN becomes ``null`` (JSON has no NaN)."""
        def block(obs, scope):
            out = {}
            for k, e in obs.items():
                entry = {"value": json_float(e.value), "error": json_float(e.error)}
                fl = self.flag(k, scope)
                if fl is not None:
                    entry["flag"], entry["reason"] = fl.flag, fl.reason
                out[k] = entry
            return out

        return {
            "observables": block(self.observables, "all"),
            "n_events": self.n_events,
            "centrality_source": self.centrality_source,
            "settings": self.settings,
            "per_class": {class_label(lo, hi): {"range": [lo, hi], "n_events": self.class_events[class_label(lo, hi)],
                                                "observables": block(self.per_class[class_label(lo, hi)],
                                                                     class_label(lo, hi))}
                          for lo, hi in self.classes},
            "flags": list(self.flags),
            "warnings": self.warning_lines(max_lines=None),
        }


def observable_settings(eta_max, pt_range, eta_gap, errors, n_groups, n_boot, pt_bins) -> dict:
    """The validated analysis settings (acceptance, errors, pT bins) that :func:`summarize_columns` takes."""
    eta_max = check_abs_cut(eta_max, "eta_max")
    if eta_max is None:
        raise InputError("eta_max must be a number > 0, got None")
    pt_range = check_range(pt_range, "pt_range")
    if eta_gap is not None:
        try:
            eta_gap = float(eta_gap)
        except (TypeError, ValueError):
            raise InputError(f"eta_gap must be a number >= 0 or None, got {eta_gap!r}") from None
        if not (math.isfinite(eta_gap) and 0 <= eta_gap < 2 * eta_max):
            raise InputError(f"eta_gap must be >= 0 and below 2*eta_max={2 * eta_max:g} (else the sub-events "
                             f"are empty), got {eta_gap!r}")
    check_errors_args(errors, n_groups, n_boot)
    edges = check_bins(pt_bins)
    return {"eta_max": eta_max, "pt_range": list(pt_range) if pt_range else None, "eta_gap": eta_gap,
            "errors": errors, "n_groups": int(n_groups), "n_boot": int(n_boot), "pt_bins": edges.tolist()}


def event_columns(events, *, eta_max: float = 0.8, pt_range=(0.2, 5.0), eta_gap: float | None = 1.0,
                  pt_bins=None) -> dict[str, np.ndarray]:
    """All per-event columns :func:`summarize_columns` needs (one row per event)."""
    flat = events if isinstance(events, FlatParticles) else FlatParticles.from_events(events)
    edges = check_bins(pt_bins)
    cols: dict[str, np.ndarray] = {}
    if isinstance(events, ak.Array) and "centrality" in events.fields:
        cols["centrality"] = np.asarray(ak.to_numpy(events.centrality), dtype=np.float64)
    mid_ch = select(flat, eta_max=MID, charged=True)
    cols["nch_mid"] = flat.count(mid_ch)
    acc = flat.subset(select(flat, eta_max=eta_max, pt_range=pt_range, charged=True))
    qv = QVectors(acc.phi, acc.event, acc.n_events)
    for n, orders in HARMONICS.items():
        fc = flow_columns(acc, n, orders, eta_gap, qv=qv)
        cols.update({f"flow{n}:{k}": v for k, v in fc.items()})
        rc = rho_columns(acc, n, qv)
        cols.update({f"rho{n}:{k}": rc[k] for k in ("X", "Y")})
        if n == min(HARMONICS):
            cols.update({f"pt:{k}": rc[k] for k in PT_COLUMNS})
    cols.update(species_count_columns(flat, SPECIES, MID))
    cols.update(net_columns(flat, MID))
    cols["spec:charged"] = spectrum_columns(flat, mid_ch, edges)
    mid_y = np.abs(flat.y) < MID
    for s in SPECIES:
        cols[f"spec:{s}"] = spectrum_columns(flat, mid_y & (flat.pdg == IDENTIFIED[s]), edges)
    return cols


def batched_columns(events: ak.Array, settings: dict) -> list[dict[str, np.ndarray]]:
    """:func:`event_columns` over slices of at most ~``BATCH_PARTICLES`` particles (bounded memory)."""
    counts = ak.to_numpy(ak.num(events.particles, axis=1)).astype(np.int64)
    ends = np.cumsum(counts)
    out, start = [], 0
    while start < len(events):
        stop = max(start + 1, int(np.searchsorted(ends, (ends[start - 1] if start else 0) + BATCH_PARTICLES,
                                                  side="right")))
        out.append(event_columns(events[start:stop], eta_max=settings["eta_max"], pt_range=settings["pt_range"],
                                 eta_gap=settings["eta_gap"], pt_bins=settings["pt_bins"]))
        start = stop
    return out


def concat_columns(chunks: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-event column chunks (from :func:`batched_columns`) joined into one set of columns."""
    keys = set(chunks[0])
    for c in chunks[1:]:
        if set(c) != keys:
            raise InputError("every chunk of events must have the same event fields (e.g. 'centrality' in all or none)")
    return {k: np.concatenate([c[k] for c in chunks], axis=0) for k in chunks[0]}


def multiplicity_centrality(nch: np.ndarray) -> np.ndarray:
    """Mid-rank percentile centrality from a multiplicity: 100 (N_more + N_equal/2)/N."""
    nch = np.asarray(nch, dtype=np.float64)
    srt = np.sort(nch)
    n_more = len(nch) - np.searchsorted(srt, nch, side="right")
    n_equal = np.searchsorted(srt, nch, side="right") - np.searchsorted(srt, nch, side="left")
    return 100.0 * (n_more + 0.5 * n_equal) / len(nch)


def check_classes(classes) -> list[tuple[float, float]]:
    """Centrality classes as (lo, hi) float pairs with 0 <= lo < hi <= 100; None gives []."""
    if classes is None:
        return []
    out = []
    try:
        for c in classes:
            lo, hi = (float(v) for v in c)
            out.append((lo, hi))
    except (TypeError, ValueError):
        raise InputError(f"centrality_classes must be a list of (lo, hi) percent pairs, got {classes!r}") from None
    for lo, hi in out:
        if not (0 <= lo < hi <= 100):
            raise InputError(f"centrality class ({lo:g}, {hi:g}) must satisfy 0 <= lo < hi <= 100 (percent)")
    return out


def summarize_columns(cols: dict[str, np.ndarray], settings: dict, seed: int = 0
                      ) -> tuple[dict[str, Estimate], dict[str, PtSpectrum], list[str]]:
    """Observables, spectra and flags of one sample of per-event columns."""
    n_ev = len(cols["nch_mid"])
    flags: list[str] = []
    out: dict[str, Estimate] = {"n_events": Estimate(float(n_ev), 0.0)}
    if n_ev < 2:
        flags.append(f"only {n_ev} event(s): no estimates (at least 2 are needed for errors)")
        return out, {}, flags
    rs = Resampler(n_ev, settings["errors"], settings["n_groups"], settings["n_boot"], seed)
    eta_gap = settings["eta_gap"]
    for n in HARMONICS:
        fc = {k.split(":", 1)[1]: v for k, v in cols.items() if k.startswith(f"flow{n}:")}
        res = flow_from_columns(fc, n, rs, eta_gap)
        out.update(res.named())
        flags.extend(res.flags)
    (dnch,), f = rs.estimate(cols["nch_mid"], lambda m: m / (2 * MID), ["dNch/deta"])
    out["dNch/deta"] = dnch
    flags.extend(f)
    ptc = {k: cols[f"pt:{k}"] for k in PT_COLUMNS}
    pt_est, f = pt_correlators_from_columns(ptc, rs)
    flags.extend(f)
    out["mean_pt"] = pt_est["mean_pt_all"]
    out["dpt_dpt"] = pt_est["dpt_dpt"]
    out["dpt3"] = pt_est["dpt3"]
    for n in HARMONICS:
        rc = dict(ptc)
        rc.update({k: cols[f"flow{n}:{k}"] for k in ("N2", "W2", "N4", "W4")})
        rc.update({k: cols[f"rho{n}:{k}"] for k in ("X", "Y")})
        est, f = rho_from_columns(rc, n, rs)
        out.update(est)
        flags.extend(f)
    for s in SPECIES:
        mat = np.stack([cols[f"mult({s})"], cols[f"n_mid({s})"], cols[f"sumpt_mid({s})"]], axis=1)
        est, f = rs.estimate(mat, lambda m: np.stack([m[..., 0], m[..., 1] / (2 * MID), m[..., 2] / m[..., 1]], -1),
                             [f"mult({s})", f"dN/dy({s})", f"mean_pt({s})"])
        out[f"mult({s})"], out[f"dN/dy({s})"], out[f"mean_pt({s})"] = est
        flags.extend(f)
    est, f = rs.estimate(np.stack([cols["net_charge"], cols["net_baryon"]], 1), None, ["net_charge", "net_baryon"])
    out["net_charge"], out["net_baryon"] = est
    flags.extend(f)
    edges = np.asarray(settings["pt_bins"])
    spectra = {"charged": spectrum_from_columns(cols["spec:charged"], edges, MID, "charged", "eta", rs)}
    for s in SPECIES:
        spectra[s] = spectrum_from_columns(cols[f"spec:{s}"], edges, MID, s, "y", rs)
    return out, spectra, flags


def _summarize(cols: dict[str, np.ndarray], classes, settings: dict, seed: int, warn: bool) -> ObservableSummary:
    classes = check_classes(classes)
    n_ev = len(cols["nch_mid"])
    if n_ev < 2:
        raise InputError(f"observables need at least 2 events, got {n_ev}")
    obs, spectra, flags = summarize_columns(cols, settings, seed)
    obs, quality, notes = assess(obs, n_ev, flags)
    summary = ObservableSummary(obs, n_ev, classes, spectra={"all": spectra}, settings=settings)
    summary.quality["all"], summary.notes["all"] = quality, notes
    if classes:
        if "centrality" in cols:
            cent, summary.centrality_source = cols["centrality"], "field"
            if not np.all(np.isfinite(cent)):
                raise InputError(f"event field 'centrality' has {int((~np.isfinite(cent)).sum())} non-finite values")
        else:
            cent, summary.centrality_source = multiplicity_centrality(cols["nch_mid"]), "multiplicity"
        for lo, hi in classes:
            label = class_label(lo, hi)
            sel = (cent >= lo) & ((cent < hi) | ((hi == 100) & (cent == 100)))
            idx = np.flatnonzero(sel)
            sub = {k: v[idx] for k, v in cols.items()}
            obs_c, spec_c, flags_c = summarize_columns(sub, settings, seed)
            if len(idx) >= 2:
                obs_c, quality_c, notes_c = assess(obs_c, len(idx), flags_c)
            else:
                quality_c, notes_c = {}, flags_c
            summary.per_class[label] = obs_c
            summary.class_events[label] = len(idx)
            summary.spectra[label] = spec_c
            summary.quality[label], summary.notes[label] = quality_c, notes_c
    for scope in ["all"] + summary.class_labels:
        summary.flags.extend(f"{scope}: {name}: {fl.flag}: {fl.reason}"
                             for name, fl in summary.quality.get(scope, {}).items())
        summary.flags.extend(f"{scope}: {note}" for note in summary.notes.get(scope, []))
    if warn:
        for line in summary.warning_lines():
            warnings.warn(line, ObservableWarning, stacklevel=3)
    return summary


def observe(events: ak.Array, centrality_classes: Iterable[tuple[float, float]] | None = None,
            eta_max: float = 0.8, pt_range=(0.2, 5.0), eta_gap: float | None = 1.0, errors: str = "jackknife",
            *, n_groups: int = 40, n_boot: int = 200, pt_bins=None, seed: int = 0,
            warn: bool = True) -> ObservableSummary:
    """The standard observables of an event array, over all events and per centrality class.

    ``centrality_classes``: list of (lo, hi) in percent. ``eta_max``, ``pt_range``: flow and
    pT-fluctuation acceptance (charged). ``eta_gap``: Δη of ``vn{2,|deta|>Δ}`` (None: not
    computed). ``errors``: "jackknife" (``n_groups`` groups of events) or "bootstrap"
    (``n_boot`` replicas, ``seed``). ``pt_bins``: spectrum bin edges (None: 0.1 GeV bins up to
    4 GeV). ``warn``: one :class:`ObservableWarning` per line of
    :meth:`ObservableSummary.warning_lines` (the flags are in ``quality`` and ``flags`` anyway).
    """
    settings = observable_settings(eta_max, pt_range, eta_gap, errors, n_groups, n_boot, pt_bins)
    check_events(events)
    if len(events) < 2:
        raise InputError(f"observables need at least 2 events, got {len(events)}")
    return _summarize(concat_columns(batched_columns(events, settings)), centrality_classes, settings, seed, warn)


def observe_file(path: str | Path, centrality_classes: Iterable[tuple[float, float]] | None = None,
                 eta_max: float = 0.8, pt_range=(0.2, 5.0), eta_gap: float | None = 1.0, errors: str = "jackknife",
                 *, n_groups: int = 40, n_boot: int = 200, pt_bins=None, seed: int = 0,
                 max_events: int | None = None, warn: bool = True) -> ObservableSummary:
    """:func:`observe` on a Parquet event file, read row group by row group; only the per-event
    columns of all events are held in memory (``max_events``: stop after that many)."""
    settings = observable_settings(eta_max, pt_range, eta_gap, errors, n_groups, n_boot, pt_bins)
    chunks, n = [], 0
    for events in iter_events(path):
        if max_events is not None:
            events = events[: max(max_events - n, 0)]
        if len(events):
            chunks.extend(batched_columns(events, settings))
            n += len(events)
        if max_events is not None and n >= max_events:
            break
    if not chunks:
        raise InputError(f"event file {str(path)!r} holds no events")
    settings["source"] = str(path)
    return _summarize(concat_columns(chunks), centrality_classes, settings, seed, warn)
