"""HepMC3 ASCII event records (and HepMC2 ``IO_GenEvent`` files) through pyhepmc.

Spec: HepMC3 (Buckley et al., Comput. Phys. Commun. 260 (2021) 107310), ``Asciiv3`` format.
Final-state particles are those with status 1; momenta are converted to GeV when the event
says MeV. ``GenHeavyIon`` carries the event fields: ``b`` = ``impact_parameter`` (fm),
``npart`` = ``Npart_proj + Npart_targ``, ``ncoll`` = ``Ncoll``; a negative value there
means unknown. Positions are not read or written (momenta only). When writing, ``npart``
is split as ``Npart_proj = npart - npart // 2``, ``Npart_targ = npart // 2`` because
qcdgen does not know the split.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterator

import awkward as ak
import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import make_events
from qcdgen.hic.formats._text import flat_columns, iter_chunks, mass_from_momentum, open_input

__all__ = ["read_hepmc", "write_hepmc"]


def _is_hepmc2(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return b"IO_GenEvent" in head or b"HepMC::Version 2" in head


def read_hepmc(path, chunk_events: int = 1000,
               on_events: Callable[[int], None] | None = None) -> Iterator[ak.Array]:
    """Stream the final-state (status 1) particles of a HepMC3 or HepMC2 ASCII file."""
    import pyhepmc
    from pyhepmc import Units

    path = open_input(path)
    from qcdgen.hic.species import charge

    Reader = pyhepmc.io.ReaderAsciiHepMC2Base if _is_hepmc2(path) else pyhepmc.io.ReaderAsciiBase
    reader = Reader(str(path))
    n_read = 0
    buf = _Buffer()
    try:
        while True:
            event = pyhepmc.GenEvent()
            ok = reader.read_event(event)
            if reader.failed():
                if not ok or len(event.particles):
                    raise InputError(f"{path}: the HepMC reader failed after {n_read} events "
                                     "(malformed or truncated HepMC file)")
                break  # end of file
            if not ok:
                raise InputError(f"{path}: the HepMC reader could not parse event {n_read + 1} "
                                 "(malformed or truncated HepMC file)")
            buf.add(event, Units.MEV)
            n_read += 1
            if len(buf) >= chunk_events:
                if on_events is not None:
                    on_events(n_read)
                yield buf.build(charge)
    finally:
        reader.close()
    if len(buf):
        if on_events is not None:
            on_events(n_read)
        yield buf.build(charge)


class _Buffer:
    def __init__(self):
        self.parts: list[dict[str, np.ndarray]] = []
        self.b: list[float] = []
        self.npart: list[int] = []
        self.ncoll: list[int] = []

    def __len__(self) -> int:
        return len(self.parts)

    def add(self, event, mev) -> None:
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
        hi = event.heavy_ion
        if hi is None:
            self.b.append(math.nan), self.npart.append(-1), self.ncoll.append(-1)
            return
        self.b.append(hi.impact_parameter if hi.impact_parameter >= 0 else math.nan)
        self.npart.append(hi.Npart_proj + hi.Npart_targ if hi.Npart_proj >= 0 and hi.Npart_targ >= 0 else -1)
        self.ncoll.append(hi.Ncoll if hi.Ncoll >= 0 else -1)

    def build(self, charge) -> ak.Array:
        counts = [len(c["pdg"]) for c in self.parts]
        cols = {k: np.concatenate([c[k] for c in self.parts]) for k in self.parts[0]}
        cols["charge"] = charge(cols["pdg"]) if len(cols["pdg"]) else np.empty(0, np.int32)
        events = make_events(counts, cols, b=np.asarray(self.b), npart=np.asarray(self.npart),
                             ncoll=np.asarray(self.ncoll))
        self.__init__()
        return events


def write_hepmc(path, events) -> int:
    """Write events to ``path`` in HepMC3 ASCII (status 1 particles, units GeV and mm)."""
    import pyhepmc
    from pyhepmc import FourVector, GenEvent, GenHeavyIon, GenParticle, Units

    writer = pyhepmc.io.WriterAscii(str(path))
    n_events = 0
    try:
        for chunk in iter_chunks(events):
            counts, p, ev = flat_columns(chunk)
            cols = [p[k].tolist() for k in ("px", "py", "pz", "E", "mass", "pdg")]
            start = 0
            for n, b, npart, ncoll in zip(counts.tolist(), ev["b"].tolist(), ev["npart"].tolist(), ev["ncoll"].tolist()):
                event = GenEvent(Units.GEV, Units.MM)
                event.event_number = n_events
                for i in range(start, start + n):
                    particle = GenParticle(FourVector(cols[0][i], cols[1][i], cols[2][i], cols[3][i]), cols[5][i], 1)
                    particle.generated_mass = cols[4][i]
                    event.add_particle(particle)
                start += n
                if not math.isnan(b) or npart >= 0 or ncoll >= 0:
                    hi = GenHeavyIon()
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
