"""Plumbing shared by the text readers and writers.

- :class:`MalformedFileError` points at ``file:line``.
- :class:`LineReader` walks a file line by line (binary, so the bytes read can drive a
  progress bar) and keeps the current line number for error messages; a gzip-compressed
  file (``1f 8b`` magic bytes, any name) is decompressed on the fly.
- :class:`ChunkBuilder` collects particle lines as text and parses them into NumPy columns in
  bulk (``np.loadtxt``), so the per-line Python work stays small; a field that does not
  parse is then found row by row and reported with its line and column name.
- :func:`iter_chunks` and :func:`flat_columns` let the writers stream events chunk by chunk.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import awkward as ak
import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import MOMENTUM_FIELDS, POSITION_FIELDS, check_events, make_events

__all__ = ["MalformedFileError", "LineReader", "ChunkBuilder", "looks_like_count_line",
           "iter_chunks", "flat_columns", "WRITE_CHUNK", "is_gzip", "read_head", "OPTIONAL_EVENT_FIELDS"]

#: events per chunk when a writer is handed one big array
WRITE_CHUNK = 1000
#: text rows kept before they are converted to numbers (bounds the memory held as strings)
_CONVERT_ROWS = 1 << 16
_INT_COLUMNS = {"pdg", "charge"}
#: event fields some formats carry (HepMC3, JETSCAPE) and the readers keep as float64 conditions:
#: the event weight and the centrality (percent) the generator assigned
OPTIONAL_EVENT_FIELDS = ("weight", "centrality")


class MalformedFileError(InputError):
    """A simulator file that breaks its format; the message is ``"{path}:{lineno}: {what}"``."""

    def __init__(self, path, lineno: int, what: str):
        self.path, self.lineno, self.what = str(path), int(lineno), what
        super().__init__(f"{self.path}:{self.lineno}: {what}")

    def __reduce__(self):
        return type(self), (self.path, self.lineno, self.what)


def open_input(path) -> Path:
    """Refuse a missing input file with a one-line message."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"event file {str(path)!r} does not exist")
    if not path.is_file():
        raise InputError(f"event file {str(path)!r} is not a regular file")
    return path


