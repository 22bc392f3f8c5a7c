"""OSCAR 1999A (``OSC1999A``) and OSCAR 1997A (``OSC1997A``, UrQMD file 19) particle lists.

OSC1999A, as SMASH (``oscaroutput.cc``) and UrQMD file 20 write it: ``#`` header lines,
then per event blocks of ``nin nout [event [ensemble | b ...]]`` followed by ``nin + nout``
lines ``id pdg 0 px py pz p0 mass x y z t``, and an end-of-event line
``0 0 [event [ensemble] [b]]`` (SMASH >= 3.2 writes the ensemble number, older SMASH not,
UrQMD writes ``0 0`` alone). A block with ``nin = 0`` or ``nout = 0`` is a particle list
(initial, intermediate, final); a collision of a full event history (both non-zero, or a
SMASH/UrQMD interaction line, see :func:`_is_interaction`) is skipped. The last particle
list before the end line is the final state. ``b`` comes from the end line, else from an
initial block ``0 N event b phi`` (UrQMD). An end line with no list block is an empty event,
except in a full event history, where it means the file holds no final state (refused). More
than 8 header lines without ``#`` before the first block line (HepMC, OSCAR2013 given as
``--format oscar1999``) are refused as not OSC1999A.

OSC1997A (UrQMD ``f19``, ``output.f: osc_header/osc_event``): three header lines
(``OSC1997A``, ``final_id_p_x``, code and system), then per event ``event npart b phi``
(further columns ignored) and ``npart`` lines ``i pdg px py pz p0 mass x y z t`` (further
columns ignored). A ``0 0`` line after an event, which some writers add, is skipped.

Both readers accept Fortran ``D`` exponents and any amount of whitespace.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import awkward as ak

from qcdgen.hic.formats._text import (ChunkBuilder, LineReader, flat_columns, fmt_float, iter_chunks,
                                      looks_like_count_line, parse_float, parse_int)

__all__ = ["read_osc1999a", "read_osc1997a", "write_osc1999a", "write_osc1997a"]

_COLUMNS_1999 = {"pdg": 1, "px": 3, "py": 4, "pz": 5, "E": 6, "mass": 7, "x": 8, "y": 9, "z": 10, "t": 11}
_COLUMNS_1997 = {"pdg": 1, "px": 2, "py": 3, "pz": 4, "E": 5, "mass": 6, "x": 7, "y": 8, "z": 9, "t": 10}


def _token_lines(reader: LineReader) -> Iterator[tuple[int, str, list[str]]]:
    """``(lineno, line, tokens)`` of every line that is not blank."""
    for lineno, line in reader:
        tokens = line.split()
        if tokens:
            yield lineno, line, tokens


def _check_particle_line(reader: LineReader, lineno: int, tokens: list[str], width: int,
                         truncated: Callable[[], Exception]) -> None:
    """Refuse a particle line with fewer than ``width`` columns; a count line there ends the block early."""
    if len(tokens) < width:
        if looks_like_count_line(tokens):
            raise truncated()
        raise reader.error(lineno, f"expected {width} columns, got {len(tokens)}")


def _check_count_line(reader: LineReader, lineno: int, line: str, tokens: list[str], width: int, expected: str,
                      declared: str | None) -> None:
    """Refuse a line where a count line (``expected``) is due: a particle line past what ``declared`` says
    (None before the first event), or anything else."""
    if looks_like_count_line(tokens):
        return
    if len(tokens) >= width and declared is not None:
        raise reader.error(lineno, f"more particle lines than {declared}")
    raise reader.error(lineno, f"expected {expected}, got {line.strip()[:60]!r}")


def _full_chunk(reader: LineReader, builder: ChunkBuilder, events: int) -> Iterator[ak.Array]:
    """The collected events as one chunk once there are ``events`` of them (at least one), else nothing."""
    if len(builder) >= max(events, 1):
        reader.report()
        yield builder.build()


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def _is_interaction(tokens: list[str]) -> bool:
    """A collision block line of a full event history, not a particle list.

    SMASH: ``nin nout density tot_weight part_weight proc_type`` (density written ``%12.7f``);
    UrQMD f20 (``osc99_coll``): ``nin nout iline ctag acttime sqrts stot sigpart density``.
    Any block with both ``nin`` and ``nout`` non-zero is one too.
    """
    if len(tokens) == 6 and not _is_int(tokens[2]):
        return True
    if len(tokens) == 9 and _is_int(tokens[2]) and _is_int(tokens[3]) and not _is_int(tokens[4]):
        return True
    return tokens[0] != "0" and tokens[1] != "0"


def read_osc1999a(path, chunk_events: int = 1000,
                  on_bytes: Callable[[int], None] | None = None) -> Iterator[ak.Array]:
    """Stream the final-state events of an OSC1999A file.

    Block and end lines come in three layouts, told apart by the SMASH header comment
    ``# nin nout event_number ensemble_number`` or, failing that, by the field count of the
    end line: SMASH >= 3.2 writes ``nin nout event ensemble`` and ``0 0 event ensemble b``;
    older SMASH ``nin nout event`` and ``0 0 event b``; UrQMD ``0 N event b phi``, ``N 0`` and
    ``0 0``. A full-event-history file whose events carry no particle list (SMASH
    ``Collisions`` output without ``Print_Start_End``) holds no final state and is refused.
    """
    reader = LineReader(path, on_bytes)
    builder = ChunkBuilder(reader, _COLUMNS_1999)
    width = builder.width
    in_header, event, event_b = True, None, math.nan
    remaining, declared, block_line, keep = 0, 0, 0, False
    ensemble_layout, history, n_comments = False, False, 0
    has_list, n_interactions, n_bare, first_bare = False, 0, 0, None

    def truncated() -> Exception:
        return reader.error(block_line, f"event {event} declares {declared} particles in this block but "
                                        f"{declared - remaining} were found")

    for lineno, line, tokens in _token_lines(reader):
        if tokens[0].startswith("#"):
            if remaining:
                raise truncated()
            if in_header:
                words = " ".join(tokens).lstrip("#").split()
                n_comments += 1
                if "ensemble_number" in words:
                    ensemble_layout = True
                if words == ["full_event_history"]:
                    history = True
                if n_comments == 2 and words and words[0] in _NOT_EVENTS:
                    raise reader.error(lineno, f"this is a SMASH {words[0]} file ({_NOT_EVENTS[words[0]]}), not "
                                               "final-state events; convert SMASH's particle_lists output instead")
            continue
        if in_header and not looks_like_count_line(tokens):
            n_bare += 1  # a header line written without '#' (OSC1999A spec: 4 of them)
            if n_bare > _MAX_BARE_HEADER:
                raise _not_osc1999(reader, lineno, line)
            first_bare = first_bare or (lineno, line)
            continue
        in_header = False
        if remaining:
            _check_particle_line(reader, lineno, tokens, width, truncated)
            if keep:
                builder.add(line, lineno)
            remaining -= 1
            continue
        urqmd_collision = len(tokens) == 9 and _is_int(tokens[0]) and _is_int(tokens[1]) and _is_interaction(tokens)
        if not urqmd_collision:
            _check_count_line(reader, lineno, line, tokens, width, "a block line 'nin nout event_number'",
                              None if event is None else f"the {declared} declared in the block of event {event} "
                                                         f"at line {block_line}")
        nin = parse_int(reader, lineno, tokens[0], "nin")
        nout = parse_int(reader, lineno, tokens[1], "nout")
        if nin < 0 or nout < 0:
            raise reader.error(lineno, f"negative particle count in block line {line.strip()!r}")
        if nin == 0 and nout == 0:  # end of event
            label = _label(tokens, ensemble_layout or len(tokens) >= 5)
            if not has_list and (history or n_interactions):
                raise reader.error(lineno, f"event {label} lists {n_interactions} interaction(s) but no particle list: "
                                           "a full event history without Print_Start_End holds no final state; "
                                           "convert SMASH's particle_lists output (or rerun with Print_Start_End: True)")
            b_at = 4 if (ensemble_layout or len(tokens) >= 5) else 3
            b = parse_float(reader, lineno, tokens[b_at], "impact parameter") if len(tokens) > b_at else event_b
            builder.end_event(b=b)
            event, event_b, declared, has_list, n_interactions = None, math.nan, 0, False, 0
            yield from _full_chunk(reader, builder, chunk_events)
            continue
        interaction = _is_interaction(tokens)
        if event is None:
            event = _label(tokens, ensemble_layout) if not interaction else "?"
            if not interaction and not ensemble_layout and nin == 0 and len(tokens) > 3:
                event_b = parse_float(reader, lineno, tokens[3], "impact parameter")  # UrQMD '0 N event b phi'
        keep = not interaction
        if keep:
            has_list = True
            builder.discard_event_rows()
        else:
            n_interactions += 1
        remaining = declared = nin + nout
        block_line = lineno
    if remaining:
        raise truncated()
    if in_header and first_bare is not None:
        raise _not_osc1999(reader, *first_bare)
    if event is not None:
        raise reader.error(reader.lineno, f"the file ends inside event {event}: no '0 0 {event}' end-of-event line")
    yield from _full_chunk(reader, builder, 1)


#: lines without '#' tolerated before the first block line (OSC1999A's own header has 4)
_MAX_BARE_HEADER = 8


def _not_osc1999(reader: LineReader, lineno: int, line: str) -> Exception:
    return reader.error(lineno, f"expected a block line 'nin nout event_number', got {line.strip()[:60]!r}: "
                                "this does not look like an OSC1999A file (check --format)")


#: OSC1999A/OSCAR2013 file names of SMASH outputs that are not final-state events
_NOT_EVENTS = {"Dileptons": "dilepton decays", "Photons": "photon-producing interactions",
               "SMASH_IC": "particles crossing the initial-condition hypersurface"}


def _label(tokens: list[str], ensemble: bool) -> str:
    """``event`` or ``event ensemble k`` from a block or end line (``?`` when it names none)."""
    if len(tokens) < 3:
        return "?"
    if ensemble and len(tokens) > 3 and tokens[3] != "0":
        return f"{tokens[2]} ensemble {tokens[3]}"
    return tokens[2]


def read_osc1997a(path, chunk_events: int = 1000,
                  on_bytes: Callable[[int], None] | None = None) -> Iterator[ak.Array]:
    """Stream the events of an OSC1997A (UrQMD f19) file."""
    reader = LineReader(path, on_bytes)
    builder = ChunkBuilder(reader, _COLUMNS_1997)
    width = builder.width
    seen_magic, started, just_ended = False, False, False
    event, b, remaining, declared, event_line = None, math.nan, 0, 0, 0

    def truncated() -> Exception:
        return reader.error(event_line, f"event {event} declares {declared} particles but "
                                        f"{declared - remaining} were found")

    for lineno, line, tokens in _token_lines(reader):
        if not seen_magic:
            if "OSC1997A" not in line:
                raise reader.error(lineno, f"expected the 'OSC1997A' header line, got {line.strip()[:60]!r}")
            seen_magic = True
            continue
        if tokens[0].startswith("#"):
            if remaining:
                raise truncated()
            continue
        if not started and not looks_like_count_line(tokens):
            continue  # 'final_id_p_x' and the code/system line
        started = True
        if remaining:
            _check_particle_line(reader, lineno, tokens, width, truncated)
            builder.add(line, lineno)
            remaining -= 1
            if remaining == 0:
                builder.end_event(b=b)
                just_ended = True
                yield from _full_chunk(reader, builder, chunk_events)
            continue
        _check_count_line(reader, lineno, line, tokens, width, "an event line 'event n_particles b phi'",
                          None if event is None else f"the {declared} declared for event {event} at line {event_line}")
        if just_ended and tokens == ["0", "0"]:
            just_ended = False  # optional end-of-event marker
            continue
        event, event_line = tokens[0], lineno
        remaining = declared = parse_int(reader, lineno, tokens[1], "number of particles")
        if remaining < 0:
            raise reader.error(lineno, f"negative number of particles {remaining}")
        b = parse_float(reader, lineno, tokens[2], "impact parameter") if len(tokens) > 2 else math.nan
        just_ended = remaining == 0
        if remaining == 0:
            builder.end_event(b=b)
            yield from _full_chunk(reader, builder, chunk_events)
    if remaining:
        raise truncated()
    yield from _full_chunk(reader, builder, 1)


def _particle_lines(counts, p, first_index: int, zero_column: bool):
    """Per event, the particle lines ``index pdg [0] px py pz E mass x y z t``."""
    zeros = [0.0] * len(p["E"])
    cols = [p[k].tolist() for k in ("px", "py", "pz", "E", "mass")]
    cols += [p[k].tolist() if k in p else zeros for k in ("x", "y", "z", "t")]
    pdg = p["pdg"].tolist()
    mid = " 0 " if zero_column else " "
    start = 0
    for n in counts.tolist():
        yield [f"{i - start + first_index} {pdg[i]}{mid}" + " ".join(fmt_float(c[i]) for c in cols)
               for i in range(start, start + n)]
        start += n


def write_osc1999a(fh, events) -> int:
    """OSC1999A ``final_id_p_x``: per event ``N 0 ev``, N particle lines, ``0 0 ev b``.

    An event without particles is its end line alone. Missing positions are written as 0.
    """
    from qcdgen import __version__

    fh.write("# OSC1999A\n# final_id_p_x\n"
             f"# qcdgen {__version__}\n# Block format:\n# nin nout event_number\n"
             "# id pdg 0 px py pz p0 mass x y z t\n# End of event: 0 0 event_number impact_parameter\n#\n")
    n_events = 0
    for chunk in iter_chunks(events):
        counts, p, ev = flat_columns(chunk)
        for lines, b in zip(_particle_lines(counts, p, 0, True), ev["b"].tolist()):
            if lines:
                fh.write(f"{len(lines)} 0 {n_events}\n" + "\n".join(lines) + "\n")
            fh.write(f"0 0 {n_events} {fmt_float(b)}\n")
            n_events += 1
    return n_events


def write_osc1997a(fh, events) -> int:
    """OSC1997A (UrQMD f19 layout): ``event npart b phi`` then ``i pdg px py pz E m x y z t``.

    Events and particles are numbered from 1 as UrQMD does; ``phi`` is 0; the system on the
    third header line is unknown and written as ``(0,0)+(0,0)``.
    """
    from qcdgen import __version__

    fh.write("OSC1997A\nfinal_id_p_x\n"
             f"  qcdgen  {__version__:>8}  (  0,     0)+(  0,     0)  eqsp  0.0000E+00         1\n")
    n_events = 0
    for chunk in iter_chunks(events):
        counts, p, ev = flat_columns(chunk)
        for lines, b in zip(_particle_lines(counts, p, 1, False), ev["b"].tolist()):
            n_events += 1
            fh.write(f"{n_events} {len(lines)} {fmt_float(b)} 0.0\n")
            if lines:
                fh.write("\n".join(lines) + "\n")
    return n_events
