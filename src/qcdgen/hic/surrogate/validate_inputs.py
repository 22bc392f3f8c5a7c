"""The inputs of ``qcdgen hic validate``: arguments, the two samples, centralities and classes."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.centrality import ALICE_CLASSES
from qcdgen.hic.events import check_events, count_events, iter_events, read_metadata
from qcdgen.hic.observables.summary import (
    batched_columns, check_classes, class_label, concat_columns, multiplicity_centrality, observable_settings)

__all__ = ["DEFAULT_CLASSES", "VALIDATION_PT_BINS", "MIN_CLASS_EVENTS", "Sample", "check_args", "load_sample",
           "centralities", "in_class", "choose_classes"]

#: ALICE's Pb–Pb centrality classes; by default those populated in both samples are compared
DEFAULT_CLASSES = ALICE_CLASSES
#: pT bin edges (GeV) of the compared spectra: coarse, so each bin holds many particles
VALIDATION_PT_BINS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
#: a class needs at least this many events in each sample
MIN_CLASS_EVENTS = 20


@dataclass
class Sample:
    """Per-event columns of one sample and where they came from."""

    name: str
    cols: dict
    description: str

    @property
    def n_events(self) -> int:
        return len(self.cols["nch_mid"])


def check_args(errors, seed, max_abs_pull, auc_threshold, family_alpha, chi2_alpha, pt_bins, tolerance):
    """Refuse bad arguments of :func:`~qcdgen.hic.surrogate.validate.validate_events`; return the settings."""
    settings = observable_settings(0.8, (0.2, 5.0), 1.0, errors, 40, 200,
                                   VALIDATION_PT_BINS if pt_bins is None else pt_bins)
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


def load_sample(source, name: str, settings: dict, bar) -> Sample:
    """Per-event columns of a Parquet file (row group by row group) or of an event array."""
    if isinstance(source, ak.Array):
        check_events(source, name)
        if len(source) == 0:
            raise InputError(f"{name} holds no events")
        return Sample(name, concat_columns(batched_columns(source, settings)), f"awkward array, {len(source)} events")
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"{name} must be a Parquet event file path or an awkward event array, "
                         f"got {type(source).__name__}")
    path = Path(source)
    total = count_events(path)  # refuses a missing or unreadable file with an InputError
    task = bar.add_task(f"reading {name}", total=total, status="") if bar is not None else None
    chunks = []
    for events in iter_events(path):
        if len(events):
            chunks.extend(batched_columns(events, settings))
        if bar is not None:
            bar.advance(task, len(events))
    if not chunks:
        raise InputError(f"{name} file {str(path)!r} holds no events")
    meta = read_metadata(path)
    gen = meta.get("generator")
    return Sample(name, concat_columns(chunks),
                   f"{path} ({total} events" + (f", generator {gen}" if gen else "") + ")")


def centralities(gen: Sample, ref: Sample) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-event centrality (percent) of both samples and where it came from (event field or multiplicity)."""
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


def in_class(cent: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """lo <= c < hi (c = 100 belongs to a class ending at 100)."""
    return (cent >= lo) & ((cent < hi) | ((hi == 100) & (cent == 100)))


def choose_classes(requested, cent_g, cent_r) -> list[tuple[float, float]]:
    """The requested classes (each with enough events on both sides), or the populated default classes."""
    counts = lambda lo, hi: (int(in_class(cent_g, lo, hi).sum()), int(in_class(cent_r, lo, hi).sum()))  # noqa: E731
    if requested is not None:
        classes = check_classes(requested)
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
