"""Cooper–Frye particlization of a boost-invariant freeze-out surface into hadrons.

Cooper & Frye, PRD 10 (1974) 186: the momentum distribution of species i emitted through
the surface elements dσ_μ is

    E dN_i/d³p = g_i/(2π)³ ∫ p^μ dσ_μ f_i(p),   f_i = f0_i (1 + δf_i),
    f0_i = 1/(exp(p·u/T) − θ_i)   (θ = +1 bosons, −1 fermions, 0 Boltzmann),
    δf_i = (1 + θ_i f0_i) p_μ p_ν π^{μν} / (2 T² (e + P))    (Grad's 14-moment shear correction).

Sampling (as in Bernhard's frzout / iSS): in each element the rest-frame volume bound is
w = u·dσ + √((u·dσ)² − dσ·dσ) ≥ p·dσ/(p·u) for all p, so per element a Poisson number
of candidates with mean c · w · Δη_s · Σ_i n_i(T) is drawn (c = 2 with shear, else 1),
each with species i ∝ n_i, a rest-frame momentum from f0_i (tables of
:func:`~qcdgen.hic.generators.blast_wave.juttner_inverse_cdf`) and η_s uniform in
[−y_max, y_max]; it is boosted with u and kept with probability

    max(p·dσ, 0)/(E* w) × clip(1 + δf, 0, 2)/c,

which thins the candidate process to exactly the Cooper–Frye density (negative
p·dσ contributions dropped, 1 + δf clipped to [0, 2], as is customary). The sampling is
done at η_s = 0 and each particle's rapidity is then shifted by its η_s (boost invariance).
Number densities: the Bessel series of :class:`~qcdgen.hic.generators.hadron_gas.HadronGas`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import kn

from qcdgen.errors import InputError
from qcdgen.hic._random import isotropic_unit_vectors
from qcdgen.hic.generators.blast_wave import juttner_inverse_cdf
from qcdgen.hic.generators.hadron_gas import HBARC, HadronGas, pdg_properties

__all__ = ["ThermalSpecies", "thermal_species", "sample_cooper_frye", "CooperFryeSample",
           "surface_energy_momentum_flux"]

_METRIC = np.array([1.0, -1.0, -1.0, -1.0])


@dataclass(frozen=True)
class ThermalSpecies:
    """Species of a hadron gas at temperature T: codes, pole masses (GeV), degeneracies g,
    statistics θ (+1 Bose, −1 Fermi, 0 Boltzmann), densities n (fm⁻³), energy densities (GeV/fm³)."""

    T: float
    codes: np.ndarray
    masses: np.ndarray
    degeneracy: np.ndarray
    theta: np.ndarray
    densities: np.ndarray
    energy_densities: np.ndarray
    widths: np.ndarray

    @property
    def total_density(self) -> float:
        return float(self.densities.sum())

    @property
    def energy_density(self) -> float:
        return float(self.energy_densities.sum())


def thermal_species(T: float, *, statistics: str = "quantum", terms: int = 8, codes=None) -> ThermalSpecies:
    """The HRG species list of :class:`HadronGas` at T (μ_B = 0), with n_i and e_i by the series

        n_i = g/(2π²) Σ_k θ^{k+1} m² T K₂(km/T)/k,
        e_i = g/(2π²) Σ_k θ^{k+1} [3 m² T² K₂(km/T)/k² + m³ T K₁(km/T)/k]   (÷ (ħc)³),

    (k = 1 only for ``statistics="boltzmann"``). ``codes`` restricts the list.
    """
    if statistics not in ("quantum", "boltzmann"):
        raise InputError(f"statistics must be 'quantum' or 'boltzmann', got {statistics!r}")
    gas = HadronGas(T=float(T))
    all_codes = gas.codes if codes is None else np.asarray(codes, dtype=np.int64)
    m, g, th, n, e, w = [], [], [], [], [], []
    for c in all_codes:
        mass, width, deg, baryon = pdg_properties(abs(int(c)))
        theta = 0 if statistics == "boltzmann" else (-1 if baryon else 1)
        k = np.arange(1, (1 if theta == 0 else terms) + 1)
        sign = (theta if theta else 1.0) ** (k + 1)
        x = k * mass / T
        n.append(deg / (2 * np.pi ** 2) * np.sum(sign * mass ** 2 * T * kn(2, x) / k) / HBARC ** 3)
        e.append(deg / (2 * np.pi ** 2) * np.sum(sign * (3 * mass ** 2 * T ** 2 * kn(2, x) / k ** 2
                                                         + mass ** 3 * T * kn(1, x) / k)) / HBARC ** 3)
        m.append(mass)
        g.append(deg)
        th.append(theta)
        w.append(width)
    return ThermalSpecies(float(T), np.asarray(all_codes), np.array(m), np.array(g), np.array(th, int),
                          np.array(n), np.array(e), np.array(w))


@dataclass
class CooperFryeSample:
    """Sampled hadrons: species index into the :class:`ThermalSpecies`, lab p (n, 3), E (n,),
    mass (n,), element index, η_s, and emission point x (n, 4) = (t, x, y, z)."""

    species: np.ndarray
    p: np.ndarray
    E: np.ndarray
    mass: np.ndarray
    element: np.ndarray
    eta_s: np.ndarray
    x: np.ndarray

    def __len__(self) -> int:
        return len(self.E)


def _volume_bound(dsig: np.ndarray, u: np.ndarray) -> np.ndarray:
    """w = u·dσ + √((u·dσ)² − dσ·dσ): the largest p·dσ/(p·u) over all momenta."""
    ud = (u * dsig).sum(axis=1)
    dd = dsig[:, 0] ** 2 - dsig[:, 1] ** 2 - dsig[:, 2] ** 2
    return ud + np.sqrt(np.maximum(ud ** 2 - dd, 0.0))


def sample_cooper_frye(surface, species: ThermalSpecies, rng: np.random.Generator, *, y_max: float = 0.5,
                       shear: bool = True, mass_sampler=None, max_candidates: int = 50_000_000) -> CooperFryeSample:
    """Hadrons from the surface elements of a :class:`~qcdgen.hic.hydro.freezeout.Surface`.

    The elements must share the temperature ``species.T`` (a constant-T or conformal
    constant-e surface; a spread above 1 % is refused). ``shear`` applies Grad's δf when the
    surface carries π^{μν} (and e, P). ``mass_sampler(species_index, rng) -> masses`` draws
    resonance masses (default: pole masses); momenta are tabulated at the pole mass and E*
    uses the drawn mass. η_s is uniform in [−y_max, y_max].
    """
    if not (0 < y_max <= 10):
        raise InputError(f"y_max must be in (0, 10], got {y_max}")
    T = species.T
    n_el = len(surface)
    if n_el and np.isfinite(surface.T).any():
        spread = np.nanmax(np.abs(surface.T - T)) / T
        if spread > 0.01:
            raise InputError(f"surface temperatures deviate from T = {T:g} GeV by up to {100 * spread:.2g} %; "
                             "Cooper-Frye sampling needs a constant-temperature surface")
    dsig = np.asarray(surface.dsigma, float).reshape(-1, 3)
    u = surface.u
    use_shear = bool(shear and surface.pi is not None and n_el)
    if use_shear:
        enth = np.asarray(surface.e, float) + np.asarray(surface.P, float)
        if not np.all(np.isfinite(enth) & (enth > 0)):
            raise InputError("shear delta-f needs the surface's e and P (finite, e + P > 0) at every element")
    c = 2.0 if use_shear else 1.0
    w = np.maximum(_volume_bound(dsig, u), 0.0) if n_el else np.zeros(0)
    lam = c * w * 2.0 * y_max * species.total_density
    if lam.sum() > max_candidates:
        raise InputError(f"{lam.sum():.3g} Cooper-Frye candidates expected, above max_candidates = {max_candidates}")
    counts = rng.poisson(lam)
    el = np.repeat(np.arange(n_el), counts)
    k = len(el)
    frac = species.densities / species.total_density
    sp = rng.choice(len(frac), size=k, p=frac)
    mass = species.masses[sp] if mass_sampler is None else np.asarray(mass_sampler(sp, rng), float)
    pstar = np.empty(k)
    q = rng.uniform(size=k)
    for s in np.unique(sp):
        sel = sp == s
        cdf, grid = juttner_inverse_cdf(float(species.masses[s]), float(T), statistics=int(species.theta[s]))
        pstar[sel] = np.interp(q[sel], cdf, grid)
    pst = isotropic_unit_vectors(k, rng) * pstar[:, None]
    estar = np.sqrt(pstar ** 2 + mass ** 2)
    # boost with u = (u^τ, u^x, u^y, 0) at η_s = 0
    ue = u[el]
    u3 = np.concatenate([ue[:, 1:], np.zeros((k, 1))], axis=1)
    udotp = (u3 * pst).sum(axis=1)
    p_loc = pst + (udotp / (ue[:, 0] + 1.0) + estar)[:, None] * u3
    e_loc = ue[:, 0] * estar + udotp
    ds = dsig[el]
    p_dot_sigma = e_loc * ds[:, 0] + p_loc[:, 0] * ds[:, 1] + p_loc[:, 1] * ds[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = np.where(w[el] > 0, np.maximum(p_dot_sigma, 0.0) / (estar * w[el]), 0.0)
    if use_shear:
        p4 = np.concatenate([e_loc[:, None], p_loc], axis=1) * _METRIC      # covariant p_μ
        ppi = np.zeros(k)
        for a in range(4):
            for b in range(a, 4):
                ppi += (1.0 if a == b else 2.0) * surface.pi[el, a, b] * p4[:, a] * p4[:, b]
        theta = species.theta[sp]
        f0 = 1.0 / (np.exp(estar / T) - theta)
        delta = (1.0 + theta * f0) * ppi / (2.0 * T ** 2 * (surface.e[el] + surface.P[el]))
        prob = prob * np.clip(1.0 + delta, 0.0, 2.0) / c
    keep = rng.uniform(size=k) < prob
    el, sp, mass, p_loc, e_loc = el[keep], sp[keep], mass[keep], p_loc[keep], e_loc[keep]
    eta = rng.uniform(-y_max, y_max, len(el))
    # shift the rapidity by η_s: y = y_local + η_s at fixed m_T
    mt = np.sqrt(np.maximum(e_loc ** 2 - p_loc[:, 2] ** 2, 0.0))
    y = np.arctanh(np.clip(p_loc[:, 2] / e_loc, -1 + 1e-15, 1 - 1e-15)) + eta
    p = np.stack([p_loc[:, 0], p_loc[:, 1], mt * np.sinh(y)], axis=1)
    E = mt * np.cosh(y)
    tau = surface.tau[el]
    x = np.stack([tau * np.cosh(eta), surface.x[el], surface.y[el], tau * np.sinh(eta)], axis=1)
    return CooperFryeSample(species=sp, p=p, E=E, mass=mass, element=el, eta_s=eta, x=x)


def surface_energy_momentum_flux(surface, eos=None) -> np.ndarray:
    """(E, P_x, P_y) per unit η_s flowing out through the surface (GeV): Σ T^{μν} dσ_ν at η_s = 0,

    T^{μν} = (e + P) u^μ u^ν − P g^{μν} + π^{μν} (π only when the surface carries it; P from
    ``eos.pressure(e)`` when not stored). The fluid's own energy balance, independent of particles.
    """
    e = np.asarray(surface.e, float)
    P = np.asarray(surface.P, float)
    if not np.isfinite(P).all():
        if eos is None:
            raise InputError("the surface has no pressure; pass the EoS")
        P = np.asarray(eos.pressure(e), float)
    u = surface.u
    ds = np.asarray(surface.dsigma, float)
    ud = (u * ds).sum(axis=1)
    # T^{μν} dσ_ν with g^{μν} dσ_ν = (dσ_τ, −dσ_x, −dσ_y)
    flux = (e + P)[:, None] * u * ud[:, None] - P[:, None] * ds * np.array([1.0, -1.0, -1.0])
    if surface.pi is not None:
        flux = flux + np.einsum("nmv,nv->nm", surface.pi[:, :3, :3], ds)
    return flux.sum(axis=0)
