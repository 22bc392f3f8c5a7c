"""Viscous hydro with the first-order (Maxwell mixed phase, c_s² = 0) EoS.

1. Issue 21: event 89 of ``generate_to_file(model="hydro", seed=16, chunk_events=20, dx=0.4,
   eta_s=0.08, centrality=(0, 50), eos="first_order")`` (chunk 4, event 9) blew up at
   τ = 12.52 fm in a grid-corner cell with e ≈ 1e-8 GeV/fm³, u^τ ≈ 5 and a shear stress of the
   size of e. It must now reach τ = 13 fm with finite fields, and the total energy must obey
   the boost-invariant balance d/dτ Σ τT^{ττ} Δx² = −Σ (p + τ²π^{ηη}) Δx² (longitudinal work).
2. Israel–Stewart Bjorken flow through the mixed phase against the ODEs integrated with scipy:
   de/dτ = −(e + p − Φ)/τ, dΦ/dτ = −(Φ − 4η/3τ)/τ_π − 4Φ/3τ, with Φ = −τ²π^{ηη},
   η = (η/s)(e + p)/T, τ_π = 5η/(e + p), p = p_c and T = T_c inside the mixed phase.
"""

import numpy as np
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicSpline

from qcdgen.hic.hydro import evolve
from qcdgen.hic.hydro.eos import HBARC, FirstOrderEOS


def _event_89():
    """e0 of the event and of its batch (events 88-91 share Δτ and the vacuum floor)."""
    from qcdgen.hic.generators.hydro import HydroGenerator

    gen = HydroGenerator(system="PbPb", sqrts=2760.0, dx=0.4, eta_s=0.08, centrality=(0, 50),
                         eos="first_order")
    rng = np.random.default_rng(np.random.SeedSequence([16, 4]))        # generate_to_file: chunk 4
    states = gen.initial_states(20, rng)                                # drawn first in generate()
    e0 = gen.energy_density(gen.norm * states.profiles / gen.settings.tau0)
    return gen, e0[9], e0[8:12]


def test_first_order_event_that_blew_up_evolves_and_conserves_energy():
    gen, e0, batch = _event_89()
    s, eos = gen.settings, gen.eos
    emax = float(batch.max())
    # the batch's time step (0.5 τ_π at its hottest cell) and vacuum floor, as in generate()
    dtau = 0.5 * 5.0 * s.eta_s / (float(eos.temperature(emax)) / HBARC)
    taus = np.append(np.arange(s.tau0, 13.0, s.save_dtau), 13.0)
    res = evolve(e0, dx=s.dx, tau0=s.tau0, tau_end=13.0, eta_s=s.eta_s, eos=eos, save_taus=taus,
                 dtau=dtau, e_floor_rel=1e-12 * emax / float(e0.max()))
    assert res.tau[-1] == 13.0 and np.isfinite(res.e).all() and np.isfinite(res.pi).all()
    assert (res.e > 0).all()
    assert res.T[-1].max() < s.T_sw < res.T[0].max()          # it has frozen out by 13 fm
    # energy balance, d/dτ Σ τT^{ττ} = −Σ (p + τ²π^{ηη}) − (outflow τT^{iτ} through the grid edge):
    # at the outflow edge the KT flux is that of the edge cell (zero slope, equal states)
    ut = np.sqrt(1 + res.ux ** 2 + res.uy ** 2)
    p = res.p
    w = res.e + p
    E = res.tau * (w * ut ** 2 - p + res.pi[..., 0]).sum(axis=(1, 2)) * s.dx ** 2
    Tx, Ty = w * ut * res.ux + res.pi[..., 1], w * ut * res.uy + res.pi[..., 2]
    out = (Tx[:, -1, :] - Tx[:, 0, :]).sum(axis=1) + (Ty[:, :, -1] - Ty[:, :, 0]).sum(axis=1)
    rate = (p + res.pi[..., 6]).sum(axis=(1, 2)) * s.dx ** 2 + res.tau * out * s.dx
    spline = CubicSpline(np.log(res.tau), rate * res.tau)      # ∫ f dτ = ∫ f τ d ln τ
    lost = np.array([spline.integrate(np.log(res.tau[0]), np.log(t)) for t in res.tau])
    assert E[-1] < 0.8 * E[0]                                   # the work is a large effect
    # measured 9.5e-4, all of it in the first 0.3 fm (the spline does not resolve π^{ηη} building up)
    np.testing.assert_allclose(E + lost, E[0], rtol=2e-3)


def test_israel_stewart_bjorken_through_the_mixed_phase():
    eos = FirstOrderEOS(g_h=12.0)                      # hadron gas: e_H = 0.43, e_Q = 2.12 GeV/fm³
    eta_s, bpi, tau0 = 0.2, 5.0, 0.6

    def p_T(e):
        if e < eos.e_H:
            return e / 3, (e / (eos.e_H / eos.Tc ** 4)) ** 0.25
        if e > eos.e_Q:
            return (e - 4 * eos.B) / 3, ((e - eos.B) / ((eos.e_Q - eos.B) / eos.Tc ** 4)) ** 0.25
        return eos.e_H / 3, eos.Tc                               # Maxwell: p_c = e_H/3, T_c

    def f(t, y):
        e, phi = y
        p, T = p_T(e)
        w = e + p
        eta = eta_s * w / (T / HBARC)
        tpi = bpi * eta / w
        return [-(w - phi) / t, -(phi - 4 * eta / (3 * t)) / tpi - 4 / 3 * phi / t]

    e0 = 2.0 * eos.e_Q                            # QGP at τ0; mixed at 2 and 4 fm, hadrons at 8 fm
    taus = [1.0, 2.0, 4.0, 8.0]
    sol = solve_ivp(f, (tau0, 8.0), [e0, 0.0], method="LSODA", rtol=1e-10, atol=1e-12, t_eval=taus,
                    max_step=0.01)
    res = evolve(np.full((3, 3), e0), dx=0.25, tau0=tau0, tau_end=8.0, eta_s=eta_s, eos=eos,
                 save_taus=taus, edge_tol=None)
    e = res.e[:, 1, 1]
    assert e[0] > eos.e_Q and eos.e_H < e[2] < e[1] < eos.e_Q and e[3] < eos.e_H
    np.testing.assert_allclose(res.T[1:3, 1, 1], eos.Tc, rtol=1e-9)  # T = T_c in the mixed phase
    # measured: e to 6e-5, Φ to 8e-4 (at τ = 1 fm, where Φ is still building up)
    np.testing.assert_allclose(e, sol.y[0], rtol=5e-4)
    np.testing.assert_allclose(-res.pi[:, 1, 1, 6], sol.y[1], rtol=4e-3)
