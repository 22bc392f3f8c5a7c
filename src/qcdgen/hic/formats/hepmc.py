"""HepMC3 ASCII event records (and HepMC2 ``IO_GenEvent`` files) through pyhepmc.

Spec: HepMC3 (Buckley et al., Comput. Phys. Commun. 260 (2021) 107310), ``Asciiv3`` format.
Final-state particles are those with status 1; momenta are converted to GeV when the event
says MeV. ``GenHeavyIon`` carries the event fields: ``b`` = ``impact_parameter`` (fm),
``npart`` = ``Npart_proj + Npart_targ``, ``ncoll`` = ``Ncoll``, ``centrality`` =
``centrality`` (as the generator wrote it, percent by the Rivet convention); a negative
value there means unknown (NaN / −1). A record that is all zeros (``Npart``, ``Ncoll``,
``b``, centrality) is the unfilled default (HepMC2's ``HeavyIon()``; Pythia 8 and JEWEL
write it) and means unknown too. HepMC2 ``H`` lines have no centrality: NaN. The event
field ``weight`` is the first (nominal) event weight, 1 when the event lists none.
Positions are not read or written (momenta only). When writing, ``npart`` is split as
``Npart_proj = npart - npart // 2``, ``Npart_targ = npart // 2`` because qcdgen does not
know the split.

A gzip-compressed file is read through ``gzip`` (any name). A file that does not start
with a ``HepMC::`` line is refused before the HepMC3 library sees it, and the library's
warnings (``pyhepmc.Setup``) and raw ``printf`` output are silenced while reading, so a
wrong ``--format hepmc3`` or a malformed file (JEWEL's HepMC2, a truncated event; the
library's C++ exceptions included) gives one line.
"""

from __future__ import annotations

import contextlib
import gzip
import math
from pathlib import Path
from typing import Callable, Iterator

import awkward as ak
import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import make_events
from qcdgen.hic.formats._text import flat_columns, is_gzip, iter_chunks, mass_from_momentum, open_input, read_head

__all__ = ["read_hepmc", "write_hepmc"]


def _probe(path: Path) -> bool:
    """Refuse a file that is not HepMC ASCII (one line); True for HepMC2 ``IO_GenEvent``."""
    head = read_head(path, 4096)
    lines = [ln.strip() for ln in head.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("HepMC::"):
        first = lines[0][:60] if lines else ""
        raise InputError(f"{str(path)!r} is not a HepMC ASCII file: its first line {first!r} is not a "
                         "'HepMC::Version' line (check --format)")
    return b"IO_GenEvent" in head or b"HepMC::Version 2" in head


@contextlib.contextmanager
def _quiet_library():
    """Turn off the HepMC3 library's warnings, error and debug prints (restored afterwards)."""
    import pyhepmc

    saved = pyhepmc.Setup.print_warnings, pyhepmc.Setup.print_errors, pyhepmc.Setup.debug_level
    pyhepmc.Setup.print_warnings = pyhepmc.Setup.print_errors = False
    pyhepmc.Setup.debug_level = 0
    try:
        yield
    finally:
        pyhepmc.Setup.print_warnings, pyhepmc.Setup.print_errors, pyhepmc.Setup.debug_level = saved


@contextlib.contextmanager
def _muted_fds():
    """Send file descriptors 1 and 2 to /dev/null while the library reads: ReaderAscii ``printf``s
    ``"16  vs  23 expected"`` on a truncated event whatever ``Setup`` says. C stdio is flushed on
    both sides so nothing buffered leaks out later. A no-op where libc cannot be reached."""
    import ctypes
    import os
    import sys

    try:
        libc = ctypes.CDLL(None)
        fflush = libc.fflush
    except (OSError, AttributeError, TypeError):
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    fflush(None)
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1), os.dup2(devnull, 2)
        yield
    finally:
        fflush(None)
        os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        for fd in saved + [devnull]:
            os.close(fd)


