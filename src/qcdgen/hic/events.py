"""The heavy-ion event model: awkward arrays of events, stored in Parquet.

One event is a record::

    {particles: var * {px, py, pz, E, mass: float64, pdg, charge: int32 [, t, x, y, z: float64]},
     b: float64, npart: int32, ncoll: int32, <conditions>: float64 ...}

- Momenta and masses in GeV, positions in fm, ``b`` in fm. Unknown ``b`` is NaN, unknown
  ``npart``/``ncoll`` are −1 (a simulator file that does not say).
- Conditions (``sqrts``, ``eta_s``, ``beta2``, ``centrality`` …) are further float64 event
  fields, so a surrogate can condition on any of them by name.
- Converted HepMC3 and JETSCAPE files carry ``weight`` (the generator's event weight, 1 when
  it gives none) and ``centrality`` (percent as the generator wrote it, NaN when unknown)
  the same way; files without them load as before.
- File-level facts (generator, system, package version) live in the Parquet key-value
  metadata under ``qcdgen``, as JSON.

Files are written one row group per chunk (streamed, atomically renamed into place) and
read back row group by row group, so a file larger than memory can be processed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import awkward as ak
import numpy as np

from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.io.atomic import atomic_path

__all__ = [
    "MOMENTUM_FIELDS", "POSITION_FIELDS", "STANDARD_EVENT_FIELDS",
    "make_events", "concatenate", "check_events", "event_fields", "condition_fields",
    "kinematics", "EventWriter", "write_events", "iter_events", "read_events", "read_metadata",
    "count_events", "parquet_file",
]

#: per-particle fields every event file has, with their dtypes
MOMENTUM_FIELDS = {"px": np.float64, "py": np.float64, "pz": np.float64, "E": np.float64,
                   "mass": np.float64, "pdg": np.int32, "charge": np.int32}
#: optional per-particle space-time fields (all or none)
POSITION_FIELDS = {"t": np.float64, "x": np.float64, "y": np.float64, "z": np.float64}
#: event fields every event has; conditions come on top
STANDARD_EVENT_FIELDS = {"b": np.float64, "npart": np.int32, "ncoll": np.int32}
_METADATA_KEY = b"qcdgen"
#: default number of events per Parquet row group
ROW_GROUP_EVENTS = 1000


def make_events(counts, particles: Mapping[str, np.ndarray], b=None, npart=None, ncoll=None,
                **conditions) -> ak.Array:
    """Build an event array from flat per-particle columns and per-event fields.

    ``counts[i]`` is the number of particles in event i; every column of ``particles`` is flat
    with ``sum(counts)`` entries and must hold all of :data:`MOMENTUM_FIELDS` (and optionally
    all of :data:`POSITION_FIELDS`). Event fields are scalars or arrays of ``len(counts)``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or (counts < 0).any():
        raise InputError("counts must be a 1-D array of non-negative particle counts per event")
    n_events, n_particles = len(counts), int(counts.sum())
    missing = [k for k in MOMENTUM_FIELDS if k not in particles]
    if missing:
        raise InputError(f"particle columns {missing} are missing; every event file needs {list(MOMENTUM_FIELDS)}")
    has_pos = [k in particles for k in POSITION_FIELDS]
    if any(has_pos) and not all(has_pos):
        raise InputError(f"space-time columns must be given all together ({list(POSITION_FIELDS)}) or not at all")
    fields = dict(MOMENTUM_FIELDS) | (dict(POSITION_FIELDS) if all(has_pos) else {})
    unknown = sorted(set(particles) - set(fields))
    if unknown:
        raise InputError(f"unknown particle columns {unknown}; allowed: {list(fields)}")
    flat = {}
    for name, dtype in fields.items():
        col = np.ascontiguousarray(np.asarray(particles[name], dtype=dtype).reshape(-1))
        if len(col) != n_particles:
            raise InputError(f"particle column {name!r} has {len(col)} entries, counts sum to {n_particles}")
        flat[name] = col
    record = {"particles": ak.unflatten(ak.zip(flat, depth_limit=1), counts)}
    defaults = {"b": np.nan, "npart": -1, "ncoll": -1}
    given = {"b": b, "npart": npart, "ncoll": ncoll}
    for name, dtype in STANDARD_EVENT_FIELDS.items():
        value = defaults[name] if given[name] is None else given[name]
        record[name] = _event_column(name, value, n_events, dtype)
    for name, value in conditions.items():
        if name in record or name in fields:
            raise InputError(f"condition {name!r} clashes with a standard field name")
        record[name] = _event_column(name, value, n_events, np.float64)
    return ak.zip(record, depth_limit=1)


