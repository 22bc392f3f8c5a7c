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

#: Angantyr normally fits its sub-collision model to the NN cross sections at start-up (minutes);
#: qcdgen skips the fit (HeavyIon:SigFitNGen = 0) and uses the model's default parameters.


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
        self._names = (proj, targ)
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
            "HeavyIon:SigFitNGen = 0",
            "ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10",
            "Random:setSeed = on", f"Random:seed = {seed % 900_000_000 + 1}",
            "Print:quiet = on", "Next:numberCount = 0", "Init:showChangedSettings = off", "Init:showProcesses = off",
            "Init:showChangedParticleData = off",
        ]
        # unit-weight events: b flat over the disc b < bWidth·bWidthCut (Pythia's default is a weighted
        # Gaussian); a centrality class sets the disc to its upper b and rejects b below its lower b
        lines += ["HeavyIon:forceUnitWeight = on", "HeavyIon:SigFitPrint = off", "HeavyIon:showInit = off"]
        if self._b_range is not None:
            lines += [f"HeavyIon:bWidth = {max(self._b_range[1], 0.1)}", "HeavyIon:bWidthCut = 1.0"]
        for line in lines:
            if not p.readString(line):
                raise InputError(f"Pythia refused the setting {line!r}")
        if not p.init():
            raise InputError("Pythia Angantyr failed to initialise (see Pythia's log above)")
        self._pythia = p

    def _centrality_of(self, b: np.ndarray) -> np.ndarray:
        """Geometric centrality (percent) of b from qcdgen's Glauber calibration; NaN for pp."""
        if not np.isfinite(b).any():
            return np.full(len(b), np.nan)
        from qcdgen.hic.initial import impact_parameter_calibration

        cal = impact_parameter_calibration(*self._names, self.settings.sqrts)
        return np.where(np.isfinite(b), cal.centrality(np.nan_to_num(b)), np.nan)

    def _hi_info(self):
        """Pythia's HIInfo of the current event (None for pp, where Angantyr is not used)."""
        heavy = self._pythia.getHeavyIonsPtr()
        return None if heavy is None else heavy.hiInfo

    def generate(self, n_events: int, rng: np.random.Generator):
        if self._pythia is None:
            self._start(int(rng.integers(0, 2 ** 31 - 1)))
        p = self._pythia
        cols = {k: [] for k in ("px", "py", "pz", "E", "mass", "pdg", "charge")}
        counts, b, npart, ncoll = [], [], [], []
        while len(counts) < n_events:
            if not p.next():
                continue
            hi = self._hi_info()
            b_event = hi.b() if hi is not None else np.nan
            if self._b_range is not None and not (self._b_range[0] <= b_event <= self._b_range[1]):
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
            if hi is not None:
                b.append(b_event)
                npart.append(hi.nPartProj() + hi.nPartTarg())
                ncoll.append(hi.nCollTot())
            else:
                b.append(np.nan); npart.append(-1); ncoll.append(-1)
        b = np.asarray(b, float)
        events = make_events(counts, {k: np.asarray(v) for k, v in cols.items()}, b=b, npart=npart,
                             ncoll=ncoll, centrality=self._centrality_of(b), **self.settings.conditions())
        return events, None
