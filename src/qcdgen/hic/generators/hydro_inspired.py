"""A hydro-inspired final-state generator: Glauber–TRENTo geometry → blast-wave hadrons.

This is *not* hydrodynamics. It is a fast, tunable stand-in that keeps the event-by-event
structure hydrodynamics gives (so a surrogate has real correlations to learn):

- **multiplicity** ∝ total TRENTo entropy S of the event (nucleon-level gamma fluctuations),
  dN/dy = A(√s) · S with A ∝ (√s)^0.30 (dN_ch/dη per participant pair ∝ s^0.15, ALICE PRL 116
  (2016) 222302), Poisson-sampled per species;
- **chemistry** from an ideal hadron resonance gas at T_ch (``hadron_gas``);
- **radial flow** from the profile size: ρ_max = ρ_ref (R/R_ref)^a with R = √2 r_rms;
- **anisotropic flow** by linear response with viscous damping (acoustic scaling,
  Staig & Shuryak PRC 84 (2011) 034908; Lacey et al.):
  ρ_n = κ ε_n exp(−β n² (η/s) ħc / (T_ch R)), along the participant planes Ψ_n, which gives
  v_n = k_n(η/s, R) ε_n;
- **kinematics** by Cooper–Frye sampling of a boost-invariant blast wave at T_kin over
  |η_s| < y_max (``blast_wave``), then strong/EM decays of the main resonances (``decays``).

The default parameters are tuned to ALICE Pb–Pb at √s_NN = 2.76 TeV (docs/hic_generator.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import make_events
from qcdgen.hic.generators.blast_wave import BlastWaveCells, sample_momenta
from qcdgen.hic.generators.decays import decay_all
from qcdgen.hic.generators.hadron_gas import HBARC, HadronGas
from qcdgen.hic import species

__all__ = ["HydroInspiredSettings", "HydroInspiredGenerator", "sample_resonance_masses"]

REFERENCE_SQRTS = 2760.0


@dataclass(frozen=True)
class HydroInspiredSettings:
    """Conditions (system … centrality) and tuned model parameters of the generator."""

    system: str = "PbPb"
    sqrts: float = 2760.0          # GeV, per nucleon pair
    eta_s: float = 0.08            # shear viscosity over entropy density
    beta2: float | None = None     # overrides the nuclei's tabulated β₂ (both nuclei)
    centrality: tuple[float, float] | None = None   # percent; None = minimum bias
    # chemistry and kinetic freeze-out
    T_ch: float = 0.156            # GeV
    mu_b: float = 0.0              # GeV
    T_kin: float = 0.080           # GeV
    y_max: float = 2.0             # half-width of the boost-invariant η_s range
    # multiplicity: primary hadrons per unit rapidity per unit TRENTo entropy at 2.76 TeV
    dndy_per_entropy: float = 13.0
    sqrts_exponent: float = 0.30
    # radial flow
    rho_ref: float = 1.35
    R_ref: float = 6.5             # fm
    size_exponent: float = 0.5
    tau_per_R: float = 1.5         # freeze-out proper time τ_f = tau_per_R · R (positions only)
    # anisotropic flow response
    harmonics: tuple[int, ...] = (2, 3, 4, 5)
    flow_kappa: float = 0.28
    viscous_beta: float = 2.0
    positions: bool = False
    trento: dict = field(default_factory=dict)   # p, k, w overrides for the initial state
    # (initial profile, final state) pairs: None = no sidecar file; K >= 0 = write each event's TRENTo
    # profile (profile_n² cells on [−profile_max, profile_max]²) and, for K > 0, its charged spectrum
    # averaged over K extra samples of the same event (qcdgen.hic.observables.spectrum2d)
    oversample: int | None = None
    profile_n: int = 64
    profile_max: float = 10.0

    def check(self) -> "HydroInspiredSettings":
        from qcdgen.hic.initial import parse_system

        try:
            parse_system(self.system)
        except InputError as exc:
            raise InputError(f"--system: {exc}") from None
        if not (self.sqrts > 2.0):
            raise InputError(f"--sqrts must be above 2 GeV, got {self.sqrts}")
        if not (0.0 <= self.eta_s <= 1.0):
            raise InputError(f"--eta-s must be in [0, 1], got {self.eta_s}")
        if not (0.05 <= self.T_kin <= self.T_ch):
            raise InputError(f"T_kin must be in [0.05, T_ch={self.T_ch}] GeV, got {self.T_kin}")
        if not (0.1 <= self.y_max <= 8.0):
            raise InputError(f"y_max must be in [0.1, 8], got {self.y_max}")
        if self.centrality is not None:
            lo, hi = self.centrality
            if not (0.0 <= lo < hi <= 100.0):
                raise InputError(f"--centrality must be LO-HI with 0 <= LO < HI <= 100, got {lo}-{hi}")
        if self.oversample is not None and (int(self.oversample) != self.oversample or self.oversample < 0):
            raise InputError(f"--oversample must be an integer >= 0, got {self.oversample}")
        HadronGas(self.T_ch, self.mu_b)
        return self

    def conditions(self) -> dict:
        """The event fields recording the generating conditions."""
        out = {"sqrts": self.sqrts, "eta_s": self.eta_s}
        if self.beta2 is not None:
            out["beta2"] = self.beta2
        return out

    def to_dict(self) -> dict:
        return asdict(self)


class HydroInspiredGenerator:
    """Generate events in chunks: ``gen.generate(n, rng) -> (events, geometry)``."""

    name = "blastwave"

    def __init__(self, settings: HydroInspiredSettings | None = None, **overrides):
        settings = settings or HydroInspiredSettings()
        self.settings = replace(settings, **overrides).check()
        s = self.settings
        gas = HadronGas(s.T_ch, s.mu_b)
        self.codes = gas.codes
        self.masses = gas.masses()
        self.widths = gas.widths()
        self.fractions = gas.fractions()
        from qcdgen.hic.generators.decays import threshold

        self._thresholds = np.array([threshold(int(c)) for c in self.codes])

    # -- the geometry -------------------------------------------------------------------
    def initial_states(self, n_events: int, rng: np.random.Generator):
        from qcdgen.hic.initial import sample_initial_states

        s = self.settings
        return sample_initial_states(system=s.system, sqrts=s.sqrts, n_events=n_events, rng=rng,
                                     centrality=s.centrality, beta2=s.beta2, random_reaction_plane=True,
                                     keep_profiles=s.oversample is not None, **s.trento)

    def centrality_of(self, b) -> np.ndarray:
        """Geometric centrality (percent of σ_inel) of impact parameters b, from a Glauber calibration."""
        from qcdgen.hic.initial import impact_parameter_calibration, parse_system

        proj, targ = parse_system(self.settings.system)
        return np.asarray(impact_parameter_calibration(proj, targ, self.settings.sqrts).centrality(b), float)

    def dndy_per_entropy(self) -> float:
        s = self.settings
        return s.dndy_per_entropy * (s.sqrts / REFERENCE_SQRTS) ** s.sqrts_exponent

    def flow_parameters(self, states):
        """(R, ρ_max, ρ_n, Ψ_n) per event from the initial-state geometry."""
        s = self.settings
        R = np.sqrt(2.0) * np.maximum(np.asarray(states.r_rms, float), 0.3)
        rho_max = s.rho_ref * (R / s.R_ref) ** s.size_exponent
        harmonics = np.asarray(s.harmonics)
        eps = np.asarray(states.eps)[:, : len(harmonics)]
        psi = np.asarray(states.psi)[:, : len(harmonics)]
        damping = np.exp(-s.viscous_beta * harmonics[None, :] ** 2 * s.eta_s * HBARC / (s.T_ch * R[:, None]))
        rho_n = s.flow_kappa * eps * damping
        return R, rho_max, rho_n, psi

    # -- the events --------------------------------------------------------------------
    def generate(self, n_events: int, rng: np.random.Generator):
        """``n_events`` events as an awkward array, plus the initial states that made them."""
        s = self.settings
        states = self.initial_states(n_events, rng)
        R, rho_max, rho_n, psi = self.flow_parameters(states)
        cells = BlastWaveCells(R=R, tau=s.tau_per_R * R, rho_max=rho_max, rho_n=rho_n, psi_n=psi,
                               harmonics=s.harmonics, y_max=s.y_max)
        decayed = self._final_hadrons(states, cells, n_events, rng, positions=s.positions)
        if s.oversample is not None:
            self._fill_sidecar(states, cells, n_events, rng)
        events = events_from_hadrons(*decayed, n_events, states, self.centrality_of(states.b),
                                     self.settings.conditions())
        return events, states

    def _final_hadrons(self, states, cells, n_events: int, rng, positions: bool = False):
        """One sample of every event's hadrons, decayed: (codes, p, E, m, owner, x)."""
        s = self.settings
        mean_total = self.dndy_per_entropy() * np.asarray(states.entropy, float) * 2.0 * s.y_max
        counts = rng.poisson(mean_total[:, None] * self.fractions[None, :])     # (events, species)
        owner = np.repeat(np.repeat(np.arange(n_events), counts.shape[1]), counts.reshape(-1))
        spec = np.repeat(np.tile(np.arange(len(self.codes)), n_events), counts.reshape(-1))
        masses = self._sample_masses(spec, rng)
        # the rest-frame tables are per species at its pole mass; a Breit–Wigner mass shifts E* only
        p, e, x = sample_momenta(owner, masses, spec, self.masses, s.T_kin, cells, rng, positions=positions)
        return decay_all(self.codes[spec], p, e, masses, owner, rng, positions=x)

    def _fill_sidecar(self, states, cells, n_events: int, rng) -> None:
        """``states.sidecar``: the TRENTo profiles and, with ``oversample`` K > 0, the charged spectra
        averaged over K more samples of each event."""
        from qcdgen.hic.generators.hydro import downsample_profiles
        from qcdgen.hic.observables.spectrum2d import charged_spectra

        s = self.settings
        states.sidecar = {"entropy_profile": downsample_profiles(states.profiles, states.grid.dx, s.profile_n,
                                                                 s.profile_max)}
        states.profiles = None
        if s.oversample:
            parts = [self._final_hadrons(states, cells, n_events, rng) for _ in range(int(s.oversample))]
            codes, p, e, _, owner = (np.concatenate([part[i] for part in parts]) for i in range(5))
            states.sidecar["spectrum"] = charged_spectra(species.charge(codes), p[:, 0], p[:, 1], p[:, 2], e, owner,
                                                         n_events, oversample=s.oversample)

    @property
    def writes_sidecar(self) -> bool:
        return self.settings.oversample is not None

    def sidecar(self, states) -> dict:
        """Per-event arrays for the sidecar file (see :meth:`_fill_sidecar`), with their attributes."""
        from qcdgen.hic.observables.spectrum2d import PHI_EDGES, PT_EDGES, Y_MAX

        s = self.settings
        return {"arrays": states.sidecar,
                "attrs": {"oversample": int(s.oversample), "eos": "blastwave", "pt_edges": PT_EDGES,
                          "phi_edges": PHI_EDGES,
                          "spectrum": f"charged dN/(dy pT dpT dphi) (GeV^-2), |y| < {Y_MAX}, mean of oversample samples",
                          "entropy_profile": "TRENTo reduced thickness T_R (fm^-2); the blast wave's entropy is its sum",
                          "window_fm": [-s.profile_max, s.profile_max], "cells": int(s.profile_n),
                          "cell_centres_fm": f"-{s.profile_max:g} + (i + 0.5) * {2 * s.profile_max / s.profile_n:g}",
                          "axes": "[event, x, y]"}}

    def _sample_masses(self, spec: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return sample_resonance_masses(spec, self.masses, self.widths, self._thresholds, rng)


def sample_resonance_masses(spec: np.ndarray, masses: np.ndarray, widths: np.ndarray, thresholds: np.ndarray,
                            rng: np.random.Generator) -> np.ndarray:
    """Pole masses ``masses[spec]``; broad resonances (Γ > 10 MeV) from a Breit–Wigner in
    [max(threshold + 1 MeV, m0 − 2Γ), m0 + 2Γ] (thresholds: lightest decay channel, per species)."""
    m = masses[spec].copy()
    broad = np.flatnonzero(widths > 0.01)
    for s_idx in broad:
        sel = np.flatnonzero(spec == s_idx)
        if len(sel) == 0:
            continue
        m0, g = masses[s_idx], widths[s_idx]
        lo = max(thresholds[s_idx] + 1e-3, m0 - 2 * g)
        hi = m0 + 2 * g
        # inverse CDF of the Cauchy distribution restricted to [lo, hi]
        a, b = np.arctan(2 * (lo - m0) / g), np.arctan(2 * (hi - m0) / g)
        m[sel] = m0 + 0.5 * g * np.tan(rng.uniform(a, b, len(sel)))
    return m


def events_from_hadrons(codes, p, e, m, owner, x, n_events: int, states, centrality, conditions: dict):
    """Events from the final hadrons of a batch (after :func:`~.decays.decay_all`): sorted by owning event,
    with charge from the PDG code, emission points if ``x`` is given, the initial state's b/Npart/Ncoll,
    the centrality and the generator's ``conditions`` as event fields."""
    order = np.argsort(owner, kind="stable")
    codes, p, e, m, owner = codes[order], p[order], e[order], m[order], owner[order]
    particles = {"px": p[:, 0], "py": p[:, 1], "pz": p[:, 2], "E": e, "mass": m,
                 "pdg": codes, "charge": species.charge(codes)}
    if x is not None:
        x = x[order]
        particles |= {"t": x[:, 0], "x": x[:, 1], "y": x[:, 2], "z": x[:, 3]}
    return make_events(np.bincount(owner, minlength=n_events), particles, b=states.b, npart=states.npart,
                       ncoll=states.ncoll, centrality=centrality, **conditions)
