"""Real hydrodynamics as a heavy-ion generator: TRENTo → (2+1)D viscous hydro → Cooper–Frye → decays.

Per event:

1. **initial state**: a Glauber–TRENTo entropy profile T_R(x, y) on the hydro grid
   (cell centres x_i = (i − (n−1)/2) Δx), normalised to dS/dη_s d²x = N · T_R (fm⁻²) with
   N = ``norm`` · (√s/2.76 TeV)^0.30, so s(τ0) = N T_R / τ0; Bjorken start (u^x = u^y =
   π^{μν} = 0 at τ0, no pre-equilibrium);
2. **hydro**: :func:`qcdgen.hic.hydro.evolve` (KT + Heun, Israel–Stewart shear, η/s a constant
   or an :class:`~qcdgen.hic.hydro.initial.EtaOverS`) with ``eos="lattice"`` (default): HotQCD
   joined below T_lo = 155 MeV to the ideal gas of the sampler's own species, so e, P and T are
   those of the sampled hadron gas on the T_sw ≤ 155 MeV surface and Cooper–Frye conserves
   energy; ``eos="conformal"`` keeps the older e = 3P gas with g_eff matched to e_HRG(T_sw)
   (e continuous, P not: sampled hadrons then carry only 0.84–0.90 of the fluid's energy flux);
   e0 = e(s0) through the same EoS (:func:`qcdgen.hic.hydro.initial.entropy_to_energy`);
3. **particlization**: the T = T_sw surface (:func:`qcdgen.hic.hydro.freezeout.surface_from_hydro`),
   Cooper–Frye sampling with quantum statistics and Grad's shear δf over |η_s| < y_max
   (:mod:`qcdgen.hic.hydro.cooper_frye`), resonance masses from Breit–Wigners;
4. **decays**: the strong and electromagnetic decays of :mod:`.decays` (no hadronic afterburner).

Each event's TRENTo profile is also returned downsampled (``profile_n``² cells on
[−profile_max, profile_max]², bilinear), for the (initial profile, final state) sidecar file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from qcdgen.errors import InputError

__all__ = ["HydroSettings", "HydroGenerator", "downsample_profiles", "EOS_CHOICES"]

#: the equations of state of the generator (the sidecar's ``eos`` code is the index)
EOS_CHOICES = ("lattice", "first_order", "conformal")


@dataclass(frozen=True)
class HydroSettings:
    """Conditions and model parameters of the hydro generator (lengths fm, temperatures GeV)."""

    system: str = "PbPb"
    sqrts: float = 2760.0
    # Defaults eta_s, norm, tau0, T_sw (lattice EoS, TRENTo defaults p = 0, k = 1.6, w = 0.5, dx = 0.3)
    # tuned by hand to ALICE Pb–Pb 2.76 TeV (src/qcdgen/hic/data/alice_pbpb2760.csv) with 3–8 events per
    # point in 0–5 % and 20–30 % (2026-12-03; check: benchmarks/hic_hydro_alice.py): norm sets dN_ch/dη
    # (∝ norm; 80 gave 1749 ± 22 in 0–5 % with 40 events, hence 73); tau0 0.6 → 1.0 fm lowers the
    # proton ⟨pT⟩ by 14 %, the pion's by 2 %; T_sw 0.15 → 0.13 raises π/K/p ⟨pT⟩ by ~10 %, so T_sw sits at the top of the HRG-matched range
    # (40 events, 0–5 %: π 0.61, K 0.91, p 1.26 GeV vs ALICE 0.517, 0.876, 1.333); eta_s = 0.08 gives
    # v2{2} within 1σ of ALICE in 0–5 and 40–50 %, 0.100 ± 0.007 in 20–30 % (ALICE 0.084). No bulk
    # viscosity, no hadronic afterburner: the pion ⟨pT⟩ stays ~18 % high whatever tau0/T_sw.
    eta_s: object = 0.08            # η/s: a constant, or an EtaOverS (η/s)(T)
    beta2: float | None = None
    centrality: tuple[float, float] | None = None
    norm: float = 73.0              # dS/dη_s d²x = norm · T_R · (√s/2.76 TeV)^sqrts_exponent  (fm⁻²)
    sqrts_exponent: float = 0.30    # dN_ch/dη per participant ∝ s^0.15 (ALICE PRL 116 (2016) 222302)
    tau0: float = 0.6
    T_sw: float = 0.155             # switching (particlization) temperature (≤ 0.155 with the lattice EoS)
    dx: float = 0.3                 # hydro and TRENTo cell size
    grid_max: float | None = None   # grid half-width (default 1.6 R_nucleus + 4 fm: Pb 14.6 fm)
    tau_max: float = 30.0           # give up (InputError) if the fluid is still above T_sw here
    save_dtau: float = 0.3          # spacing of the slices the surface is built from
    y_max: float = 2.0              # |η_s| range of the sampled particles
    batch: int = 4                  # events evolved together
    profile_n: int = 64             # sidecar profile cells per side
    profile_max: float = 10.0       # sidecar window half-width
    positions: bool = False
    eos: str = "lattice"            # "lattice" (HotQCD + the sampler's HRG), "conformal" or "first_order"
    oversample: int = 0             # extra Cooper-Frye samples per event for the sidecar's smooth spectrum
    trento: dict = field(default_factory=dict)

    def check(self) -> "HydroSettings":
        from qcdgen.hic.initial import Nucleus, parse_system

        try:
            names = parse_system(self.system)
        except InputError as exc:
            raise InputError(f"--system: {exc}") from None
        if not (self.sqrts > 2.0):
            raise InputError(f"--sqrts must be above 2 GeV, got {self.sqrts}")
        if callable(self.eta_s):
            from qcdgen.hic.hydro.initial import EtaOverS
            if not isinstance(self.eta_s, EtaOverS):
                raise InputError(f"eta_s must be a number or an EtaOverS, got {self.eta_s!r}")
        elif not (isinstance(self.eta_s, (int, float)) and 0.0 <= self.eta_s <= 1.0):
            raise InputError(f"--eta-s must be in [0, 1], got {self.eta_s}")
        if self.eos not in EOS_CHOICES:
            raise InputError(f"--eos must be one of {', '.join(EOS_CHOICES)}, got {self.eos!r}")
        if int(self.oversample) != self.oversample or self.oversample < 0:
            raise InputError(f"--oversample must be an integer >= 0, got {self.oversample}")
        if self.eos == "lattice" and self.T_sw > 0.155:
            raise InputError(f"T_sw = {self.T_sw} GeV is above 0.155 GeV, where the lattice EoS stops being "
                             "the sampler's hadron gas; energy would not be conserved at particlization")
        for name in ("norm", "tau0", "dx", "save_dtau", "profile_max") + (("grid_max",) if self.grid_max is not None else ()):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number, got {value!r}")
        if not (0.1 <= self.T_sw <= 0.17):
            raise InputError(f"T_sw must be in [0.10, 0.17] GeV (hadron gas), got {self.T_sw}")
        if not (self.tau_max > self.tau0):
            raise InputError(f"tau_max must be > tau0 = {self.tau0} fm, got {self.tau_max}")
        if not (0.1 <= self.y_max <= 8.0):
            raise InputError(f"y_max must be in [0.1, 8], got {self.y_max}")
        if int(self.batch) != self.batch or self.batch < 1 or int(self.profile_n) != self.profile_n or self.profile_n < 2:
            raise InputError(f"batch and profile_n must be positive integers, got {self.batch}, {self.profile_n}")
        if self.centrality is not None:
            lo, hi = self.centrality
            if not (0.0 <= lo < hi <= 100.0):
                raise InputError(f"--centrality must be LO-HI with 0 <= LO < HI <= 100, got {lo}-{hi}")
        radius = max(Nucleus.from_name(n).surface_radius() for n in names)
        if self.grid_max is not None and self.grid_max < radius + 2.0:
            raise InputError(f"grid_max = {self.grid_max:g} fm is too small for the nucleus (radius "
                             f"{radius:.1f} fm): the grid must reach at least {radius + 2.0:.1f} fm")
        return self

    def half_width(self) -> float:
        """The grid half-width in fm (``grid_max`` or 1.6 R + 4 fm of the larger nucleus)."""
        if self.grid_max is not None:
            return float(self.grid_max)
        from qcdgen.hic.initial import Nucleus, parse_system

        return 1.6 * max(Nucleus.from_name(n).surface_radius() for n in parse_system(self.system)) + 4.0

    def conditions(self) -> dict:
        out = {"sqrts": self.sqrts, "eta_s": float(self.eta_s)}
        if self.beta2 is not None:
            out["beta2"] = self.beta2
        return out

    def to_dict(self) -> dict:
        return asdict(self)


def downsample_profiles(profiles: np.ndarray, dx: float, n: int, half_width: float) -> np.ndarray:
    """Bilinear resampling of (events, N, N) grid profiles (cell centres (i − (N−1)/2) dx) onto
    ``n`` × ``n`` cell centres of [−half_width, half_width]² (zero outside the source grid)."""
    from scipy.ndimage import map_coordinates

    prof = np.asarray(profiles, float)
    big = prof.shape[-1]
    centres = -half_width + (np.arange(n) + 0.5) * (2.0 * half_width / n)
    idx = centres / dx + 0.5 * (big - 1)
    I, J = np.meshgrid(idx, idx, indexing="ij")
    return np.stack([map_coordinates(p, [I, J], order=1, mode="constant", cval=0.0) for p in prof])


class HydroGenerator:
    """Generate events in chunks: ``gen.generate(n, rng) -> (events, states)``; ``states.sidecar``
    holds the downsampled initial entropy profiles (see :meth:`sidecar`)."""

    name = "hydro"

    def __init__(self, settings: HydroSettings | None = None, **overrides):
        from qcdgen.hic.generators.decays import threshold
        from qcdgen.hic.hydro.cooper_frye import thermal_species
        from qcdgen.hic.hydro.eos import HBARC, ConformalEOS, get_eos

        settings = settings or HydroSettings()
        self.settings = replace(settings, **{k: v for k, v in overrides.items() if v is not None}).check()
        s = self.settings
        self.species = thermal_species(s.T_sw, statistics="quantum")
        self._thresholds = np.array([threshold(int(c)) for c in self.species.codes])
        g_eff = self.species.energy_density * 30.0 * HBARC ** 3 / (math.pi ** 2 * s.T_sw ** 4)
        if s.eos == "conformal":
            self.eos = ConformalEOS(g=g_eff)
        elif s.eos == "first_order":
            # bag model (EOS-Q style): a massless hadron gas with e matched to the sampler's HRG at T_sw,
            # a Maxwell mixed phase at Tc = 0.17 GeV and a QGP above (latent heat 4B)
            from qcdgen.hic.hydro.eos import FirstOrderEOS

            self.eos = FirstOrderEOS(Tc=0.17, g_h=g_eff)
        else:
            self.eos = get_eos("lattice")
        self.n_grid = 2 * int(math.ceil(s.half_width() / s.dx))

    # -- the geometry ---------------------------------------------------------------------
    @property
    def grid(self):
        from qcdgen.hic.initial import Grid

        return Grid(n=self.n_grid, max=0.5 * self.n_grid * self.settings.dx)

    def initial_states(self, n_events: int, rng: np.random.Generator):
        from qcdgen.hic.initial import sample_initial_states

        s = self.settings
        return sample_initial_states(system=s.system, sqrts=s.sqrts, n_events=n_events, rng=rng,
                                     centrality=s.centrality, beta2=s.beta2, grid=self.grid, keep_profiles=True,
                                     random_reaction_plane=True, **s.trento)

    def centrality_of(self, b) -> np.ndarray:
        from qcdgen.hic.initial import impact_parameter_calibration, parse_system

        proj, targ = parse_system(self.settings.system)
        return np.asarray(impact_parameter_calibration(proj, targ, self.settings.sqrts).centrality(b), float)

    @property
    def norm(self) -> float:
        """The entropy normalisation at this √s (fm⁻² per unit T_R)."""
        s = self.settings
        return s.norm * (s.sqrts / 2760.0) ** s.sqrts_exponent

    def energy_density(self, entropy_density) -> np.ndarray:
        """e (GeV/fm³) of the generator's EoS at entropy density s (fm⁻³)."""
        from qcdgen.hic.hydro.initial import entropy_to_energy

        return entropy_to_energy(entropy_density, self.eos)

    # -- the events -----------------------------------------------------------------------
    def generate(self, n_events: int, rng: np.random.Generator):
        """``n_events`` events as an awkward array, plus the initial states that made them
        (with ``states.sidecar = {"entropy_profile": (n, profile_n, profile_n)}``)."""
        from qcdgen.hic.generators.decays import decay_all

        s = self.settings
        states = self.initial_states(n_events, rng)
        s0 = self.norm * states.profiles                               # dS/dη d²x, fm⁻²
        states.sidecar = {"entropy_profile": downsample_profiles(s0, s.dx, s.profile_n, s.profile_max)}
        states.profiles = None
        e0 = self.energy_density(s0 / s.tau0)
        cols = {k: [] for k in ("spec", "p", "E", "m", "owner", "x")}
        extra = {k: [] for k in ("spec", "p", "E", "m", "owner")}
        for start in range(0, n_events, s.batch):
            stop = min(start + s.batch, n_events)
            res = self._evolve(e0[start:stop], start)
            for j in range(stop - start):
                surf = self._surface(res, j, start + j)
                for k in range(1 + int(s.oversample)):
                    sample = self._sample(surf, rng)
                    dest = cols if k == 0 else extra
                    dest["spec"].append(sample.species)
                    dest["p"].append(sample.p)
                    dest["E"].append(sample.E)
                    dest["m"].append(sample.mass)
                    dest["owner"].append(np.full(len(sample), start + j))
                    if k == 0:
                        cols["x"].append(sample.x)
            del res
        spec, p, e, m, owner, x = (np.concatenate(cols[k]) for k in ("spec", "p", "E", "m", "owner", "x"))
        from qcdgen.hic.generators.hydro_inspired import events_from_hadrons

        decayed = decay_all(self.species.codes[spec], p, e, m, owner, rng, positions=x if s.positions else None)
        if s.oversample:
            states.sidecar["spectrum"] = self._oversampled_spectra(extra, n_events, rng)
        events = events_from_hadrons(*decayed, n_events, states, self.centrality_of(states.b), s.conditions())
        return events, states

    def _oversampled_spectra(self, extra: dict, n_events: int, rng) -> np.ndarray:
        """dN/(dy pT dpT dφ) of charged hadrons (after decays) averaged over the extra samples."""
        from qcdgen.hic.generators.decays import decay_all
        from qcdgen.hic.observables.spectrum2d import charged_spectra
        from qcdgen.hic.species import charge

        spec, p, e, m, owner = (np.concatenate(extra[k]) for k in ("spec", "p", "E", "m", "owner"))
        codes, p, e, _, owner, _ = decay_all(self.species.codes[spec], p, e, m, owner, rng)
        return charged_spectra(charge(codes), p[:, 0], p[:, 1], p[:, 2], e, owner, n_events,
                               oversample=self.settings.oversample)

    writes_sidecar = True

    def sidecar(self, states) -> dict:
        """Per-event arrays for the sidecar file, with their attributes."""
        s = self.settings
        from qcdgen.hic.observables.spectrum2d import PHI_EDGES, PT_EDGES, Y_MAX

        return {"arrays": states.sidecar,
                "attrs": {"oversample": int(s.oversample), "eos": s.eos, "pt_edges": PT_EDGES, "phi_edges": PHI_EDGES,
                          "spectrum": f"charged dN/(dy pT dpT dphi) (GeV^-2), |y| < {Y_MAX}, mean of oversample samples",
                          "entropy_profile": f"dS/deta_s d^2x at tau0 (fm^-2) = {self.norm:.6g} * TRENTo T_R",
                          "window_fm": [-s.profile_max, s.profile_max], "cells": int(s.profile_n),
                          "cell_centres_fm": f"-{s.profile_max:g} + (i + 0.5) * {2 * s.profile_max / s.profile_n:g}",
                          "axes": "[event, x, y]"}}

    def _evolve(self, e0, first_event):
        from qcdgen.hic.hydro.evolve import HydroBlowUp, evolve

        s = self.settings
        saves = np.append(np.arange(s.tau0, s.tau_max, s.save_dtau), s.tau_max)
        try:
            return evolve(e0, dx=s.dx, tau0=s.tau0, tau_end=s.tau_max, eta_s=s.eta_s, eos=self.eos,
                          save_taus=saves, stop_T=s.T_sw)
        except HydroBlowUp as exc:
            raise InputError(f"hydro blew up in event {first_event + exc.event} of this chunk at "
                             f"tau = {exc.tau:.3f} fm; try a smaller dx") from None

    def _surface(self, res, j, event):
        """The T = T_sw surface of event j of a hydro batch (checked to close inside grid and time)."""
        from qcdgen.hic.hydro.freezeout import surface_from_hydro

        s = self.settings
        T = np.asarray(self.eos.temperature(res.e[:, j]))
        edge = np.concatenate([T[:, 0, :], T[:, -1, :], T[:, :, 0], T[:, :, -1]], axis=1).max(axis=1)
        if (edge > s.T_sw).any():
            tau = float(res.tau[int(np.argmax(edge > s.T_sw))])
            raise InputError(f"event {event}: the fluid above T_sw reaches the grid edge at tau = {tau:.2f} fm; "
                             f"raise grid_max (now {s.half_width():g} fm)")
        surf = surface_from_hydro(res, s.T_sw, event=j)
        if surf.hot_at_end:
            raise InputError(f"event {event}: still above T_sw at tau_max = {s.tau_max:g} fm; raise tau_max")
        return surf

    def _sample(self, surf, rng):
        """One Cooper-Frye sample of hadrons (before decays) on a surface."""
        from qcdgen.hic.generators.hydro_inspired import sample_resonance_masses
        from qcdgen.hic.hydro.cooper_frye import sample_cooper_frye

        s = self.settings
        sp = self.species
        masses = lambda idx, r: sample_resonance_masses(idx, sp.masses, sp.widths, self._thresholds, r)
        return sample_cooper_frye(surf, sp, rng, y_max=s.y_max, shear=s.eta_s > 0, mass_sampler=masses)
