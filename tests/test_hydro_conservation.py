"""Conservation of total energy and momentum by the KT finite-volume update.

Cartesian mode (t, x, y, no longitudinal expansion): E = Σ T^{tt} Δx², P^i = Σ T^{ti} Δx² are
exactly conserved while nothing reaches the edge. Milne mode: ∂_τ(τT^{τi}) + ∂_j(τT^{ji}) = 0,
so Σ τT^{τi} is conserved for boost-invariant flow too. T^{μν} = (e + p)u^μu^ν − p g^{μν} + π^{μν}
is rebuilt here from the saved e, u, π (p = e/3).
"""

import numpy as np
import pytest

from qcdgen.hic.hydro import evolve


def blob(n=70, dx=0.2):
    x = (np.arange(n) - 0.5 * (n - 1)) * dx
    X, Y = np.meshgrid(x, x, indexing="ij")
    r2 = (X - 0.5) ** 2 + 1.5 * (Y + 0.3) ** 2
    e = 8.0 * np.exp(-r2 / 1.5)
    ux = 0.4 * np.exp(-r2 / 3.0)
    uy = -0.2 * np.exp(-r2 / 3.0) * np.tanh(X)
    return e, ux, uy, dx


def totals(res, weight):
    e, ux, uy = res.e, res.ux, res.uy
    p = e / 3
    ut = np.sqrt(1 + ux ** 2 + uy ** 2)
    pi = res.pi
    Ttt = (e + p) * ut * ut - p + pi[..., 0]
    Ttx = (e + p) * ut * ux + pi[..., 1]
    Tty = (e + p) * ut * uy + pi[..., 2]
    w = np.asarray(weight)[:, None, None] * res.dx ** 2
    return [(w * T).sum(axis=(1, 2)) for T in (Ttt, Ttx, Tty)]


@pytest.mark.parametrize("eta_s", [0.0, 0.1])
def test_cartesian_energy_momentum_conserved(eta_s):
    e, ux, uy, dx = blob()
    res = evolve(e, ux, uy, dx=dx, tau0=1.0, tau_end=2.0, eta_s=eta_s, coordinates="cartesian",
                 save_taus=[1.0, 1.5, 2.0])
    E, Px, Py = totals(res, np.ones(3))
    assert abs(Px[0]) > 0.1 * E[0] and abs(Py[0]) > 1e-3 * E[0]
    # nothing has reached the edge
    assert res.e[-1][[0, -1], :].max() < 1e-6 * res.e[-1].max()
    assert res.e[-1][:, [0, -1]].max() < 1e-6 * res.e[-1].max()
    for q in (E, Px, Py):
        np.testing.assert_allclose(q, q[0], rtol=0, atol=1e-9 * E[0])
    assert res.regulated_cells == 0


def test_milne_transverse_momentum_conserved_energy_decreases():
    e, ux, uy, dx = blob()
    taus = [0.6, 1.1, 1.6]
    res = evolve(e, ux, uy, dx=dx, tau0=0.6, tau_end=1.6, eta_s=0.08, save_taus=taus)
    E, Px, Py = totals(res, taus)                  # Σ τ T^{τμ} Δx²
    for q in (Px, Py):          # to ~1e-9 of E (vacuum-floor cells are reset to e_floor)
        np.testing.assert_allclose(q, q[0], rtol=0, atol=1e-8 * E[0])
    assert abs(Px[0]) > 0.05 * E[0]
    # longitudinal work: dE/dτ = −Σ(p + τ²π^{ηη}) < 0
    assert E[1] < E[0] and E[2] < E[1]
