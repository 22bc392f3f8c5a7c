"""Event files → training tensors for the point-cloud surrogate, and generated tensors → events.

**Particles.** Each kept particle becomes (log pT, η, φ_c) and a species class
(:class:`~qcdgen.hic.surrogate.vocabulary.SpeciesVocabulary`). Pseudorapidity rather than
rapidity: η = asinh(p_z/p_T) needs no mass (the "other" class has none of its own), the
momentum comes back exactly from (p_T, η, φ) as p = p_T (cos φ, sin φ, sinh η), and
detector acceptances are cuts in η. log pT makes the steeply falling spectrum O(1).

**Acceptance.** A particle is kept if p_T > 0 (η is undefined on the beam axis; such
particles are dropped and counted) and, when ``eta_max`` is given, |η| < eta_max. N is the
number of kept particles of the event; every summary uses all kept particles.

**Summaries** (float64 arithmetic, stored float32), from Q_n = Σ_k e^{i n φ_k}:

    q_n = |Q_n| / N,   Ψ_n = arg(Q_n) / n,   ⟨p_T⟩ = Σ_k p_T,k / N;

columns :data:`SUMMARY_NAMES` = (q2, q3, psi3, mean_pt), psi3 being Ψ_3 in the canonical
frame, in [−π/3, π/3]. An event with N = 0 gets all summaries 0 and Ψ_2 = 0 (a convention,
so that empty events stay in the multiplicity distribution).

**Canonical frame.** Every event is rotated by −Ψ_2: φ_c = φ − Ψ_2 wrapped into [−π, π], so
Q_2 is real and positive there (|Q_2|, |Q_3| unchanged). Ψ_2 is stored in float64, and
φ = φ_c + Ψ_2 restores the event. Generated events get a uniform random rotation
(:func:`random_rotation`).

**Layout.** Particles of all events are flat (CSR): event i owns rows
``offsets[i]:offsets[i+1]`` of ``features`` [P, 3] float32 and ``species`` [P] int64.
:func:`sample_batch` draws up to k particles per event without replacement into padded
[B, k, 3] tensors with a mask.

This module holds the tensors and the conversions events ↔ tensors; the conditions
(:func:`check_conditions`, :class:`ConditionScaler`) live in :mod:`.conditions` and the batches
(:class:`Batch`, :func:`sample_batch`, :func:`train_test_split`) in :mod:`.batches`; both are
re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

import awkward as ak
import numpy as np
import torch

from qcdgen.errors import InputError, NaNError
from qcdgen.hic.events import STANDARD_EVENT_FIELDS, make_events
from qcdgen.hic.surrogate.batches import (VECTORISED_MAX_KEYS, Batch, check_event_idx, sample_batch,
                                          train_test_split)
from qcdgen.hic.surrogate.conditions import ConditionScaler, check_conditions, to_numpy
from qcdgen.hic.surrogate.vocabulary import DEFAULT_VOCABULARY, SpeciesVocabulary

__all__ = ["SUMMARY_NAMES", "FEATURE_NAMES", "ConditionScaler", "EventTensors", "Batch",
           "load_event_tensors", "events_to_tensors", "sample_batch", "train_test_split",
           "tensors_to_events", "random_rotation", "check_conditions", "VECTORISED_MAX_KEYS"]

#: per-particle feature columns
FEATURE_NAMES = ("log_pt", "eta", "phi")
#: per-event summary columns (psi3 in the canonical frame)
SUMMARY_NAMES = ("q2", "q3", "psi3", "mean_pt")
_TWO_PI = 2.0 * math.pi


# -- the tensors -----------------------------------------------------------------------------
@dataclass
class EventTensors:
    """E events with P kept particles in CSR layout (CPU tensors).

    features [P, 3] float32 (log pT/GeV, η, φ_c/rad); species [P] int64; offsets [E+1] int64;
    n [E] int64; summaries [E, 4] float32 (:data:`SUMMARY_NAMES`; ⟨pT⟩ in GeV); psi2 [E]
    float64 (rad, lab-frame Ψ_2 ∈ [−π/2, π/2]); conditions [E, C] float64 (raw, in the
    order of ``condition_names``); ``scaler`` is fitted on all E events' conditions.
    ``stats`` counts what was read and dropped, and the codes sent to "other".
    """

    features: torch.Tensor
    species: torch.Tensor
    offsets: torch.Tensor
    n: torch.Tensor
    summaries: torch.Tensor
    psi2: torch.Tensor
    conditions: torch.Tensor
    condition_names: tuple[str, ...]
    vocabulary: SpeciesVocabulary
    scaler: ConditionScaler
    eta_max: float | None = None
    stats: dict = field(default_factory=dict)

    summary_names = SUMMARY_NAMES
    feature_names = FEATURE_NAMES

    @property
    def n_events(self) -> int:
        return len(self.n)

    @property
    def n_particles(self) -> int:
        return len(self.species)

    def nbytes(self) -> int:
        """Memory held by the tensors, in bytes."""
        return sum(t.element_size() * t.numel() for t in (self.features, self.species, self.offsets, self.n,
                                                         self.summaries, self.psi2, self.conditions))

    def subset(self, event_idx) -> "EventTensors":
        """The events ``event_idx`` (in that order) as new tensors; scaler and stats are kept."""
        idx = check_event_idx(event_idx, self.n_events)
        n = self.n[idx]
        offsets = torch.zeros(len(idx) + 1, dtype=torch.int64)
        torch.cumsum(n, 0, out=offsets[1:])
        rows = _segment_rows(self.offsets[idx], n, int(offsets[-1]))
        return replace(self, features=self.features[rows], species=self.species[rows], offsets=offsets, n=n,
                       summaries=self.summaries[idx], psi2=self.psi2[idx], conditions=self.conditions[idx])

    def to_events(self, event_idx=None) -> ak.Array:
        """The (selected) events back in the lab frame as an event array (PDG masses, see
        :func:`tensors_to_events`)."""
        t = self if event_idx is None else self.subset(event_idx)
        conds = {name: t.conditions[:, j].numpy() for j, name in enumerate(t.condition_names)}
        return tensors_to_events(t.n, t.species, t.features[:, 0], t.features[:, 1], t.features[:, 2],
                                 conds, t.vocabulary, rotation=t.psi2)


def _segment_rows(starts: torch.Tensor, lengths: torch.Tensor, total: int) -> torch.Tensor:
    """Flat row indices of the segments [start, start + length) concatenated."""
    seg = torch.repeat_interleave(torch.arange(len(lengths)), lengths, output_size=total)
    first = torch.cumsum(lengths, 0) - lengths
    return starts[seg] + torch.arange(total) - first[seg]


# -- events → tensors --------------------------------------------------------------------------
@dataclass
class _Chunk:
    features: np.ndarray
    species: np.ndarray
    n: np.ndarray
    summaries: np.ndarray
    psi2: np.ndarray
    conditions: np.ndarray
    unknown: dict
    dropped_pt: int
    dropped_eta: int


def _wrap(phi: np.ndarray) -> np.ndarray:
    """Angle into [−π, π)."""
    return np.mod(phi + math.pi, _TWO_PI) - math.pi


def _chunk_tensors(px, py, pz, pdg, counts, cond, vocabulary, eta_max, where: str, first_event: int) -> _Chunk:
    """The numerical core: flat float64 momenta of one chunk → canonical features and summaries."""
    n_ev = len(counts)
    for name, col in (("px", px), ("py", py), ("pz", pz)):
        bad = ~np.isfinite(col)
        if bad.any():
            ev = int(np.searchsorted(np.cumsum(counts), np.flatnonzero(bad)[0], side="right"))
            raise InputError(f"{where}: event {first_event + ev} has a non-finite particle {name}")
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    keep = pt > 0
    dropped_pt = int((~keep).sum())
    if eta_max is not None:
        inside = np.abs(eta) < eta_max
        dropped_eta = int((keep & ~inside).sum())
        keep &= inside
    else:
        dropped_eta = 0
    event = np.repeat(np.arange(n_ev), counts)[keep]
    pt, eta, pdg = pt[keep], eta[keep], pdg[keep]
    phi = np.arctan2(py[keep], px[keep])
    n = np.bincount(event, minlength=n_ev)

    def q(h):
        return np.bincount(event, np.cos(h * phi), n_ev) + 1j * np.bincount(event, np.sin(h * phi), n_ev)

    q2, q3 = q(2), q(3)
    psi2 = np.angle(q2) / 2.0                  # arg(0) = 0 for empty events
    q3c = q3 * np.exp(-3j * psi2)
    safe_n = np.maximum(n, 1)
    summaries = np.stack([np.abs(q2) / safe_n, np.abs(q3) / safe_n, np.angle(q3c) / 3.0,
                          np.bincount(event, pt, n_ev) / safe_n], axis=1)
    features = np.stack([np.log(pt), eta, _wrap(phi - psi2[event])], axis=1).astype(np.float32)
    spec, unknown = vocabulary.index(pdg, return_unknown=True)
    return _Chunk(features, spec, n.astype(np.int64), summaries.astype(np.float32), psi2, cond,
                  unknown, dropped_pt, dropped_eta)


def _flat_column(particles, name: str, dtype) -> np.ndarray:
    """A flat particle column; a missing (None) value becomes NaN (refused later) or code 0 ("other")."""
    col = ak.fill_none(ak.flatten(particles[name], axis=1), np.nan if dtype == np.float64 else 0)
    return np.asarray(ak.to_numpy(col), dtype=dtype)


def _events_chunk(events: ak.Array, names, vocabulary, eta_max, where: str, first_event: int) -> _Chunk:
    particles = events.particles
    counts = np.asarray(ak.to_numpy(ak.num(particles, axis=1)), dtype=np.int64)
    cols = [_flat_column(particles, k, np.float64) for k in ("px", "py", "pz")]
    pdg = _flat_column(particles, "pdg", np.int64)
    cond = np.stack([np.asarray(ak.to_numpy(events[c]), dtype=np.float64) for c in names], axis=1) \
        if names else np.zeros((len(events), 0))
    bad = ~np.isfinite(cond)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(f"{where}: condition {names[col]!r} is {cond[row, col]} in event {first_event + row}; "
                         "every conditioning value must be finite (drop that condition or those events)")
    return _chunk_tensors(*cols, pdg, counts, cond, vocabulary, eta_max, where, first_event)


def _allowed_conditions(event_field_names) -> list[str]:
    fields = [f for f in event_field_names if f != "particles"]
    return [f for f in fields if f not in STANDARD_EVENT_FIELDS] + (["b"] if "b" in fields else [])


def _check_eta_max(eta_max) -> float | None:
    if eta_max is None:
        return None
    if isinstance(eta_max, bool) or not isinstance(eta_max, (int, float, np.floating, np.integer)) \
            or not (0 < float(eta_max) < math.inf):
        raise InputError(f"eta_max must be a finite number > 0 or None (keep all), got {eta_max!r}")
    return float(eta_max)


def _assemble(chunks: list[_Chunk], names, vocabulary: SpeciesVocabulary, eta_max, stats: dict) -> EventTensors:
    if not chunks or sum(len(c.n) for c in chunks) == 0:
        raise InputError("no events were read; the event source is empty")
    unknown: dict[int, int] = {}
    for c in chunks:
        for code, k in c.unknown.items():
            unknown[code] = unknown.get(code, 0) + k
    n = torch.from_numpy(np.concatenate([c.n for c in chunks]))
    offsets = torch.zeros(len(n) + 1, dtype=torch.int64)
    torch.cumsum(n, 0, out=offsets[1:])
    conditions = torch.from_numpy(np.concatenate([c.conditions for c in chunks]))
    stats = dict(stats, dropped_zero_pt=sum(c.dropped_pt for c in chunks),
                 dropped_eta=sum(c.dropped_eta for c in chunks), unknown_codes=dict(sorted(unknown.items())))
    return EventTensors(
        features=torch.from_numpy(np.concatenate([c.features for c in chunks])),
        species=torch.from_numpy(np.concatenate([c.species for c in chunks])),
        offsets=offsets, n=n,
        summaries=torch.from_numpy(np.concatenate([c.summaries for c in chunks])),
        psi2=torch.from_numpy(np.concatenate([c.psi2 for c in chunks])),
        conditions=conditions, condition_names=names,
        vocabulary=vocabulary.choose_other(unknown),
        scaler=ConditionScaler.fit(names, conditions.numpy()),
        eta_max=eta_max, stats=stats)


def events_to_tensors(events: ak.Array, conditions: Sequence[str] | str = (),
                      vocabulary: SpeciesVocabulary = DEFAULT_VOCABULARY, eta_max: float | None = None
                      ) -> EventTensors:
    """In-memory version of :func:`load_event_tensors` for an event array."""
    if not isinstance(events, ak.Array) or "particles" not in (events.fields or []):
        raise InputError("events is not a qcdgen event array (no 'particles' field)")
    names = check_conditions(conditions, _allowed_conditions(events.fields))
    eta_max = _check_eta_max(eta_max)
    chunk = _events_chunk(events, names, vocabulary, eta_max, "events", 0)
    return _assemble([chunk], names, vocabulary, eta_max, {"events_read": len(events)})


def load_event_tensors(paths, conditions: Sequence[str] | str = (), vocabulary: SpeciesVocabulary = DEFAULT_VOCABULARY,
                       eta_max: float | None = None, max_events: int | None = None,
                       progress: bool = True) -> EventTensors:
    """Read event files row group by row group into :class:`EventTensors`.

    Only px, py, pz, pdg and the condition fields are read. ``conditions`` are event field
    names (any condition field of the files, or ``b``), checked per file. ``max_events``
    stops after that many events over all files. If ``vocabulary.other_pdg`` is None it is
    set from the data (most frequent known "other" code).
    """
    from qcdgen.hic.events import parquet_file
    from qcdgen.runtime import progress_bar

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no event files given")
    if not isinstance(vocabulary, SpeciesVocabulary):
        raise InputError(f"vocabulary must be a SpeciesVocabulary, got {type(vocabulary).__name__}")
    if max_events is not None and (isinstance(max_events, bool) or not isinstance(max_events, (int, np.integer))
                                   or max_events < 1):
        raise InputError(f"max_events must be an integer >= 1 or None, got {max_events!r}")
    eta_max = _check_eta_max(eta_max)
    files, names = [], None
    for path in paths:
        pf = parquet_file(path)
        top = pf.schema_arrow.names
        if "particles" not in top:
            raise InputError(f"{str(path)!r} is a Parquet file but not a qcdgen event file (no 'particles' column)")
        names = check_conditions(conditions, _allowed_conditions(top), repr(str(path)))
        leaves = [c.path for c in pf.schema]
        wanted = [p for p in leaves if p.startswith("particles.") and p.rsplit(".", 1)[-1] in ("px", "py", "pz", "pdg")]
        if len(wanted) != 4:
            raise InputError(f"{str(path)!r}: particle columns px, py, pz, pdg are not all present")
        files.append((path, pf, wanted + list(names)))
    chunks, read = [], 0
    total = sum(pf.num_row_groups for _, pf, _ in files)
    with progress_bar(progress) as bar:
        task = bar.add_task("loading events", total=total, status="")
        for path, pf, columns in files:
            first = 0
            for g in range(pf.num_row_groups):
                if max_events is not None and read >= max_events:
                    break
                events = ak.from_arrow(pf.read_row_group(g, columns=columns))
                if max_events is not None:
                    events = events[: max_events - read]
                chunks.append(_events_chunk(events, names, vocabulary, eta_max, repr(str(path)), first))
                first += len(events)
                read += len(events)
                bar.update(task, advance=1, status=f"{read} events")
    return _assemble(chunks, names, vocabulary, eta_max, {"events_read": read})


# -- tensors → events -------------------------------------------------------------------------------
def random_rotation(n_events: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform azimuthal rotations in [0, 2π), [E] float64, for generated (canonical-frame) events."""
    return torch.rand(int(n_events), generator=generator, dtype=torch.float64) * _TWO_PI


