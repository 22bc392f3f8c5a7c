"""Kinematic selections, multiplicities, dN/dy, dN_ch/dη, pT spectra and ⟨pT⟩ per species.

Everything works on :class:`FlatParticles`: the particles of a batch of events as flat NumPy
columns (pT, η, y, φ from :func:`qcdgen.hic.events.kinematics`, pdg, charge) plus the index
of the event each particle belongs to. Per-event sums are ``np.bincount`` over that index, so
a batch costs a few vectorised passes whatever its event count.

Each observable is a function of means of per-event columns (see ``_resample``), with errors
from resampling events (delete-group jackknife by default, or bootstrap):

- multiplicity ``mult(s)``: mean number of particles of species s per event (no cuts);
- ``dN/dy(s)`` = ⟨N_s(|y| < y_max)⟩ / (2 y_max); ``dNch/deta`` = ⟨N_ch(|η| < η_max)⟩ / (2 η_max),
  charged meaning the ``charge`` field is non-zero;
- ``mean_pt(s)`` = Σ_ev Σ pT / Σ_ev N (all particles of the sample weighted equally, i.e. the
  mean of the pT spectrum, as experiments quote it);
- pT spectra: ``1/N_ev d²N/(dpT dy)`` per bin (``dη`` for charged particles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import awkward as ak
import numpy as np

from qcdgen.errors import InputError
from qcdgen.hic.events import check_events, kinematics
from qcdgen.hic.observables._resample import Resampler
from qcdgen.hic.species import IDENTIFIED
from qcdgen.stats import Estimate

__all__ = ["FlatParticles", "species_code", "select", "multiplicity", "dn_dy", "dnch_deta",
           "mean_pt", "pt_spectrum", "PtSpectrum", "DEFAULT_PT_BINS", "species_count_columns",
           "spectrum_columns", "as_flat_particles", "check_abs_cut", "check_range", "check_bins"]

#: default pT bin edges of the spectra (GeV): 0.1 GeV bins up to 4 GeV
DEFAULT_PT_BINS = tuple(np.round(np.linspace(0.0, 4.0, 41), 10))


@dataclass(frozen=True)
class FlatParticles:
    """Flat per-particle columns of ``n_events`` events; ``event[i]`` is particle i's event."""

    pt: np.ndarray
    eta: np.ndarray
    y: np.ndarray
    phi: np.ndarray
    pdg: np.ndarray
    charge: np.ndarray
    event: np.ndarray
    n_events: int

    @classmethod
    def from_events(cls, events: ak.Array) -> "FlatParticles":
        check_events(events)
        parts = ak.flatten(events.particles, axis=1)
        counts = ak.to_numpy(ak.num(events.particles, axis=1)).astype(np.int64)
        kin = kinematics(parts)
        with np.errstate(all="ignore"):
            cols = {name: np.asarray(ak.to_numpy(getattr(kin, attr)), dtype=np.float64)
                    for name, attr in (("pt", "pt"), ("eta", "eta"), ("y", "rapidity"), ("phi", "phi"))}
        return cls(**cols, pdg=np.asarray(ak.to_numpy(parts.pdg), dtype=np.int64),
                   charge=np.asarray(ak.to_numpy(parts.charge), dtype=np.int64),
                   event=np.repeat(np.arange(len(counts)), counts), n_events=len(counts))

    def __len__(self) -> int:
        return len(self.pt)

    def subset(self, mask: np.ndarray) -> "FlatParticles":
        """The selected particles (events are kept, possibly empty)."""
        return FlatParticles(self.pt[mask], self.eta[mask], self.y[mask], self.phi[mask],
                             self.pdg[mask], self.charge[mask], self.event[mask], self.n_events)

    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Selected particles per event, shape (n_events,)."""
        ev = self.event if mask is None else self.event[mask]
        return np.bincount(ev, minlength=self.n_events).astype(np.float64)

    def sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per-event sum of a per-particle quantity over the selected particles."""
        if mask is None:
            return np.bincount(self.event, weights=values, minlength=self.n_events)
        return np.bincount(self.event[mask], weights=values[mask], minlength=self.n_events)


def as_flat_particles(events) -> FlatParticles:
    """``events`` as :class:`FlatParticles` (returned as is if it already is)."""
    if isinstance(events, FlatParticles):
        return events
    return FlatParticles.from_events(events)


