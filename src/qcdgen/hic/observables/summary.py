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

NaN results (a cumulant of the unphysical sign, ⟨pT⟩ of an absent species, a class with
fewer than 2 events …) stay NaN, are listed in ``flags`` and announced by one
:class:`ObservableWarning`; they are never averaged.
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
from qcdgen.hic.observables.spectra import (
    FlatParticles, PtSpectrum, _check_abs_cut, _check_bins, _check_range, select,
    species_count_columns, spectrum_columns, spectrum_from_columns)
from qcdgen.hic.species import IDENTIFIED
from qcdgen.stats import Estimate

__all__ = ["observe", "observe_file", "event_columns", "summarize_columns", "ObservableSummary",
           "HARMONICS", "SPECIES", "class_label"]

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


def _nan_to_none(x: float):
    return None if not math.isfinite(x) else float(x)


@dataclass
class ObservableSummary:
    """Observables (name → :class:`~qcdgen.stats.Estimate`) over all events and per class.

    ``observables``: all events; ``per_class[label]``: events of one centrality class
    (``label`` like ``"0-10%"``, ranges in ``classes``); ``spectra["all" | label][species]``:
    :class:`~qcdgen.hic.observables.spectra.PtSpectrum`; ``flags``: why anything is NaN.
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

    def __getitem__(self, name: str) -> Estimate:
        return self.observables[name]

    @property
    def names(self) -> list[str]:
        return list(self.observables)

    @property
    def class_labels(self) -> list[str]:
        return [class_label(lo, hi) for lo, hi in self.classes]

    def table(self, name: str) -> dict[str, np.ndarray]:
        """One observable across the centrality classes, for plotting:
        ``{"lo", "hi", "center", "value", "error"}`` arrays (empty without classes)."""
        lo = np.array([c[0] for c in self.classes], dtype=float)
        hi = np.array([c[1] for c in self.classes], dtype=float)
        est = [self.per_class[class_label(a, b)].get(name, Estimate(math.nan, math.nan))
               for a, b in self.classes]
        return {"lo": lo, "hi": hi, "center": 0.5 * (lo + hi),
                "value": np.array([e.value for e in est], dtype=float),
                "error": np.array([e.error for e in est], dtype=float)}

    def to_json_dict(self) -> dict:
        """Strict-JSON-ready dict: ``{"observables": {name: {"value", "error"}}, ...}`` over all
        events, plus ``per_class``, ``settings``, ``centrality_source`` and ``flags``.
        NaN becomes ``null`` (JSON has no NaN)."""
        def block(obs):
            return {k: {"value": _nan_to_none(e.value), "error": _nan_to_none(e.error)} for k, e in obs.items()}

        return {
            "observables": block(self.observables),
            "n_events": self.n_events,
            "centrality_source": self.centrality_source,
            "settings": self.settings,
            "per_class": {class_label(lo, hi): {"range": [lo, hi], "n_events": self.class_events[class_label(lo, hi)],
                                                "observables": block(self.per_class[class_label(lo, hi)])}
                          for lo, hi in self.classes},
            "flags": list(self.flags),
        }


def _settings(eta_max, pt_range, eta_gap, errors, n_groups, n_boot, pt_bins) -> dict:
    eta_max = _check_abs_cut(eta_max, "eta_max")
    if eta_max is None:
        raise InputError("eta_max must be a number > 0, got None")
    pt_range = _check_range(pt_range, "pt_range")
    if eta_gap is not None:
        try:
            eta_gap = float(eta_gap)
        except (TypeError, ValueError):
            raise InputError(f"eta_gap must be a number >= 0 or None, got {eta_gap!r}") from None
        if not (math.isfinite(eta_gap) and 0 <= eta_gap < 2 * eta_max):
            raise InputError(f"eta_gap must be >= 0 and below 2*eta_max={2 * eta_max:g} (else the sub-events "
                             f"are empty), got {eta_gap!r}")
    check_errors_args(errors, n_groups, n_boot)
    edges = _check_bins(pt_bins)
    return {"eta_max": eta_max, "pt_range": list(pt_range) if pt_range else None, "eta_gap": eta_gap,
            "errors": errors, "n_groups": int(n_groups), "n_boot": int(n_boot), "pt_bins": edges.tolist()}


def event_columns(events, *, eta_max: float = 0.8, pt_range=(0.2, 5.0), eta_gap: float | None = 1.0,
                  pt_bins=None) -> dict[str, np.ndarray]:
    """All per-event columns :func:`summarize_columns` needs (one row per event)."""
    flat = events if isinstance(events, FlatParticles) else FlatParticles.from_events(events)
    edges = _check_bins(pt_bins)
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


def _batched_columns(events: ak.Array, settings: dict) -> list[dict[str, np.ndarray]]:
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


def _concat_columns(chunks: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
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


def _check_classes(classes) -> list[tuple[float, float]]:
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
    classes = _check_classes(classes)
    n_ev = len(cols["nch_mid"])
    if n_ev < 2:
        raise InputError(f"observables need at least 2 events, got {n_ev}")
    obs, spectra, flags = summarize_columns(cols, settings, seed)
    summary = ObservableSummary(obs, n_ev, classes, spectra={"all": spectra}, settings=settings)
    summary.flags.extend(f"all: {f}" for f in flags)
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
            summary.per_class[label] = obs_c
            summary.class_events[label] = len(idx)
            summary.spectra[label] = spec_c
            summary.flags.extend(f"{label}: {f}" for f in flags_c)
    if warn and summary.flags:
        shown = summary.flags[:12]
        more = f" (and {len(summary.flags) - 12} more, see summary.flags)" if len(summary.flags) > 12 else ""
        warnings.warn("observables with NaN value or error: " + "; ".join(shown) + more, ObservableWarning,
                      stacklevel=3)
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
    4 GeV). ``warn``: one :class:`ObservableWarning` listing every NaN (they are in ``flags`` anyway).
    """
    settings = _settings(eta_max, pt_range, eta_gap, errors, n_groups, n_boot, pt_bins)
    check_events(events)
    if len(events) < 2:
        raise InputError(f"observables need at least 2 events, got {len(events)}")
    return _summarize(_concat_columns(_batched_columns(events, settings)), centrality_classes, settings, seed, warn)


def observe_file(path: str | Path, centrality_classes: Iterable[tuple[float, float]] | None = None,
                 eta_max: float = 0.8, pt_range=(0.2, 5.0), eta_gap: float | None = 1.0, errors: str = "jackknife",
                 *, n_groups: int = 40, n_boot: int = 200, pt_bins=None, seed: int = 0,
                 max_events: int | None = None, warn: bool = True) -> ObservableSummary:
    """:func:`observe` on a Parquet event file, read row group by row group; only the per-event
    columns of all events are held in memory (``max_events``: stop after that many)."""
    settings = _settings(eta_max, pt_range, eta_gap, errors, n_groups, n_boot, pt_bins)
    chunks, n = [], 0
    for events in iter_events(path):
        if max_events is not None:
            events = events[: max(max_events - n, 0)]
        if len(events):
            chunks.extend(_batched_columns(events, settings))
            n += len(events)
        if max_events is not None and n >= max_events:
            break
    if not chunks:
        raise InputError(f"event file {str(path)!r} holds no events")
    settings["source"] = str(path)
    return _summarize(_concat_columns(chunks), centrality_classes, settings, seed, warn)
