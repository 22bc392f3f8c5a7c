"""Cooper–Frye sampling against exact thermal results.

- a static box (dσ_μ = (V, 0, 0), fluid at rest): yields per species against the Boltzmann
  formula g V m² T K₂(m/T)/(2π²) and against quadrature of the Bose/Fermi integrals, with
  Poisson pulls and a χ² over all species; mean rest-frame energies against
  3T + m K₁/K₂ (Boltzmann) and quadrature (quantum);
- a moving element: N = n u^τ V (the particle current n u^μ through dσ_μ);
- a space-like wall at rest: the effusion flux g A T² (m + T) e^{−m/T}/(4π²) (Boltzmann);
- Grad's shear δf on a static box with π^{μν} = diag(0, π, π, −2π): yields unchanged and
  ⟨p_x² − p_z²⟩ = π/(2T²(e+P)) · (2/5)⟨p⁴⟩₀ (isotropic moments, ⟨p⁴⟩₀ by quadrature).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from qcdgen.errors import InputError
from qcdgen.hic.generators.hadron_gas import HBARC, pdg_properties
from qcdgen.hic.hydro.cooper_frye import sample_cooper_frye, thermal_species
from qcdgen.hic.hydro.freezeout import Surface, complete_shear

T = 0.150


def _element(dsigma, ux=0.0, uy=0.0, pi=None, e=1.0, P=0.3, T=T):
    one = lambda v: np.array([float(v)])
    return Surface(tau=one(1.0), x=one(0.0), y=one(0.0), dsigma=np.array([dsigma], float), ux=one(ux), uy=one(uy),
                   T=one(T), e=one(e), P=one(P), pi=pi)


def _local_energy_and_pz(sample):
    """E and p_z in the frame comoving with η_s (the fluid rest frame of a static box)."""
    mt = np.sqrt(sample.E ** 2 - sample.p[:, 2] ** 2)
    y = np.arctanh(sample.p[:, 2] / sample.E)
    return mt * np.cosh(y - sample.eta_s), mt * np.sinh(y - sample.eta_s)


def _pulls_and_chi2(counts, expected):
    pulls = (counts - expected) / np.sqrt(expected)
    chi2 = float((pulls ** 2).sum())
    return pulls, chi2, stats.chi2.sf(chi2, len(expected))


def test_static_box_boltzmann_yields_and_mean_energies():
    sp = thermal_species(T, statistics="boltzmann")
    V, y_max = 4.0e5, 0.5                       # fm³ per unit η_s, Δη_s = 1
    sample = sample_cooper_frye(_element([V, 0, 0]), sp, np.random.default_rng(11), y_max=y_max)
    volume = V * 2 * y_max
    m = np.array([pdg_properties(abs(int(c)))[0] for c in sp.codes])
    g = np.array([pdg_properties(abs(int(c)))[2] for c in sp.codes])
    analytic = g * volume * m ** 2 * T * special.kn(2, m / T) / (2 * np.pi ** 2) / HBARC ** 3
    counts = np.bincount(sample.species, minlength=len(sp.codes))
    pulls, chi2, p_value = _pulls_and_chi2(counts, analytic)
    assert p_value > 1e-3 and np.abs(pulls).max() < 4.5, (chi2, pulls)
    e_loc, _ = _local_energy_and_pz(sample)
    for code in (211, 321, 2212, 3122, 113):
        i = int(np.flatnonzero(sp.codes == code)[0])
        mi = m[i]
        exact = 3 * T + mi * special.kn(1, mi / T) / special.kn(2, mi / T)
        sel = sample.species == i
        mean, err = e_loc[sel].mean(), e_loc[sel].std() / np.sqrt(sel.sum())
        assert abs(mean - exact) < 4 * err, (code, mean, err, exact)
    # total energy: analytic Boltzmann e(T) V
    e_exact = (g * m ** 2 * T / (2 * np.pi ** 2) * (3 * T * special.kn(2, m / T) + m * special.kn(1, m / T))).sum()
    e_exact *= volume / HBARC ** 3
    assert e_loc.sum() == pytest.approx(e_exact, rel=5 * np.sqrt(2.0 / len(e_loc)))


@pytest.mark.parametrize("code", [211, -211, 321, 2212, -3122, 3334])
def test_static_box_quantum_yields_and_energies_match_quadrature(code):
    sp = thermal_species(T, statistics="quantum", terms=12, codes=[code])
    m, _, g, baryon = pdg_properties(abs(code))
    theta = -1.0 if baryon else 1.0
    f = lambda p, k: p ** 2 * np.sqrt(p * p + m * m) ** k / (np.exp(np.sqrt(p * p + m * m) / T) - theta)
    n_exact = g / (2 * np.pi ** 2) * integrate.quad(f, 0, 4.0, args=(0,), limit=200)[0] / HBARC ** 3
    e_mean = integrate.quad(f, 0, 4.0, args=(1,), limit=200)[0] / integrate.quad(f, 0, 4.0, args=(0,), limit=200)[0]
    V = 4.0e4 / n_exact                          # ≈ 40 000 particles expected
    sample = sample_cooper_frye(_element([V, 0, 0]), sp, np.random.default_rng(abs(code)), y_max=0.5)
    expected = n_exact * V
    assert abs(len(sample) - expected) < 4 * np.sqrt(expected)
    e_loc, _ = _local_energy_and_pz(sample)
    assert abs(e_loc.mean() - e_mean) < 4 * e_loc.std() / np.sqrt(len(e_loc))


def test_moving_element_yield_is_particle_current_through_surface():
    sp = thermal_species(T, statistics="boltzmann", codes=[211, 2212])
    ux, uy, V = 0.8, -0.5, 1.0e5
    sample = sample_cooper_frye(_element([V, 0, 0], ux=ux, uy=uy), sp, np.random.default_rng(3), y_max=0.5)
    expected = sp.densities * V * np.sqrt(1 + ux ** 2 + uy ** 2)
    counts = np.bincount(sample.species, minlength=2)
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected)), (counts, expected)
    # for dσ = (V, 0, 0): Σp_x / ΣE = T^{τx}/T^{ττ} = (e+P) u^τ u^x / ((e+P) (u^τ)² − P), P = nT (Boltzmann)
    m, g = sp.masses, sp.degeneracy
    e = (g * m ** 2 * T / (2 * np.pi ** 2) * (3 * T * special.kn(2, m / T) + m * special.kn(1, m / T))).sum()
    P = (g * m ** 2 * T ** 2 / (2 * np.pi ** 2) * special.kn(2, m / T)).sum()
    ut = np.sqrt(1 + ux ** 2 + uy ** 2)
    mt = np.sqrt(sample.E ** 2 - sample.p[:, 2] ** 2)
    e_tau = mt * np.cosh(np.arctanh(sample.p[:, 2] / sample.E) - sample.eta_s)   # p^τ at the emission point
    ratio = sample.p[:, 0].sum() / e_tau.sum()
    assert ratio == pytest.approx((e + P) * ut * ux / ((e + P) * ut ** 2 - P), abs=0.005)


def test_spacelike_wall_gives_effusion_flux():
    sp = thermal_species(T, statistics="boltzmann", codes=[211, 321, 2212])
    A = 3.0e5                                    # dσ_x in fm³ per unit η_s, fluid at rest
    sample = sample_cooper_frye(_element([0, A, 0]), sp, np.random.default_rng(5), y_max=0.5)
    m = sp.masses
    g = sp.degeneracy
    expected = g * A * T ** 2 * (m + T) * np.exp(-m / T) / (4 * np.pi ** 2) / HBARC ** 3
    counts = np.bincount(sample.species, minlength=3)
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected)), (counts, expected)
    assert (sample.p[:, 0] > 0).all()            # only outgoing particles


def test_grad_shear_delta_f_anisotropy():
    sp = thermal_species(T, statistics="boltzmann", codes=[211])
    m = sp.masses[0]
    e_plus_p, pi_xx = 1.0, 0.006                 # π/(e+P) = 0.006: clipping 1 + δf to [0, 2] moves the result by 0.1 %
    pi = complete_shear([0.0], [0.0], [pi_xx], [0.0], [pi_xx])
    assert pi[0, 3, 3] == pytest.approx(-2 * pi_xx)
    V = 5.0e5 / sp.densities[0]
    sample = sample_cooper_frye(_element([V, 0, 0], pi=pi, e=0.75, P=0.25), sp, np.random.default_rng(8), y_max=0.5)
    n_expected = sp.densities[0] * V
    assert abs(len(sample) - n_expected) < 4 * np.sqrt(n_expected)
    _, pz = _local_energy_and_pz(sample)
    a = sample.p[:, 0] ** 2 - pz ** 2
    w = lambda p, k: p ** k * np.exp(-np.sqrt(p * p + m * m) / T)
    p4 = integrate.quad(w, 0, 4.0, args=(6,), limit=200)[0] / integrate.quad(w, 0, 4.0, args=(2,), limit=200)[0]
    exact = pi_xx / (2 * T ** 2 * e_plus_p) * 0.4 * p4
    assert abs(a.mean() - exact) < 4 * a.std() / np.sqrt(len(a)), (a.mean(), exact)
    assert exact > 20 * a.std() / np.sqrt(len(a))   # the effect is resolved


def test_refuses_a_surface_at_another_temperature_and_bad_y_max():
    sp = thermal_species(T, statistics="boltzmann", codes=[211])
    with pytest.raises(InputError, match="temperature"):
        sample_cooper_frye(_element([1.0, 0, 0], T=0.17), sp, np.random.default_rng(0))
    with pytest.raises(InputError, match="y_max"):
        sample_cooper_frye(_element([1.0, 0, 0]), sp, np.random.default_rng(0), y_max=-1)