def species_code(species) -> int:
    """PDG code of a species given by name (a key of ``IDENTIFIED``) or code."""
    if isinstance(species, str):
        if species not in IDENTIFIED:
            raise InputError(f"species {species!r} is unknown; allowed names: {list(IDENTIFIED)} or a PDG code")
        return IDENTIFIED[species]
    if isinstance(species, (int, np.integer)) and not isinstance(species, bool):
        return int(species)
    raise InputError(f"species must be a name from {list(IDENTIFIED)} or an integer PDG code, got {species!r}")


def check_range(value, name: str) -> tuple[float, float] | None:
    """A (low, high) pair of finite numbers with low < high, or None."""
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (low, high) of numbers or None, got {value!r}") from None
    if not (np.isfinite(lo) and lo < hi):
        raise InputError(f"{name} must satisfy finite low < high, got {value!r}")
    return lo, hi


def check_abs_cut(value, name: str) -> float | None:
    """A cut |x| < value: a number > 0, or None (no cut)."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number > 0 or None, got {value!r}") from None
    if not v > 0:
        raise InputError(f"{name} must be a number > 0 or None, got {value!r}")
    return v


def select(flat: FlatParticles, *, eta_max=None, y_max=None, pt_range=None, charged: bool = False,
           species=None) -> np.ndarray:
    """Boolean mask over ``flat``: |η| < eta_max, |y| < y_max, pt_lo < pT < pt_hi, charge ≠ 0,
    pdg == species (each cut only if given). Particles with undefined η or y fail those cuts."""
    eta_max = check_abs_cut(eta_max, "eta_max")
    y_max = check_abs_cut(y_max, "y_max")
    pt_range = check_range(pt_range, "pt_range")
    mask = np.ones(len(flat), dtype=bool)
    if eta_max is not None:
        mask &= np.abs(flat.eta) < eta_max
    if y_max is not None:
        mask &= np.abs(flat.y) < y_max
    if pt_range is not None:
        mask &= (flat.pt > pt_range[0]) & (flat.pt < pt_range[1])
    if charged:
        mask &= flat.charge != 0
    if species is not None:
        mask &= flat.pdg == species_code(species)
    return mask


def _resampler(n_events: int, errors: str, n_groups: int, n_boot: int, seed: int) -> Resampler:
    return Resampler(n_events, errors=errors, n_groups=n_groups, n_boot=n_boot, seed=seed)


def _one(cols, func, name, rs: Resampler) -> tuple[Estimate, list[str]]:
    est, flags = rs.estimate(cols, func, [name])
    return est[0], flags


def species_count_columns(flat: FlatParticles, species: Sequence = tuple(IDENTIFIED), y_max: float = 0.5
                          ) -> dict[str, np.ndarray]:
    """Per-event columns ``mult(s)`` (all particles of s), ``n_mid(s)`` and ``sumpt_mid(s)`` (|y| < y_max)."""
    cols = {}
    mid = np.abs(flat.y) < y_max
    for s in species:
        code = species_code(s)
        sel = flat.pdg == code
        label = s if isinstance(s, str) else str(code)
        cols[f"mult({label})"] = flat.count(sel)
        cols[f"n_mid({label})"] = flat.count(sel & mid)
        cols[f"sumpt_mid({label})"] = flat.sum(flat.pt, sel & mid)
    return cols


def multiplicity(events, species=None, *, charged: bool = False, eta_max=None, y_max=None, pt_range=None,
                 errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200, seed: int = 0) -> Estimate:
    """Mean number of selected particles per event (no cuts unless given)."""
    flat = as_flat_particles(events)
    mask = select(flat, eta_max=eta_max, y_max=y_max, pt_range=pt_range, charged=charged, species=species)
    est, _ = _one(flat.count(mask), None, "mult", _resampler(flat.n_events, errors, n_groups, n_boot, seed))
    return est


def dn_dy(events, species, *, y_max: float = 0.5, errors: str = "jackknife", n_groups: int = 40,
          n_boot: int = 200, seed: int = 0) -> Estimate:
    """dN/dy of a species at mid-rapidity: ⟨N(|y| < y_max)⟩ / (2 y_max)."""
    flat = as_flat_particles(events)
    y_max = check_abs_cut(y_max, "y_max")
    mask = select(flat, y_max=y_max, species=species)
    est, _ = _one(flat.count(mask), lambda m: m / (2 * y_max), "dN/dy",
                  _resampler(flat.n_events, errors, n_groups, n_boot, seed))
    return est


def dnch_deta(events, *, eta_max: float = 0.5, pt_range=None, errors: str = "jackknife", n_groups: int = 40,
              n_boot: int = 200, seed: int = 0) -> Estimate:
    """dN_ch/dη of charged particles: ⟨N_ch(|η| < eta_max)⟩ / (2 eta_max) (all pT unless pt_range)."""
    flat = as_flat_particles(events)
    eta_max = check_abs_cut(eta_max, "eta_max")
    mask = select(flat, eta_max=eta_max, pt_range=pt_range, charged=True)
    est, _ = _one(flat.count(mask), lambda m: m / (2 * eta_max), "dNch/deta",
                  _resampler(flat.n_events, errors, n_groups, n_boot, seed))
    return est


def ratio_of_means(m):
    """``m[..., 0] / m[..., 1]`` as an (…, 1) output (NaN when the denominator is 0)."""
    return (m[..., 0] / m[..., 1])[..., None]


def mean_pt(events, species=None, *, charged: bool = False, eta_max=None, y_max=None, pt_range=None,
            errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200, seed: int = 0) -> Estimate:
    """⟨pT⟩ of the selected particles, Σ_ev Σ pT / Σ_ev N, with an event-resampling error.

    NaN (value and error) if no particle passes the selection.
    """
    flat = as_flat_particles(events)
    mask = select(flat, eta_max=eta_max, y_max=y_max, pt_range=pt_range, charged=charged, species=species)
    cols = np.stack([flat.sum(flat.pt, mask), flat.count(mask)], axis=1)
    est, _ = _one(cols, ratio_of_means, "mean_pt", _resampler(flat.n_events, errors, n_groups, n_boot, seed))
    return est


@dataclass(frozen=True)
class PtSpectrum:
    """``values[i] = 1/N_ev d²N/(dpT d{variable})`` in bin ``[edges[i], edges[i+1])`` with errors."""

    label: str
    edges: np.ndarray
    values: np.ndarray
    errors: np.ndarray
    n_events: int
    variable: str = "y"
    window: float = 0.5

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def to_dict(self) -> dict:
        return {"label": self.label, "edges": self.edges.tolist(), "values": self.values.tolist(),
                "errors": self.errors.tolist(), "n_events": self.n_events,
                "acceptance": f"|{self.variable}|<{self.window:g}"}


def check_bins(bins) -> np.ndarray:
    """Validated pT bin edges; None gives :data:`DEFAULT_PT_BINS`."""
    edges = np.array(DEFAULT_PT_BINS if bins is None else bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise InputError(f"pt_bins must be at least 2 finite, strictly increasing edges, got {bins!r}")
    return edges


def spectrum_columns(flat: FlatParticles, mask: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per-event counts per pT bin of the selected particles, shape (n_events, n_bins), float32."""
    nb = len(edges) - 1
    pt, ev = flat.pt[mask], flat.event[mask]
    b = np.searchsorted(edges, pt, side="right") - 1
    ok = (b >= 0) & (b < nb)
    flat_index = ev[ok] * nb + b[ok]
    counts = np.bincount(flat_index, minlength=flat.n_events * nb).reshape(flat.n_events, nb)
    return counts.astype(np.float32)  # exact for counts < 2**24, half the memory of float64