def is_gzip(path) -> bool:
    """True when the file starts with the gzip magic bytes ``1f 8b``."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def read_head(path, size: int = 8192) -> bytes:
    """The first ``size`` bytes of a file, decompressed if it is gzip (a corrupt gzip reads as what came out)."""
    if not is_gzip(path):
        with open(path, "rb") as fh:
            return fh.read(size)
    out = b""
    try:
        with gzip.open(path, "rb") as fh:
            out = fh.read(size)
    except (OSError, EOFError) as exc:
        if not out:
            raise InputError(f"{str(path)!r} starts like a gzip file but cannot be decompressed ({exc})") from None
    return out


class LineReader:
    """``for lineno, line in LineReader(path):`` with 1-based line numbers.

    ``bytes_read`` counts the bytes consumed; :meth:`report` hands it to ``on_bytes``.
    """

    def __init__(self, path, on_bytes: Callable[[int], None] | None = None):
        self.path = open_input(path)
        self.on_bytes = on_bytes
        self.lineno = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        with open(self.path, "rb") as raw_fh:
            if raw_fh.read(2) != b"\x1f\x8b":
                raw_fh.seek(0)
                for raw in raw_fh:
                    self.lineno += 1
                    self.bytes_read += len(raw)
                    yield self.lineno, raw.decode("utf-8", "replace")
                return
            raw_fh.seek(0)
            try:
                with gzip.GzipFile(fileobj=raw_fh, mode="rb") as fh:
                    for raw in fh:
                        self.lineno += 1
                        self.bytes_read = raw_fh.tell()  # compressed bytes: the progress bar's total is the file size
                        yield self.lineno, raw.decode("utf-8", "replace")
            except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
                raise self.error(self.lineno + 1, f"the gzip stream is corrupt or truncated ({exc})") from None

    def error(self, lineno: int, what: str) -> MalformedFileError:
        return MalformedFileError(self.path, lineno, what)

    def report(self) -> None:
        if self.on_bytes is not None:
            self.on_bytes(self.bytes_read)


def looks_like_count_line(tokens: list[str]) -> bool:
    """A short line whose first two fields are integers: an event or block header, not a particle."""
    if not 2 <= len(tokens) <= 8:
        return False
    try:
        int(tokens[0]), int(tokens[1])
    except ValueError:
        return False
    return True


def parse_int(reader: LineReader, lineno: int, token: str, what: str) -> int:
    try:
        return int(token)
    except ValueError:
        raise reader.error(lineno, f"could not parse {token!r} as an integer ({what})") from None


def parse_float(reader: LineReader, lineno: int, token: str, what: str) -> float:
    try:
        return float(token.replace("D", "E").replace("d", "e"))
    except ValueError:
        raise reader.error(lineno, f"could not parse {token!r} as a number ({what})") from None


class ChunkBuilder:
    """Collect the final-state particles of whole events and build an event array from them.

    ``columns`` maps qcdgen particle fields (px, py, pz, E, pdg and optionally mass, charge,
    t, x, y, z) to token positions in a particle line. A missing charge is looked up from the
    PDG code, a missing mass is ``sqrt(max(E² − p², 0))``.
    """

    def __init__(self, reader: LineReader, columns: Mapping[str, int],
                 event_fields: Mapping[str, float] | None = None):
        """``event_fields`` names further float64 event fields (``weight``, ``centrality``) with
        the value an event gets when :meth:`end_event` is not given one."""
        self.reader = reader
        self.event_defaults = dict(event_fields or {})
        self.extra: dict[str, list[float]] = {k: [] for k in self.event_defaults}
        self.columns = dict(columns)
        self.width = max(self.columns.values()) + 1
        self._rows: list[str] = []
        self._lines: list[int] = []
        self._parts: dict[str, list[np.ndarray]] = {k: [] for k in self.columns}
        self._event_start = 0  # index into _rows where the open event's particles begin
        self.counts: list[int] = []
        self.b: list[float] = []
        self.npart: list[int] = []
        self.ncoll: list[int] = []

    def __len__(self) -> int:
        return len(self.counts)

    def add(self, line: str, lineno: int) -> None:
        """One particle line of the open event (the caller has checked its width)."""
        self._rows.append(line)
        self._lines.append(lineno)

    def discard_event_rows(self) -> None:
        """Forget the particles collected for the open event (a later block replaces them)."""
        del self._rows[self._event_start:], self._lines[self._event_start:]

    def end_event(self, b: float = math.nan, npart: int = -1, ncoll: int = -1, **fields: float) -> None:
        unknown = set(fields) - set(self.event_defaults)
        if unknown:
            raise TypeError(f"event fields {sorted(unknown)} were not declared to the ChunkBuilder")
        for k, default in self.event_defaults.items():
            self.extra[k].append(fields.get(k, default))
        self.counts.append(len(self._rows) - self._event_start)
        self.b.append(b)
        self.npart.append(npart)
        self.ncoll.append(ncoll)
        if len(self._rows) >= _CONVERT_ROWS:
            self._convert()
        self._event_start = len(self._rows)

    def _convert(self) -> None:
        """Parse the pending text rows in bulk (``np.loadtxt``); on failure find the bad field."""
        if not self._rows:
            return
        usecols = sorted(set(self.columns.values()))
        try:
            table = np.loadtxt(self._rows, dtype=np.float64, usecols=usecols, ndmin=2, comments=None)
        except ValueError:
            try:  # Fortran double-precision exponents (1.0D+00)
                table = np.loadtxt([r.replace("D", "E").replace("d", "e") for r in self._rows], dtype=np.float64,
                                   usecols=usecols, ndmin=2, comments=None)
            except ValueError:
                table = self._parse_slowly(usecols)
        for name, j in self.columns.items():
            col = table[:, usecols.index(j)]
            if name in _INT_COLUMNS:
                as_int = col.astype(np.int64)
                bad = np.flatnonzero(as_int != col)
                if len(bad):
                    self._fail(int(bad[0]), j, name, "an integer")
                col = as_int
            elif name in ("px", "py", "pz", "E"):
                bad = np.flatnonzero(~np.isfinite(col))
                if len(bad):
                    i = int(bad[0])
                    raise self.reader.error(self._lines[i], f"non-finite value {self._rows[i].split()[j]!r} in column {name}")
            self._parts[name].append(col)
        self._rows, self._lines, self._event_start = [], [], 0

    def _parse_slowly(self, usecols: list[int]) -> np.ndarray:
        """Row by row: Fortran ``D`` exponents, and the line of the first field that is not a number."""
        names = {j: name for name, j in self.columns.items()}
        table = np.empty((len(self._rows), len(usecols)))
        for i, line in enumerate(self._rows):
            tokens = line.split()
            for k, j in enumerate(usecols):
                try:
                    table[i, k] = float(tokens[j].replace("D", "E").replace("d", "e"))
                except ValueError:
                    self._fail(i, j, names[j], "a number")
        return table

    def _fail(self, i: int, j: int, name: str, what: str):
        token = self._rows[i].split()[j]
        raise self.reader.error(self._lines[i], f"could not parse {token!r} as {what} in column {name}")

    def build(self) -> ak.Array:
        """The collected events as an event array; the builder starts empty again."""
        if len(self._rows) != self._event_start:
            raise RuntimeError("build() called inside an open event")
        self._convert()
        cols = {name: (np.concatenate(parts) if parts else np.empty(0, np.int64 if name in _INT_COLUMNS else np.float64))
                for name, parts in self._parts.items()}
        if "charge" not in cols:
            from qcdgen.hic.species import charge

            cols["charge"] = charge(cols["pdg"]) if len(cols["pdg"]) else np.empty(0, np.int32)
        if "mass" not in cols:
            cols["mass"] = mass_from_momentum(cols["E"], cols["px"], cols["py"], cols["pz"])
        cols = {k: v for k, v in cols.items() if k in MOMENTUM_FIELDS or k in POSITION_FIELDS}
        extra = {k: np.asarray(v, np.float64) for k, v in self.extra.items()}
        events = make_events(self.counts, cols, b=np.asarray(self.b, np.float64),
                             npart=np.asarray(self.npart, np.int64), ncoll=np.asarray(self.ncoll, np.int64), **extra)
        self._parts = {k: [] for k in self.columns}
        self.extra = {k: [] for k in self.event_defaults}
        self.counts, self.b, self.npart, self.ncoll = [], [], [], []
        return events


def mass_from_momentum(E, px, py, pz) -> np.ndarray:
    m2 = np.asarray(E) ** 2 - np.asarray(px) ** 2 - np.asarray(py) ** 2 - np.asarray(pz) ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def iter_chunks(events, chunk: int = WRITE_CHUNK) -> Iterator[ak.Array]:
    """Chunks of events from one array or from an iterable of arrays (each checked)."""
    if isinstance(events, ak.Array):
        check_events(events)
        for start in range(0, len(events), chunk):
            yield events[start:start + chunk]
        return
    if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
        raise InputError(f"events must be an event array or an iterable of event arrays, got {type(events).__name__}")
    for i, part in enumerate(events):
        check_events(part, what=f"event chunk {i}")
        yield from iter_chunks(part, chunk)


def flat_columns(events: ak.Array) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(counts, particle columns as flat NumPy arrays, event fields)`` of one chunk.

    Positions come back only when the events carry them, ``weight`` and ``centrality`` only when
    the events have those fields.
    """
    counts = ak.to_numpy(ak.num(events.particles, axis=1)).astype(np.int64)
    names = list(MOMENTUM_FIELDS)
    if all(k in events.particles.fields for k in POSITION_FIELDS):
        names += list(POSITION_FIELDS)
    flat = {k: ak.to_numpy(ak.flatten(events.particles[k], axis=1)) for k in names}
    fields = {k: ak.to_numpy(events[k]) for k in ("b", "npart", "ncoll") + OPTIONAL_EVENT_FIELDS
              if k in events.fields}
    return counts, flat, fields


def fmt_float(x: float) -> str:
    """Shortest text that reads back to the same float64 (``repr``)."""
    return repr(float(x))