def read_hepmc(path, chunk_events: int = 1000,
               on_events: Callable[[int], None] | None = None) -> Iterator[ak.Array]:
    """Stream the final-state (status 1) particles of a HepMC3 or HepMC2 ASCII file."""
    import pyhepmc

    path = open_input(path)
    hepmc2 = _probe(path)
    Reader = pyhepmc.io.ReaderAsciiHepMC2Base if hepmc2 else pyhepmc.io.ReaderAsciiBase
    with contextlib.ExitStack() as stack:
        if is_gzip(path):
            stream = stack.enter_context(gzip.open(path, "rb"))
            reader = Reader(pyhepmc.io.pyiostream(stream))
        else:
            reader = Reader(str(path))
        stack.callback(reader.close)
        stack.enter_context(_quiet_library())
        yield from _read_events(reader, path, chunk_events, on_events, hepmc2)


def _read_events(reader, path, chunk_events, on_events, hepmc2: bool) -> Iterator[ak.Array]:
    from qcdgen.hic.species import charge

    n_read, done, per_chunk = 0, False, max(int(chunk_events), 1)
    buf = _Buffer()
    while not done:
        with _muted_fds():  # one chunk of events per redirect: the library's printf goes nowhere
            while len(buf) < per_chunk:
                n_read, done = _read_one(reader, path, n_read, buf, hepmc2)
                if done:
                    break
        if len(buf):
            if on_events is not None:
                on_events(n_read)
            yield buf.build(charge)


def _read_one(reader, path, n_read: int, buf, hepmc2: bool) -> tuple[int, bool]:
    """Read one event into ``buf``: ``(events read so far, end of file reached)``."""
    import pyhepmc
    from pyhepmc import Units

    event = pyhepmc.GenEvent()
    try:
        ok = reader.read_event(event)
    except (OSError, EOFError) as exc:  # a corrupt gzip stream
        raise InputError(f"{path}: reading event {n_read + 1} failed ({exc})") from None
    except (ValueError, RuntimeError, IndexError, MemoryError) as exc:  # C++ exceptions of the library
        raise InputError(f"{path}: the HepMC reader could not parse event {n_read + 1} "
                         f"(malformed HepMC file; the library said {str(exc)[:80]!r})") from None
    if reader.failed():
        if not ok or len(event.particles):
            raise InputError(f"{path}: the HepMC reader failed after {n_read} events "
                             "(malformed or truncated HepMC file)")
        return n_read, True  # end of file
    if not ok:
        raise InputError(f"{path}: the HepMC reader could not parse event {n_read + 1} "
                         "(malformed or truncated HepMC file)")
    buf.add(event, Units.MEV, hepmc2)
    return n_read + 1, False


def _unfilled(hi) -> bool:
    """A heavy-ion record left at zeros (HepMC2's default; written by generators that have none)."""
    return (hi.Npart_proj == 0 and hi.Npart_targ == 0 and hi.Ncoll == 0 and hi.impact_parameter == 0
            and hi.centrality <= 0)


