"""Bjorken flow (uniform, boost-invariant) on a small grid against the analytic solutions.

Ideal conformal: T = T0 (τ0/τ)^{1/3}. First-order (Navier–Stokes), Bjorken PRD 27 (1983) 140 /
Danielewicz–Gyulassy: de/dτ = −(4e/3 − 4η/(3τ))/τ, which for e ∝ T⁴, η = (η/s)s gives
T = T0 (τ0/τ)^{1/3} [1 + (2/3)(η/s)/(τ0T0)(1 − (τ0/τ)^{2/3})]  (T in fm⁻¹), reached by the
Israel–Stewart solver as τ_π → 0. Second order: the IS ODEs integrated here with scipy.
"""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from qcdgen.hic.hydro import evolve
from qcdgen.hic.hydro.eos import HBARC

A = 47.5 * math.pi ** 2 / 30.0 / HBARC ** 3       # e = A T⁴, e in GeV/fm³, T in GeV
TAU0, T0 = 0.6, 0.4


def uniform(e, n=5):
    return np.full((n, n), e)


def test_ideal_bjorken_T_tau_minus_one_third():
    taus = [0.6, 1.0, 2.0, 5.0, 10.0]
    res = evolve(uniform(A * T0 ** 4, 3), dx=0.2, tau0=TAU0, tau_end=10.0, save_taus=taus, edge_tol=None)
    T = res.T[:, 1, 1]
    np.testing.assert_allclose(T, T0 * (TAU0 / np.array(taus)) ** (1 / 3), rtol=5e-5)   # Heun O(Δτ²)
    assert np.ptp(res.e[-1]) < 1e-12 * res.e[-1].max() and np.abs(res.ux).max() < 1e-12


def test_first_order_viscous_bjorken_navier_stokes_limit():
    eta_s, bpi = 0.08, 0.4                       # τ_π = b_π (η/s)/T ≈ 0.016 fm ≪ τ
    eta = eta_s * (4 / 3 * A * T0 ** 4) / (T0 / HBARC)
    phi0 = 4 * eta / (3 * TAU0)                   # Navier–Stokes Φ at τ0: π^{xx} = π^{yy} = Φ/2
    pi0 = np.stack([uniform(phi0 / 2, 3), uniform(0.0, 3), uniform(phi0 / 2, 3)])
    taus = [1.0, 2.0]
    res = evolve(uniform(A * T0 ** 4, 3), dx=0.5, tau0=TAU0, tau_end=2.0, eta_s=eta_s, pi0=pi0,
                 tau_pi_factor=bpi, save_taus=taus, edge_tol=None)
    tau = np.array(taus)
    T0fm = T0 / HBARC
    T_ns = T0 * (TAU0 / tau) ** (1 / 3) * (1 + 2 / 3 * eta_s / (TAU0 * T0fm) * (1 - (TAU0 / tau) ** (2 / 3)))
    T_ideal = T0 * (TAU0 / tau) ** (1 / 3)
    T = res.T[:, 1, 1]
    # viscous heating is a ~3 % effect; NS reproduced to 1e-3 of T (residual O(τ_π/τ))
    assert T_ns[-1] / T_ideal[-1] - 1 > 0.02
    np.testing.assert_allclose(T, T_ns, rtol=1e-3)
    # shear stress: τ²π^{ηη} = −Φ with Φ → 4η/(3τ), η ∝ T³
    phi_ns = 4 * eta_s * (4 / 3 * A * T ** 4) / (T / HBARC) / (3 * tau)
    np.testing.assert_allclose(-res.pi[:, 1, 1, 6], phi_ns, rtol=0.02)


def test_israel_stewart_bjorken_against_ode():
    eta_s, bpi = 0.2, 5.0

    def f(t, y):
        e, phi = y
        T = (e / A) ** 0.25 / HBARC
        w = 4 * e / 3
        eta = eta_s * w / T
        tpi = bpi * eta / w
        return [-(w - phi) / t, -(phi - 4 * eta / (3 * t)) / tpi - 4 / 3 * phi / t]

    taus = [1.0, 2.0, 5.0]
    sol = solve_ivp(f, (TAU0, 5.0), [A * T0 ** 4, 0.0], method="LSODA", rtol=1e-10, atol=1e-12,
                    t_eval=taus)
    res = evolve(uniform(A * T0 ** 4, 3), dx=0.1, tau0=TAU0, tau_end=5.0, eta_s=eta_s,
                 save_taus=taus, edge_tol=None)
    np.testing.assert_allclose(res.e[:, 1, 1], sol.y[0], rtol=1e-3)
    np.testing.assert_allclose(-res.pi[:, 1, 1, 6], sol.y[1], rtol=5e-3)
    np.testing.assert_allclose(res.pi[:, 1, 1, 3], sol.y[1] / 2, rtol=5e-3)


