"""OSCAR2013 and OSCAR2013Extended particle lists, as SMASH writes them.

Spec: SMASH user guide, "OSCAR particles format" (``src/oscaroutput.cc``)::

    #!OSCAR2013 particle_lists t x y z mass p0 px py pz pdg ID charge
    # Units: fm fm fm fm GeV GeV GeV GeV GeV none none e
    # SMASH-3.1
    # event 0 in 394                    (optional: the initial particles, skipped)
    <particle lines>
    # event 0 out 1523                  (final state; SMASH >= 3.2 adds "ensemble k")
    <particle lines: t x y z mass p0 px py pz pdg ID charge>
    # event 0 end 0 impact   2.345 scattering_projectile_target yes

Columns are read by the names in the ``#!`` header, so the Extended variant (and any
column order) works; only the standard ones are kept. When an event has several ``out``
blocks (``Only_Final: No``) the last one before ``end`` is the final state. Each
``(event, ensemble)`` pair becomes one qcdgen event. ``# interaction`` blocks of a
collision history (``#!OSCAR2013 full_event_history``) are skipped; its final state is the
``out`` block SMASH writes with ``Print_Start_End: True``, and a history without one is
refused (its interactions alone do not give the particles that never interacted). An event
of a particle list whose end line comes without an ``out`` block (SMASH ``Only_Final:
IfNotEmpty`` skipped it) reads as an event with no particles. SMASH ``Dileptons``,
``Photons`` and ``SMASH_IC`` files are not events and are refused.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import awkward as ak
import numpy as np

from qcdgen.hic.formats._text import ChunkBuilder, LineReader, fmt_float, flat_columns, iter_chunks
from qcdgen.hic.formats.oscar1999 import _NOT_EVENTS

__all__ = ["read_oscar2013", "write_oscar2013", "STANDARD_COLUMNS", "EXTENDED_COLUMNS"]

STANDARD_COLUMNS = ("t", "x", "y", "z", "mass", "p0", "px", "py", "pz", "pdg", "ID", "charge")
EXTENDED_COLUMNS = STANDARD_COLUMNS + ("ncoll", "form_time", "xsecfac", "proc_id_origin", "proc_type_origin",
                                       "time_last_coll", "pdg_mother1", "pdg_mother2", "baryon_number",
                                       "strangeness")
_UNITS = {"t": "fm", "x": "fm", "y": "fm", "z": "fm", "mass": "GeV", "p0": "GeV", "px": "GeV", "py": "GeV",
          "pz": "GeV", "charge": "e", "form_time": "fm", "time_last_coll": "fm"}
#: OSCAR2013 header name -> qcdgen particle field
_FIELD = {"p0": "E", "px": "px", "py": "py", "pz": "pz", "pdg": "pdg", "mass": "mass", "charge": "charge",
          "t": "t", "x": "x", "y": "y", "z": "z"}


def _columns(reader: LineReader, lineno: int, line: str) -> tuple[dict[str, int], int]:
    tokens = line.split()
    if not tokens or not tokens[0].startswith("#!OSCAR2013"):
        raise reader.error(lineno, "expected the OSCAR2013 header '#!OSCAR2013 particle_lists t x y z mass p0 px py pz "
                                   f"pdg ID charge', got {line.strip()[:60]!r}")
    if len(tokens) > 1 and tokens[1] in _NOT_EVENTS:
        raise reader.error(lineno, f"this is a SMASH {tokens[1]} file ({_NOT_EVENTS[tokens[1]]}), not final-state "
                                   "events; convert SMASH's particle_lists output instead")
    names = tokens[2:]
    missing = [n for n in ("p0", "px", "py", "pz", "pdg") if n not in names]
    if missing:
        raise reader.error(lineno, f"the OSCAR2013 header names no column {missing}; it lists {names}")
    columns = {_FIELD[n]: j for j, n in enumerate(names) if n in _FIELD}
    if not all(k in columns for k in ("t", "x", "y", "z")):
        columns = {k: j for k, j in columns.items() if k not in ("t", "x", "y", "z")}
    return columns, len(names)


def read_oscar2013(path, chunk_events: int = 1000,
                   on_bytes: Callable[[int], None] | None = None) -> Iterator[ak.Array]:
    """Stream the final-state events of an OSCAR2013 (or Extended) particle file."""
    reader = LineReader(path, on_bytes)
    lines = iter(reader)
    first = next(lines, None)
    if first is None:
        raise reader.error(1, "the file is empty")
    columns, ncols = _columns(reader, *first)
    history = first[1].split()[1:2] == ["full_event_history"]
    builder = ChunkBuilder(reader, columns)
    has_out, n_interactions = False, 0

    event = None        # (event, ensemble) label of the open event
    event_line = 0      # line of the open event's first block
    block = None        # "in", "out" or "skip"
    remaining, declared, block_line = 0, 0, 0

    def truncated() -> Exception:
        what = "the interaction block" if block == "skip" else _name(event)
        return reader.error(block_line, f"{what} declares {declared} particles but {declared - remaining} were found")

    for lineno, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] != "#":
            if remaining == 0:
                if event is None or block is None:
                    raise reader.error(lineno, "particle line outside an event block (no '# event N out M' line before it)")
                raise reader.error(lineno, f"more particle lines than the {declared} declared for {_name(event)}")
            tokens = stripped.split()
            if len(tokens) != ncols:
                raise reader.error(lineno, f"expected {ncols} columns, got {len(tokens)}")
            if block == "out":
                builder.add(line, lineno)
            remaining -= 1
            continue
        if remaining:
            raise truncated()
        tokens = stripped[1:].split()
        if not tokens:
            continue
        if tokens[0] == "interaction":
            try:
                remaining = declared = int(tokens[tokens.index("in") + 1]) + int(tokens[tokens.index("out") + 1])
            except (ValueError, IndexError):
                raise reader.error(lineno, "could not read the particle counts of an '# interaction in N out M' line") from None
            block, block_line = "skip", lineno
            n_interactions += 1
            continue
        if tokens[0] != "event":
            continue  # a comment: units, version, ...
        label, kind, value = _event_line(reader, lineno, tokens)
        if kind in ("in", "out"):
            if event is not None and label != event:
                raise reader.error(lineno, f"{_name(event)} has no end line ('# event {event[0]} end ...') "
                                           f"before {_name(label)} starts")
            if event is None:
                event, event_line = label, lineno
            remaining = declared = _count(reader, lineno, value)
            block_line = lineno
            block = kind
            if kind == "out":
                builder.discard_event_rows()
                has_out = True
        elif kind == "end":
            if event is not None and label != event:
                raise reader.error(lineno, f"end line of {_name(label)} while {_name(event)} is open")
            if history and not has_out:
                raise reader.error(lineno, f"{_name(label)} lists {n_interactions} interaction(s) but no "
                                           f"'# event {label[0]} out N' block: a full event history without "
                                           "Print_Start_End holds no final state; convert SMASH's particle_lists "
                                           "output (or rerun with Print_Start_End: True)")
            builder.end_event(b=_impact(reader, lineno, tokens))
            event, block, declared, has_out, n_interactions = None, None, 0, False, 0
            if len(builder) >= chunk_events:
                reader.report()
                yield builder.build()
    if remaining:
        raise truncated()
    if event is not None:
        raise reader.error(reader.lineno, f"the file ends inside {_name(event)} (begun at line {event_line}): "
                                          f"no '# event {event[0]} end' line")
    if len(builder):
        reader.report()
        yield builder.build()


def _name(label: tuple[int, int]) -> str:
    return f"event {label[0]}" + (f" ensemble {label[1]}" if label[1] else "")


def _event_line(reader: LineReader, lineno: int, tokens: list[str]):
    """``event N [ensemble K] (in|out|end) VALUE ...`` -> ((N, K), kind, VALUE)."""
    try:
        i = 2
        label = (int(tokens[1]), 0)
        if tokens[2] == "ensemble":
            label = (label[0], int(tokens[3]))
            i = 4
        kind, value = tokens[i], tokens[i + 1]
    except (IndexError, ValueError):
        raise reader.error(lineno, "could not read the event line; expected '# event N [ensemble K] in|out|end M ...'") from None
    if kind not in ("in", "out", "end"):
        raise reader.error(lineno, f"unknown event block kind {kind!r}; expected 'in', 'out' or 'end'")
    return label, kind, value


def _count(reader: LineReader, lineno: int, token: str) -> int:
    try:
        n = int(token)
    except ValueError:
        n = -1
    if n < 0:
        raise reader.error(lineno, f"could not parse {token!r} as a particle count")
    return n


def _impact(reader: LineReader, lineno: int, tokens: list[str]) -> float:
    if "impact" not in tokens:
        return math.nan
    i = tokens.index("impact")
    try:
        return float(tokens[i + 1])
    except (IndexError, ValueError):
        raise reader.error(lineno, "could not read the impact parameter after 'impact'") from None


def write_oscar2013(fh, events, extended: bool = False) -> int:
    """Write events as an OSCAR2013 particle list (``ID`` is the index in the event).

    Events without positions get ``t x y z = 0``. The Extended columns that qcdgen does not
    keep are written as neutral values (no collisions, ``xsecfac`` 1, no mothers); the
    baryon number and strangeness come from the PDG tables.
    """
    from qcdgen import __version__
    from qcdgen.hic import species

    names = EXTENDED_COLUMNS if extended else STANDARD_COLUMNS
    magic = "#!OSCAR2013Extended" if extended else "#!OSCAR2013"
    fh.write(f"{magic} particle_lists {' '.join(names)}\n")
    fh.write("# Units: " + " ".join(_UNITS.get(n, "none") for n in names) + "\n")
    fh.write(f"# qcdgen-{__version__}\n")
    n_events = 0
    for chunk in iter_chunks(events):
        counts, p, ev = flat_columns(chunk)
        zeros = np.zeros(len(p["E"]))
        cols = [p.get(k, zeros).tolist() for k in ("t", "x", "y", "z")]
        cols += [p[k].tolist() for k in ("mass", "E", "px", "py", "pz")]
        pdg, charge = p["pdg"].tolist(), p["charge"].tolist()
        if extended:
            baryon, strange = species.baryon_number(p["pdg"]).tolist(), species.strangeness(p["pdg"]).tolist()
        start = 0
        for n, b in zip(counts.tolist(), ev["b"].tolist()):
            fh.write(f"# event {n_events} out {n}\n")
            for j in range(start, start + n):
                line = " ".join(fmt_float(c[j]) for c in cols) + f" {pdg[j]} {j - start} {charge[j]}"
                if extended:
                    line += f" 0 0 1 0 0 0 0 0 {baryon[j]} {strange[j]}"
                fh.write(line + "\n")
            fh.write(f"# event {n_events} end 0 impact {fmt_float(b)} scattering_projectile_target yes\n")
            start += n
            n_events += 1
    return n_events
