"""Pythia 8 Angantyr (Bierlich, Gustafson, Lönnblad, Shah, JHEP 10 (2018) 134) into qcdgen events.

Angantyr stacks Pythia pp-like sub-collisions on a Glauber geometry (pp, pA, AA). It has
**no hydrodynamic flow**: vₙ from Angantyr is non-flow (jets, resonance decays, momentum
conservation), which makes it the natural baseline for what a flow analysis should remove.

Needs the optional extra: ``pip install "qcdgen[pythia]"`` (the ``pythia8mc`` wheel).
Particles with proper lifetime cτ > 10 mm are kept undecayed (ALICE's primary definition),
so K⁰_S, Λ, Σ±, Ξ, Ω are final like in the hydro-inspired generator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import make_events

__all__ = ["AngantyrSettings", "AngantyrGenerator", "pythia_available", "BEAM_CODES"]

#: PDG nuclear codes 100ZZZAAA0 (and the proton) for the systems Angantyr is run on here
BEAM_CODES = {"p": 2212, "d": 1000010020, "O": 1000080160, "Cu": 1000290630, "Ru": 1000440960,
              "Zr": 1000400960, "Xe": 1001541290, "Au": 1000791970, "Pb": 1000822080, "U": 1000922380}

#: Angantyr's default sub-collision model parameters (skip the slow cross-section fit at start-up),
#: as in Pythia's example main424.cc for Pb–Pb.
_SIGFIT_DEFAULT = "17.24,2.15,0.33,0.0,0.0,0.0,0.0,0.0"


def pythia_available() -> bool:
    try:
        import pythia8mc  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class AngantyrSettings:
    system: str = "PbPb"
    sqrts: float = 2760.0
    centrality: tuple[float, float] | None = None   # applied through an impact-parameter range
    b_range: tuple[float, float] | None = None      # fm; overrides centrality when given
    seed_offset: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def conditions(self) -> dict:
        return {"sqrts": self.sqrts}


class AngantyrGenerator:
    """``AngantyrGenerator(settings).generate(n, rng) -> (events, None)``; one Pythia instance per object."""

    name = "angantyr"

    def __init__(self, settings: AngantyrSettings | None = None, **overrides):
        from dataclasses import replace

        if not pythia_available():
            raise InputError("--model angantyr needs Pythia 8: pip install 'qcdgen[pythia]' (the pythia8mc wheel)")
        self.settings = replace(settings or AngantyrSettings(), **overrides)
        if not self.settings.sqrts > 10.0:
            raise InputError(f"--sqrts must be above 10 GeV for Angantyr, got {self.settings.sqrts}")
        from qcdgen.hic.initial import parse_system

        proj, targ = parse_system(self.settings.system)
        missing = [n for n in (proj, targ) if n not in BEAM_CODES]
        if missing:
            raise InputError(f"Angantyr beams {missing} unknown; known: {sorted(BEAM_CODES)}")
        self._beams = (BEAM_CODES[proj], BEAM_CODES[targ])
        self._pythia = None
        self._b_range = self._impact_range(proj, targ)

    def _impact_range(self, proj, targ):
        s = self.settings
        if s.b_range is not None:
            return s.b_range
        if s.centrality is None:
            return None
        from qcdgen.hic.initial import b_range_for_centrality

        return b_range_for_centrality(s.centrality[0], s.centrality[1], proj, targ, s.sqrts)

    def _start(self, seed: int):
        import pythia8mc

        p = pythia8mc.Pythia("", False)
        idA, idB = self._beams
        lines = [
            f"Beams:idA = {idA}", f"Beams:idB = {idB}", f"Beams:eCM = {self.settings.sqrts}",
            "Beams:frameType = 1", "SoftQCD:inelastic = on",
            "HeavyIon:SigFitNGen = 0", f"HeavyIon:SigFitDefPar = {_SIGFIT_DEFAULT}",
            "ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10",
            "Random:setSeed = on", f"Random:seed = {seed % 900_000_000 + 1}",
            "Next:numberCount = 0", "Init:showChangedSettings = off", "Init:showProcesses = off",
            "Init:showChangedParticleData = off",
        ]
        if self._b_range is not None:
            lo, hi = self._b_range
            lines += ["HeavyIon:bWidth = 14.0", f"HeavyIon:bSelMin = {lo}", f"HeavyIon:bSelMax = {hi}"]
        for line in lines:
            if not p.readString(line):
                raise InputError(f"Pythia refused the setting {line!r}")
        if not p.init():
            raise InputError("Pythia Angantyr failed to initialise (see Pythia's log above)")
        self._pythia = p

    def generate(self, n_events: int, rng: np.random.Generator):
        if self._pythia is None:
            self._start(int(rng.integers(0, 2 ** 31 - 1)))
        p = self._pythia
        cols = {k: [] for k in ("px", "py", "pz", "E", "mass", "pdg", "charge")}
        counts, b, npart, ncoll = [], [], [], []
        while len(counts) < n_events:
            if not p.next():
                continue
            n = 0
            for i in range(p.event.size()):
                prt = p.event[i]
                if not prt.isFinal():
                    continue
                cols["px"].append(prt.px()); cols["py"].append(prt.py()); cols["pz"].append(prt.pz())
                cols["E"].append(prt.e()); cols["mass"].append(prt.m()); cols["pdg"].append(prt.id())
                cols["charge"].append(int(round(prt.charge())))
                n += 1
            counts.append(n)
            hi = p.infoPython().hiInfo
            if hi is not None:
                b.append(hi.b())
                npart.append(hi.nPartProj() + hi.nPartTarg())
                ncoll.append(hi.nCollTot())
            else:
                b.append(np.nan); npart.append(-1); ncoll.append(-1)
        events = make_events(counts, {k: np.asarray(v) for k, v in cols.items()}, b=b, npart=npart,
                             ncoll=ncoll, **self.settings.conditions())
        return events, None