def tensors_to_events(n, species, log_pt, eta, phi, conditions: Mapping[str, object],
                      vocabulary: SpeciesVocabulary, rotation=None) -> ak.Array:
    """An event array from flat per-particle tensors (numpy or torch).

    n [E] particles per event; species [P] class indices; log_pt [P] (GeV), eta [P], phi [P]
    (rad) with P = Σn; ``rotation`` [E] (rad) is added to φ of every particle of an event
    (Ψ_2 to undo the canonical frame, or :func:`random_rotation`). With p_T = e^{log pT} and
    m the class's PDG mass:

        p_x = p_T cos φ,  p_y = p_T sin φ,  p_z = p_T sinh η,  E = √((p_T cosh η)² + m²).

    ``conditions`` become event fields (``b`` the standard impact-parameter field), so the
    result is an ordinary event file. A non-finite particle value raises :class:`NaNError`.
    """
    if not isinstance(vocabulary, SpeciesVocabulary):
        raise InputError(f"vocabulary must be a SpeciesVocabulary, got {type(vocabulary).__name__}")
    n = to_numpy(n, None)
    if n.ndim != 1 or n.dtype.kind not in "iu" or (n < 0).any():
        raise InputError(f"n must be a 1-D array of non-negative integers, got dtype {n.dtype} shape {n.shape}")
    n_particles = int(n.sum())
    cols = {}
    for name, value in (("species", species), ("log_pt", log_pt), ("eta", eta), ("phi", phi)):
        arr = to_numpy(value, None)
        if arr.shape != (n_particles,):
            raise InputError(f"{name} must have shape ({n_particles},) (sum of n), got {arr.shape}")
        cols[name] = arr
    index = vocabulary._check_index(cols["species"])
    for name in ("log_pt", "eta", "phi"):
        cols[name] = cols[name].astype(np.float64)
        bad = ~np.isfinite(cols[name])
        if bad.any():
            raise NaNError(f"{int(bad.sum())} non-finite values in generated {name}; refusing to write them")
    phi = cols["phi"]
    if rotation is not None:
        rot = to_numpy(rotation, np.float64)
        if rot.shape != n.shape or not np.isfinite(rot).all():
            raise InputError(f"rotation must be finite with shape {n.shape}, got shape {rot.shape}")
        phi = phi + np.repeat(rot, n)
    mass = vocabulary.masses[index]
    with np.errstate(over="ignore", invalid="ignore"):       # overflow is reported just below
        pt = np.exp(cols["log_pt"])
        p = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(cols["eta"]),
             "E": np.hypot(pt * np.cosh(cols["eta"]), mass), "mass": mass,
             "pdg": vocabulary.pdg(index), "charge": vocabulary.charges[index]}
    for name in ("px", "py", "pz", "E"):
        bad = ~np.isfinite(p[name])
        if bad.any():
            raise NaNError(f"{int(bad.sum())} particles overflow in {name} (log_pt or |eta| too large)")
    conditions = dict(conditions or {})
    for name in conditions:
        if name in ("npart", "ncoll", "particles"):
            raise InputError(f"condition {name!r} cannot be set by the surrogate; allowed: 'b' or condition fields")
    b = conditions.pop("b", None)
    conds = {k: to_numpy(v, np.float64) for k, v in conditions.items()}
    return make_events(n, p, b=None if b is None else to_numpy(b, np.float64), **conds)