class _Buffer:
    def __init__(self):
        self.parts: list[dict[str, np.ndarray]] = []
        self.b: list[float] = []
        self.npart: list[int] = []
        self.ncoll: list[int] = []
        self.weight: list[float] = []
        self.centrality: list[float] = []

    def __len__(self) -> int:
        return len(self.parts)

    def add(self, event, mev, hepmc2: bool = False) -> None:
        scale = 1e-3 if event.momentum_unit == mev else 1.0
        if len(event.particles):
            p = event.numpy.particles
            keep = np.asarray(p.status) == 1
            cols = {"px": p.px, "py": p.py, "pz": p.pz, "E": p.e}
            cols = {k: np.asarray(v, np.float64)[keep] * scale for k, v in cols.items()}
            computed = mass_from_momentum(cols["E"], cols["px"], cols["py"], cols["pz"])
            cols["mass"] = np.where(np.asarray(p.is_generated_mass_set)[keep],
                                    np.asarray(p.generated_mass, np.float64)[keep] * scale, computed)
            cols["pdg"] = np.asarray(p.pid, np.int64)[keep]
        else:
            cols = {k: np.empty(0) for k in ("px", "py", "pz", "E", "mass")} | {"pdg": np.empty(0, np.int64)}
        self.parts.append(cols)
        weights = event.weights
        self.weight.append(float(weights[0]) if len(weights) else 1.0)
        hi = event.heavy_ion
        if hi is None or _unfilled(hi):
            self.b.append(math.nan), self.npart.append(-1), self.ncoll.append(-1), self.centrality.append(math.nan)
            return
        self.centrality.append(hi.centrality if hi.centrality >= 0 and not hepmc2 else math.nan)
        self.b.append(hi.impact_parameter if hi.impact_parameter >= 0 else math.nan)
        self.npart.append(hi.Npart_proj + hi.Npart_targ if hi.Npart_proj >= 0 and hi.Npart_targ >= 0 else -1)
        self.ncoll.append(hi.Ncoll if hi.Ncoll >= 0 else -1)

    def build(self, charge) -> ak.Array:
        counts = [len(c["pdg"]) for c in self.parts]
        cols = {k: np.concatenate([c[k] for c in self.parts]) for k in self.parts[0]}
        cols["charge"] = charge(cols["pdg"]) if len(cols["pdg"]) else np.empty(0, np.int32)
        events = make_events(counts, cols, b=np.asarray(self.b), npart=np.asarray(self.npart),
                             ncoll=np.asarray(self.ncoll), weight=np.asarray(self.weight, np.float64),
                             centrality=np.asarray(self.centrality, np.float64))
        self.__init__()
        return events


def write_hepmc(path, events) -> int:
    """Write events to ``path`` in HepMC3 ASCII (status 1 particles, units GeV and mm).

    The event fields ``weight`` and ``centrality``, when the events have them, are written as the
    event weight and ``GenHeavyIon.centrality``.
    """
    import pyhepmc
    from pyhepmc import FourVector, GenEvent, GenHeavyIon, GenParticle, Units

    writer = pyhepmc.io.WriterAscii(str(path))
    n_events = 0
    try:
        for chunk in iter_chunks(events):
            counts, p, ev = flat_columns(chunk)
            cols = [p[k].tolist() for k in ("px", "py", "pz", "E", "mass", "pdg")]
            start = 0
            weights = ev["weight"].tolist() if "weight" in ev else None
            cents = ev["centrality"].tolist() if "centrality" in ev else [math.nan] * len(counts)
            for j, (n, b, npart, ncoll) in enumerate(zip(counts.tolist(), ev["b"].tolist(), ev["npart"].tolist(),
                                                         ev["ncoll"].tolist())):
                event = GenEvent(Units.GEV, Units.MM)
                event.event_number = n_events
                if weights is not None:
                    event.weights = [weights[j]]
                for i in range(start, start + n):
                    particle = GenParticle(FourVector(cols[0][i], cols[1][i], cols[2][i], cols[3][i]), cols[5][i], 1)
                    particle.generated_mass = cols[4][i]
                    event.add_particle(particle)
                start += n
                cent = cents[j]
                if not math.isnan(b) or npart >= 0 or ncoll >= 0 or cent >= 0:
                    hi = GenHeavyIon()
                    hi.centrality = cent if cent >= 0 else -1.0
                    hi.impact_parameter = b if not math.isnan(b) else -1.0
                    hi.Npart_proj, hi.Npart_targ = (npart - npart // 2, npart // 2) if npart >= 0 else (-1, -1)
                    hi.Ncoll = ncoll
                    event.heavy_ion = hi
                writer.write_event(event)
                if writer.failed():
                    raise InputError(f"writing HepMC event {n_events} to {str(path)!r} failed")
                n_events += 1
    finally:
        writer.close()
    return n_events
