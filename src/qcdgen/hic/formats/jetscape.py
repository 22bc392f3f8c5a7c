"""JETSCAPE final-state hadron (or parton) files, ASCII, as ``JetScapeWriterFinalStateStream`` writes them.

Spec (JETSCAPE ``src/framework/JetScapeWriterFinalStateStream.cc``), tab separated::

    #	JETSCAPE_FINAL_STATE	v2	|	N	pid	status	E	Px	Py	Pz
    #	Event	1	weight	1	EPangle	0	N_hadrons	341	[vertex_x .. centrality .. pt_hat ..]
    0 211 27 1.08566 0.385059 0.292645 0.962134
    ...
    #	sigmaGen	66.9	sigmaErr	0.1

The event line is read as key/value pairs after ``Event n``; its ``N_hadrons`` (or
``N_partons``) count is checked when present, ``weight`` becomes the event field ``weight``
(1 when absent) and ``centrality`` the event field ``centrality`` (as written, in percent;
NaN when absent or negative, JETSCAPE's "not set" is −1). The file has no mass, charge,
positions, impact parameter, Npart or Ncoll: mass is ``sqrt(max(E² − p², 0))``, charge comes
from the PDG code (partons get 0, see :func:`qcdgen.hic.species.charge`), ``b`` is NaN and
``npart``/``ncoll`` are −1. Particles with a negative status
(holes left by jet-medium recoils, meant to be subtracted) are not final-state particles
and are dropped.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import awkward as ak

from qcdgen.hic.formats._text import ChunkBuilder, LineReader, flat_columns, fmt_float, iter_chunks

__all__ = ["read_jetscape", "write_jetscape"]

_COLUMNS = {"pdg": 1, "E": 3, "px": 4, "py": 5, "pz": 6}
_WIDTH = 7


def read_jetscape(path, chunk_events: int = 1000,
                  on_bytes: Callable[[int], None] | None = None) -> Iterator[ak.Array]:
    """Stream the events of a JETSCAPE final-state ASCII file."""
    reader = LineReader(path, on_bytes)
    builder = ChunkBuilder(reader, _COLUMNS, event_fields={"weight": 1.0, "centrality": math.nan})
    event, declared, found, event_line, fields = None, None, 0, 0, {}

    def close_event():
        if declared is not None and found != declared:
            raise reader.error(event_line, f"event {event} declares {declared} particles but {found} were found")
        builder.end_event(**fields)

    for lineno, line in reader:
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0].startswith("#") or tokens[0] == "JETSCAPE_FINAL_STATE":
            if tokens[0] == "#":
                tokens = tokens[1:]
            elif tokens[0].startswith("#"):
                tokens[0] = tokens[0][1:]
            if "QnVector" in tokens:
                raise reader.error(lineno, "this is a JETSCAPE Qn-vector file (binned flow), it lists no particles")
            if event is not None:  # an event line, the footer (sigmaGen) or a comment closes the open event
                close_event()
                event = None
            if tokens and tokens[0] == "Event":
                if len(tokens) < 2:
                    raise reader.error(lineno, "event line without an event number")
                event, event_line, found, declared, fields = tokens[1], lineno, 0, None, {}
                for key, value in zip(tokens[2::2], tokens[3::2]):
                    if key in ("weight", "centrality"):
                        try:
                            number = float(value)
                        except ValueError:
                            raise reader.error(lineno, f"could not parse {value!r} as a number ({key})") from None
                        if key == "centrality" and not number >= 0:
                            number = math.nan
                        fields[key] = number
                    elif key.startswith("N_"):
                        try:
                            declared = int(value)
                        except ValueError:
                            raise reader.error(lineno, f"could not parse {value!r} as a particle count ({key})") from None
            if len(builder) >= chunk_events:
                reader.report()
                yield builder.build()
            continue
        if event is None:
            raise reader.error(lineno, "particle line outside an event (no '#\tEvent\tN ...' line before it)")
        if len(tokens) != _WIDTH:
            raise reader.error(lineno, f"expected {_WIDTH} columns (N pid status E Px Py Pz), got {len(tokens)}")
        found += 1
        if declared is not None and found > declared:
            raise reader.error(lineno, f"more particle lines than the {declared} declared for event {event} "
                                       f"at line {event_line}")
        if not tokens[2].startswith("-"):
            builder.add(line, lineno)
    if event is not None:
        close_event()
    if len(builder):
        reader.report()
        yield builder.build()


def write_jetscape(fh, events, status: int = 0) -> int:
    """Write events as a JETSCAPE v2 final-state hadron file (every particle gets ``status``).

    Only momenta, PDG codes and the event ``weight`` (1 if the events have none) and
    ``centrality`` (when the events have it) are kept by the format; the footer cross section is 0.
    """
    fh.write("#\tJETSCAPE_FINAL_STATE\tv2\t|\tN\tpid\tstatus\tE\tPx\tPy\tPz\n")
    n_events = 0
    for chunk in iter_chunks(events):
        counts, p, ev = flat_columns(chunk)
        cols = [p[k].tolist() for k in ("E", "px", "py", "pz")]
        pdg = p["pdg"].tolist()
        weights = ev["weight"].tolist() if "weight" in ev else [1.0] * len(counts)
        cents = ev["centrality"].tolist() if "centrality" in ev else None
        start = 0
        for j, n in enumerate(counts.tolist()):
            n_events += 1
            cent = "" if cents is None else f"\tcentrality\t{fmt_float(cents[j]) if cents[j] >= 0 else '-1'}"
            fh.write(f"#\tEvent\t{n_events}\tweight\t{fmt_float(weights[j])}\tEPangle\t0\tN_hadrons\t{n}{cent}\n")
            for i in range(start, start + n):
                fh.write(f"{i - start} {pdg[i]} {status} " + " ".join(fmt_float(c[i]) for c in cols) + "\n")
            start += n
    fh.write("#\tsigmaGen\t0\tsigmaErr\t0\n")
    return n_events