# --------------------------------------------------------------------- lattice EoS (HotQCD + HRG)
def test_lattice_eos_ideal_bjorken_conserves_entropy():
    """Ideal Bjorken flow with any EoS: d(sτ)/dτ = 0 (entropy per unit rapidity is conserved)."""
    from qcdgen.hic.hydro.eos import get_eos
    eos = get_eos("lattice")
    taus = [0.6, 1.5, 4.0, 8.0]
    e0 = float(eos.energy_density(0.25))
    res = evolve(uniform(e0, 3), dx=0.25, tau0=0.6, tau_end=8.0, eos="lattice", save_taus=taus, edge_tol=None)
    e = res.e[:, 1, 1]
    s = (e + eos.pressure(e)) / eos.temperature(e)
    np.testing.assert_allclose(s * np.array(taus), s[0] * 0.6, rtol=3e-4)
    assert res.T[-1, 1, 1] < 0.18                       # through the crossover
    # not conformal: T τ^{1/3} grows as c_s² drops below 1/3
    assert res.T[-1, 1, 1] * 8.0 ** (1 / 3) > 1.05 * 0.25 * 0.6 ** (1 / 3)


def _quad_hrg_energy(T):
    """Σ_i g_i/(2π²) ∫ k² E /(e^{E/T} ∓ 1) dk over the sampler's species, by quadrature."""
    from scipy.integrate import quad

    from qcdgen.hic.generators.hadron_gas import HadronGas, pdg_properties
    tot = 0.0
    for c in HadronGas().codes:
        m, _, g, baryon = pdg_properties(abs(int(c)))
        sgn = 1.0 if baryon else -1.0

        def f(k):
            E = math.sqrt(k * k + m * m)
            return k * k * E / (math.exp(E / T) + sgn)
        tot += g / (2 * math.pi ** 2) * quad(f, 0, 30 * T + 3 * m, limit=200)[0]
    return tot / HBARC ** 3


def test_lattice_eos_is_the_sampler_hadron_gas_below_switching():
    from qcdgen.hic.hydro.eos import get_eos, hotqcd_pressure_over_T4
    eos = get_eos("lattice")
    for T in (0.10, 0.15):
        assert float(eos.energy_density(T)) == pytest.approx(_quad_hrg_energy(T), rel=2e-3)
    # thermodynamic consistency: s = dp/dT = (e + p)/T
    T = np.linspace(0.12, 0.5, 9)
    h = 1e-4
    p = lambda t: eos.pressure(eos.energy_density(t))          # noqa: E731
    e = eos.energy_density(T)
    np.testing.assert_allclose((p(T + h) - p(T - h)) / (2 * h), (e + p(T)) / T, rtol=3e-3)
    # above the join: the HotQCD p/T⁴ up to the constant offset left by the truncated HRG
    for T in (0.25, 0.4, 0.6):
        ratio = p(T) / T ** 4 * HBARC ** 3 / hotqcd_pressure_over_T4(T)
        assert 0.9 < ratio <= 1.0
    cs2 = eos.sound_speed2(eos.energy_density(np.linspace(0.1, 1.0, 50)))
    assert 0.1 < cs2.min() < 0.2 and cs2.max() < 1 / 3


def test_first_order_eos_bjorken_through_mixed_phase():
    """Maxwell construction: p = p_c, T = Tc in the mixed phase; ideal Bjorken keeps sτ fixed
    and, inside the mixed phase, e + p_c ∝ 1/τ (de/dτ = −(e + p)/τ with p constant)."""
    from qcdgen.hic.hydro.eos import get_eos
    eos = get_eos("first-order")
    assert eos.latent_heat == pytest.approx(4 * eos.B)
    for e_edge in (eos.e_H * (1 - 1e-6), eos.e_Q * (1 + 1e-6), 0.5 * (eos.e_H + eos.e_Q)):
        assert float(eos.pressure(e_edge)) == pytest.approx(eos.e_H / 3, rel=3e-3)   # p_c (table step 1.5e-3)
    e0 = float(eos.energy_density(0.22))                 # enters the mixed phase at τ ≈ 1.3 fm
    taus = [0.6, 1.0, 2.0, 3.0, 4.0]
    res = evolve(uniform(e0, 3), dx=0.25, tau0=0.6, tau_end=4.0, eos=eos, save_taus=taus, edge_tol=None)
    e = res.e[:, 1, 1]
    s = (e + eos.pressure(e)) / eos.temperature(e)
    np.testing.assert_allclose(s * np.array(taus), s[0] * 0.6, rtol=2e-3)
    mixed = (e > eos.e_H) & (e < eos.e_Q)
    assert mixed.sum() >= 2
    pc = eos.e_H / 3
    w = (e + pc)[mixed] * np.array(taus)[mixed]
    np.testing.assert_allclose(w, w[0], rtol=2e-3)
    np.testing.assert_allclose(res.T[:, 1, 1][mixed], eos.Tc, rtol=1e-3)