def _event_column(name: str, value, n_events: int, dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = np.full(n_events, arr)
    if arr.shape != (n_events,):
        raise InputError(f"event field {name!r} must be a scalar or have one entry per event "
                         f"({n_events}), got shape {arr.shape}")
    try:
        return arr.astype(dtype)
    except (TypeError, ValueError):
        raise InputError(f"event field {name!r} must be numeric, got {arr.dtype}") from None


def check_events(events: ak.Array, what: str = "events") -> ak.Array:
    """Refuse an array that is not in the event layout above (names what is wrong)."""
    if not isinstance(events, ak.Array) or events.fields == [] or "particles" not in events.fields:
        raise InputError(f"{what} is not a qcdgen event array (no 'particles' field)")
    pfields = set(events.particles.fields)
    missing = [k for k in MOMENTUM_FIELDS if k not in pfields]
    if missing:
        raise InputError(f"{what}: particle fields {missing} are missing")
    missing = [k for k in STANDARD_EVENT_FIELDS if k not in events.fields]
    if missing:
        raise InputError(f"{what}: event fields {missing} are missing")
    for name in ("px", "py", "pz", "E"):
        flat = ak.to_numpy(ak.flatten(events.particles[name]))
        if not np.isfinite(flat).all():
            raise InputError(f"{what}: {int((~np.isfinite(flat)).sum())} non-finite values in particle field {name!r}")
    return events


def event_fields(events: ak.Array) -> list[str]:
    """Names of the per-event scalar fields (standard ones and conditions)."""
    return [f for f in events.fields if f != "particles"]


def condition_fields(events: ak.Array) -> list[str]:
    """Names of the generating conditions stored with the events (beyond b, npart, ncoll)."""
    return [f for f in event_fields(events) if f not in STANDARD_EVENT_FIELDS]


def concatenate(chunks: Iterable[ak.Array]) -> ak.Array:
    chunks = [c for c in chunks if len(c)]
    if not chunks:
        raise InputError("no events to concatenate")
    return ak.concatenate(chunks)


def kinematics(particles: ak.Array):
    """Lorentz vectors (``vector`` awkward behaviour): ``.pt``, ``.rapidity``, ``.eta``, ``.phi``.

    ``particles`` is ``events.particles`` (jagged) or any record array with px, py, pz, E.
    """
    import vector

    return vector.zip({"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.E})


class EventWriter:
    """Stream events into a Parquet file, one row group per :meth:`write` call.

    The file appears under its final name only when the writer closes without error::

        with EventWriter("E.parquet", metadata={"generator": "blast_wave"}) as out:
            for chunk in chunks:
                out.write(chunk)
    """

    def __init__(self, path: str | Path, metadata: Mapping | None = None):
        self.path = Path(path)
        self.metadata = {"qcdgen_version": __version__} | dict(metadata or {})
        self.n_events = 0
        self._atomic = atomic_path(self.path)
        self._writer = None
        self._schema = None

    def __enter__(self) -> "EventWriter":
        self._tmp = self._atomic.__enter__()
        return self

    def write(self, events: ak.Array) -> None:
        import pyarrow.parquet as pq

        if len(events) == 0:
            return
        check_events(events)
        table = ak.to_arrow_table(events, extensionarray=False, list_to32=False)
        if self._writer is None:
            meta = dict(table.schema.metadata or {})
            meta[_METADATA_KEY] = json.dumps(self.metadata, default=_json_default).encode()
            self._schema = table.schema.with_metadata(meta)
            self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")
        elif table.schema.remove_metadata() != self._schema.remove_metadata():
            raise InputError("every chunk written to one event file must have the same fields and types; "
                             f"first chunk: {self._schema.names}, this chunk: {table.schema.names}")
        self._writer.write_table(table.replace_schema_metadata(self._schema.metadata))
        self.n_events += len(events)

    def __exit__(self, exc_type, exc, tb):
        if self._writer is not None:
            self._writer.close()
        elif exc_type is None:
            raise InputError(f"no events were written to {str(self.path)!r}")
        return self._atomic.__exit__(exc_type, exc, tb)


def _json_default(obj):
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def write_events(path: str | Path, events: ak.Array, metadata: Mapping | None = None,
                 row_group_events: int = ROW_GROUP_EVENTS) -> None:
    """Write an event array to Parquet atomically, ``row_group_events`` events per row group."""
    with EventWriter(path, metadata) as out:
        for start in range(0, len(events), row_group_events):
            out.write(events[start:start + row_group_events])


def parquet_file(path: str | Path):
    """The ``pyarrow.parquet.ParquetFile`` of an event file (InputError if missing or unreadable)."""
    import pyarrow
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise InputError(f"event file {str(path)!r} does not exist")
    try:
        return pq.ParquetFile(path)
    except (pyarrow.ArrowInvalid, OSError) as exc:
        raise InputError(f"{str(path)!r} is not a readable Parquet event file ({exc})") from None


def iter_events(path: str | Path, columns: list[str] | None = None) -> Iterator[ak.Array]:
    """Yield the events of a Parquet file one row group at a time (memory bounded by a group)."""
    pf = parquet_file(path)
    if "particles" not in pf.schema_arrow.names:
        raise InputError(f"{str(path)!r} is a Parquet file but not a qcdgen event file (no 'particles' column)")
    for i in range(pf.num_row_groups):
        yield ak.from_arrow(pf.read_row_group(i, columns=columns))


def read_events(path: str | Path, columns: list[str] | None = None, max_events: int | None = None) -> ak.Array:
    """All events of a file (or the first ``max_events``) as one array."""
    chunks, n = [], 0
    for chunk in iter_events(path, columns):
        chunks.append(chunk)
        n += len(chunk)
        if max_events is not None and n >= max_events:
            break
    events = concatenate(chunks)
    return events if max_events is None else events[:max_events]


def read_metadata(path: str | Path) -> dict:
    """The file-level metadata dict written by :class:`EventWriter` (empty for foreign files)."""
    meta = parquet_file(path).schema_arrow.metadata or {}
    raw = meta.get(_METADATA_KEY)
    return json.loads(raw) if raw else {}


def count_events(path: str | Path) -> int:
    return int(parquet_file(path).metadata.num_rows)
