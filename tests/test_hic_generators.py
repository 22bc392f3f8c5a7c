"""The hydro-inspired generator's parts against exact results.

- hadron-gas densities against direct quadrature of the Bose/Fermi integrals;
- decays conserve four-momentum, charge and baryon number; two-body momentum is exact;
  three-body decays fill the Dalitz plot uniformly (projection by quadrature);
- Cooper–Frye blast-wave sampling reproduces the analytic Schnedermann–Sollfrank–Heinz
  ⟨p_T⟩ with and without transverse flow, and the exact blast-wave v₂ with anisotropic flow.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from qcdgen.hic import species
from qcdgen.hic.generators import blast_wave, decays
from qcdgen.hic.generators.hadron_gas import HBARC, HadronGas, pdg_properties


# -- hadron resonance gas --------------------------------------------------------------------------
@pytest.mark.parametrize("code, mu_b", [(211, 0.0), (2212, 0.0), (2212, 0.3), (-2212, 0.3), (3334, 0.1)])
def test_hrg_density_matches_quadrature(code, mu_b):
    gas = HadronGas(T=0.156, mu_b=mu_b, terms=30)
    n = dict(zip(gas.codes.tolist(), gas.densities()))[code]
    m, _, g, baryon = pdg_properties(abs(code))
    b = baryon * np.sign(code)
    stat = 1.0 if baryon else -1.0   # +1 Fermi, −1 Bose
    f = lambda p: p * p / (np.exp((np.sqrt(p * p + m * m) - b * mu_b) / gas.T) + stat)
    exact = g / (2 * np.pi ** 2) * integrate.quad(f, 0, 5.0, limit=200)[0] / HBARC ** 3
    assert n == pytest.approx(exact, rel=1e-6)


def test_hrg_fractions_sum_to_one_and_antibaryons_suppressed_at_positive_mu():
    gas = HadronGas(T=0.15, mu_b=0.2)
    frac = dict(zip(gas.codes.tolist(), gas.fractions()))
    assert sum(frac.values()) == pytest.approx(1.0)
    assert frac[-2212] / frac[2212] == pytest.approx(np.exp(-2 * 0.2 / 0.15), rel=0.02)


# -- decays ------------------------------------------------------------------------------------------
def test_decay_table_conserves_charge_baryon_number_and_strangeness_modulo_k0():
    for parent, (br, channels) in decays.DECAYS.items():
        assert br.sum() == pytest.approx(1.0)
        for daughters in channels:
            assert species.charge([parent])[0] == species.charge(list(daughters)).sum(), (parent, daughters)
            assert species.baryon_number([parent])[0] == species.baryon_number(list(daughters)).sum()
            assert sum(decays._mass(d) for d in daughters) < decays._mass(parent) + 0.3  # BW tails allowed


def test_decays_conserve_four_momentum_and_two_body_momentum_is_exact():
    rng = np.random.default_rng(5)
    n = 4000
    codes = rng.choice([113, 223, 221, 331, 333, 323, -313, 2224, -2114, 3224, 3324, 311], size=n)
    m = np.array([decays._mass(int(c)) for c in codes]) + np.where(np.isin(codes, [113, 2224, -2114]), 0.05, 0.0)
    p = rng.normal(scale=1.0, size=(n, 3))
    e = np.sqrt(m ** 2 + (p ** 2).sum(axis=1))
    owner = np.arange(n)
    fc, fp, fe, fm, fo, _ = decays.decay_all(codes, p, e, m, owner, rng)
    assert not decays.is_unstable(fc).any()
    tot_p = np.zeros((n, 3))
    tot_e = np.zeros(n)
    np.add.at(tot_p, fo, fp)
    np.add.at(tot_e, fo, fe)
    np.testing.assert_allclose(tot_p, p, atol=1e-9)
    np.testing.assert_allclose(tot_e, e, atol=1e-9)
    q = np.zeros(n, int)
    np.add.at(q, fo, species.charge(fc))
    np.testing.assert_array_equal(q, species.charge(codes))
    # daughters are on shell
    np.testing.assert_allclose(fe ** 2 - (fp ** 2).sum(axis=1), fm ** 2, atol=1e-9)
    # rho0 -> pi+ pi- at rest: |p| = sqrt(M^2/4 - m_pi^2)
    M = np.full(10, 0.8)
    pr = decays._two_body(M, np.full(10, 0.13957), np.full(10, 0.13957), rng)[0]
    np.testing.assert_allclose(np.linalg.norm(pr, axis=1), np.sqrt(0.16 - 0.13957 ** 2), rtol=1e-12)


def test_three_body_decay_fills_dalitz_plot_uniformly():
    """For a constant matrix element dΓ/dm12² ∝ (m23²_max − m23²_min)(m12²): compare CDFs (KS)."""
    rng = np.random.default_rng(2)
    M, m1, m2, m3 = 0.78266, 0.13957, 0.13957, 0.13498
    n = 20000
    v1, v2, v3 = decays._three_body(np.full(n, M), np.full(n, m1), np.full(n, m2), np.full(n, m3), rng)
    e1 = np.sqrt(m1 ** 2 + (v1 ** 2).sum(1))
    e2 = np.sqrt(m2 ** 2 + (v2 ** 2).sum(1))
    np.testing.assert_allclose(v1 + v2 + v3, 0.0, atol=1e-12)
    e3 = np.sqrt(m3 ** 2 + (v3 ** 2).sum(1))
    np.testing.assert_allclose(e1 + e2 + e3, M, atol=1e-12)
    s12 = (e1 + e2) ** 2 - ((v1 + v2) ** 2).sum(1)

    def width(s):
        m12 = np.sqrt(s)
        E2 = (s - m1 ** 2 + m2 ** 2) / (2 * m12)
        E3 = (M ** 2 - s - m3 ** 2) / (2 * m12)
        p2, p3 = np.sqrt(max(E2 ** 2 - m2 ** 2, 0)), np.sqrt(max(E3 ** 2 - m3 ** 2, 0))
        return 4 * p2 * p3

    lo, hi = (m1 + m2) ** 2, (M - m3) ** 2
    norm = integrate.quad(width, lo, hi)[0]
    cdf = lambda x: np.array([integrate.quad(width, lo, xi)[0] / norm for xi in np.atleast_1d(x)])
    assert stats.kstest(s12[:3000], cdf).pvalue > 1e-3


# -- blast wave ------------------------------------------------------------------------------------
def _bw_mean_pt(mass, T, rho_max):
    """⟨p_T⟩ at mid-rapidity of the Schnedermann–Sollfrank–Heinz blast wave with ρ(r) = ρ_max r/R:
    dN/(p_T dp_T) ∝ ∫₀¹ r̂ dr̂ m_T I₀(p_T sinh ρ/T) K₁(m_T cosh ρ/T)."""
    def spectrum(pt):
        mt = np.sqrt(pt * pt + mass * mass)
        f = lambda rh: rh * mt * special.i0e(pt * np.sinh(rho_max * rh) / T) * special.k1e(mt * np.cosh(rho_max * rh) / T) \
            * np.exp(pt * np.sinh(rho_max * rh) / T - mt * np.cosh(rho_max * rh) / T)
        return integrate.quad(f, 0, 1)[0]
    num = integrate.quad(lambda pt: pt * pt * spectrum(pt), 0, 6, limit=200)[0]
    den = integrate.quad(lambda pt: pt * spectrum(pt), 0, 6, limit=200)[0]
    return num / den


def _sample_midrapidity(mass, T, rho_max, n, rng, rho2=0.0):
    cells = blast_wave.BlastWaveCells(R=[7.0], tau=[10.0], rho_max=[rho_max], rho_n=[[rho2]], psi_n=[[0.0]],
                                      harmonics=[2], y_max=4.0)
    owner = np.zeros(n, int)
    p, e, _ = blast_wave.sample_momenta(owner, np.full(n, mass), np.zeros(n, int), np.array([mass]), T, cells, rng)
    y = 0.5 * np.log((e + p[:, 2]) / (e - p[:, 2]))
    return p[np.abs(y) < 0.5]


@pytest.mark.parametrize("mass, rho_max", [(0.13957, 0.0), (0.93827, 0.0), (0.13957, 0.9), (0.93827, 0.9)])
def test_blast_wave_mean_pt_matches_analytic(mass, rho_max):
    rng = np.random.default_rng(11)
    p = _sample_midrapidity(mass, 0.1, rho_max, 200_000, rng)
    pt = np.hypot(p[:, 0], p[:, 1])
    exact = _bw_mean_pt(mass, 0.1, rho_max)
    assert abs(pt.mean() - exact) < 4 * pt.std() / np.sqrt(len(pt)), (pt.mean(), exact)


def test_blast_wave_v2_matches_exact_anisotropic_integral():
    """v₂ = ∫p_T dp_T ∫r̂dr̂ ∫dφ_s cos(2φ_s) m_T I₂(α) K₁(β) / ∫…I₀(α)K₁(β), α = p_T sinh ρ/T, β = m_T cosh ρ/T."""
    mass, T, rho_max, rho2 = 0.13957, 0.1, 0.9, 0.05
    rng = np.random.default_rng(3)
    p = _sample_midrapidity(mass, T, rho_max, 300_000, rng, rho2=rho2)
    cos2 = np.cos(2 * np.arctan2(p[:, 1], p[:, 0]))
    pt_grid = np.linspace(1e-3, 4.0, 400)
    r_grid = np.linspace(0, 1, 81)
    phi_grid = np.linspace(0, 2 * np.pi, 129)[:-1]
    PT, RH, PH = np.meshgrid(pt_grid, r_grid, phi_grid, indexing="ij")
    MT = np.sqrt(PT ** 2 + mass ** 2)
    rho = rho_max * RH * (1 + 2 * rho2 * np.cos(2 * PH))
    a, b = PT * np.sinh(rho) / T, MT * np.cosh(rho) / T
    common = PT * RH * MT * special.k1e(b) * np.exp(a - b)
    num = np.trapezoid(np.trapezoid(np.mean(common * special.ive(2, a) * np.cos(2 * PH), axis=2), r_grid, axis=1), pt_grid)
    den = np.trapezoid(np.trapezoid(np.mean(common * special.ive(0, a), axis=2), r_grid, axis=1), pt_grid)
    exact = num / den
    assert abs(cos2.mean() - exact) < 4 * cos2.std() / np.sqrt(len(cos2)), (cos2.mean(), exact)
    assert exact > 0.01


# -- the whole generator -----------------------------------------------------------------------------
def test_generator_is_deterministic_and_multiplicity_follows_entropy():
    import awkward as ak

    from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator

    gen = HydroInspiredGenerator(centrality=(30.0, 60.0))
    ev1, st1 = gen.generate(30, np.random.default_rng(4))
    ev2, _ = gen.generate(30, np.random.default_rng(4))
    assert ak.to_list(ev1[:3]) == ak.to_list(ev2[:3])
    # final-state multiplicity per unit entropy is the same in every event, up to Poisson noise
    n = ak.num(ev1.particles).to_numpy()
    ratio = n / st1.entropy
    assert ratio.std() / ratio.mean() < 3 / np.sqrt(n.min())
    # each event has b, centrality and the conditions; charge of every particle from the PDG table
    assert np.all((ev1.centrality >= 29) & (ev1.centrality <= 61))
    flat = ak.flatten(ev1.particles)
    np.testing.assert_array_equal(flat.charge.to_numpy(), species.charge(flat.pdg.to_numpy()))


def test_viscosity_damps_flow_and_flow_follows_the_participant_plane():
    from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator
    from qcdgen.hic.observables import flow_cumulants

    v2 = {}
    for eta_s in (0.0, 0.3):
        gen = HydroInspiredGenerator(centrality=(30.0, 40.0), eta_s=eta_s)
        ev, st = gen.generate(60, np.random.default_rng(7))
        v2[eta_s] = flow_cumulants(ev, n=2, orders=(2,)).v[2]
        # the event-plane of the particles is aligned with the participant plane Ψ₂
        from qcdgen.hic.events import kinematics
        import awkward as ak

        phi = kinematics(ev.particles).phi
        align = ak.mean(np.cos(2 * (phi - st.psi[:, 0])), axis=1).to_numpy()
        assert align.mean() > 5 * align.std() / np.sqrt(len(align))
    assert v2[0.3].value < v2[0.0].value - 3 * np.hypot(v2[0.3].error, v2[0.0].error)


def test_default_tuning_matches_alice_pbpb_2760():
    """Regression test of the tune (benchmarks/hic_alice_comparison.py has the full table):
    0–5 %: dNch/dη = 1601 ± 60, ⟨pT⟩ π⁺ 0.517, K⁺ 0.876, p 1.333 GeV (±2–3 %); 30–40 %: v₂{2} ≈ 0.096."""
    from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator
    from qcdgen.hic.observables import observe

    central, _ = HydroInspiredGenerator(centrality=(0.0, 5.0)).generate(30, np.random.default_rng(1))
    obs = observe(central, warn=False).observables
    assert obs["dNch/deta"].value == pytest.approx(1601, rel=0.06)
    for sp, ref in (("pi+", 0.517), ("K+", 0.876), ("p", 1.333)):
        assert obs[f"mean_pt({sp})"].value == pytest.approx(ref, rel=0.08), sp
    mid, _ = HydroInspiredGenerator(centrality=(30.0, 40.0)).generate(250, np.random.default_rng(2))
    v22 = observe(mid, warn=False).observables["v2{2}"]
    assert abs(v22.value - 0.096) < 3 * np.hypot(v22.error, 0.002) + 0.005


@pytest.mark.parametrize("system", ["pPb", "pp", "OO", "UU"])
def test_generator_runs_for_small_and_deformed_systems(system):
    from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator

    ev, st = HydroInspiredGenerator(system=system, sqrts=5020.0, positions=True).generate(4, np.random.default_rng(0))
    assert len(ev) == 4 and set(("t", "x", "y", "z")) <= set(ev.particles.fields)
    assert np.all(np.isfinite(ak_flat(ev.particles.px)))


def ak_flat(x):
    import awkward as ak

    return ak.to_numpy(ak.flatten(x))


@pytest.mark.skipif(not __import__("qcdgen.hic.generators.angantyr", fromlist=["x"]).pythia_available(),
                    reason="needs the optional pythia8mc wheel: pip install -e '.[pythia]'")
def test_angantyr_pp_events_conserve_charge_and_four_momentum():
    """Pythia's final state of p+p at √s in the CM frame: Σq = +2, Σp⃗ = 0, ΣE = √s (exact)."""
    import awkward as ak

    from qcdgen.hic.generators.angantyr import AngantyrGenerator

    ev, _ = AngantyrGenerator(system="pp", sqrts=5020.0).generate(5, np.random.default_rng(0))
    p = ev.particles
    np.testing.assert_array_equal(ak.sum(p.charge, axis=1).to_numpy(), 2)
    for comp in ("px", "py", "pz"):
        np.testing.assert_allclose(ak.sum(p[comp], axis=1).to_numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(ak.sum(p.E, axis=1).to_numpy(), 5020.0, rtol=1e-9)