def spectrum_from_columns(counts: np.ndarray, edges: np.ndarray, window: float, label: str, variable: str,
                          rs: Resampler) -> PtSpectrum:
    widths = np.diff(edges) * 2 * window
    est, _ = rs.estimate(counts, lambda m: m / widths, [f"bin{i}" for i in range(len(widths))])
    return PtSpectrum(label, edges, np.array([e.value for e in est]), np.array([e.error for e in est]),
                      rs.n_events, variable, window)


def pt_spectrum(events, species="charged", *, pt_bins=None, window: float = 0.5,
                errors: str = "jackknife", n_groups: int = 40, n_boot: int = 200, seed: int = 0) -> PtSpectrum:
    """``1/N_ev d²N/(dpT dy)`` of a species at |y| < window, or of charged particles
    (``species="charged"``) per unit η at |η| < window; per-bin errors from resampling events."""
    flat = as_flat_particles(events)
    edges = check_bins(pt_bins)
    window = check_abs_cut(window, "window")
    if species == "charged":
        mask, variable = select(flat, eta_max=window, charged=True), "eta"
    else:
        mask, variable = select(flat, y_max=window, species=species), "y"
    rs = _resampler(flat.n_events, errors, n_groups, n_boot, seed)
    return spectrum_from_columns(spectrum_columns(flat, mask, edges), edges, window, str(species), variable, rs)
