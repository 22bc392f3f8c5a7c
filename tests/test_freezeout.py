"""Freeze-out surface finder against analytic surfaces, and the fluid's energy balance across it.

- Bjorken flow T = T0 (τ0/τ)^{1/3}: the surface is the plane τ_f = τ0 (T0/T_sw)³ with
  dσ_μ = τ_f dx dy (1, 0, 0) (Σ dσ_τ = τ_f × grid area);
- a hemisphere T = T0 [1 − (r² + (τ − τ0)²)/R²] in (τ, x, y): the Euclidean vector areas sum to
  the base disc (π R_s², 0, 0); Σ x A_x = Σ y A_y = Σ (τ − τ0) A_τ = (2/3) π R_s³ (the enclosed
  volume, divergence theorem); Σ τ A_τ = τ0 π R_s² + (2/3) π R_s³; normals point outwards;
- hydro (``evolve``, ideal and viscous, with initial flow): energy and transverse momentum
  flowing out through the surface, Σ T^{τν} dσ_ν, equals the fluid's energy inside at τ0 minus
  the longitudinal work ∫(P + τ²π^{ηη}) (Milne source term), within 0.5 % of the initial energy.
"""

from __future__ import annotations

import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.hic.hydro.cooper_frye import surface_energy_momentum_flux
from qcdgen.hic.hydro.freezeout import find_surface, hot_region_budget, surface_from_hydro


def test_bjorken_surface_is_constant_tau_plane():
    T0, tau0, Tsw = 0.4, 0.6, 0.15
    tau = np.linspace(tau0, 20.0, 400)
    nx, ny, dx = 9, 7, 0.5
    T = T0 * (tau0 / tau) ** (1 / 3)
    field = np.broadcast_to(T[:, None, None], (len(tau), nx, ny)).copy()
    s = find_surface(tau, field, Tsw, dx=dx)
    tau_f = tau0 * (T0 / Tsw) ** 3
    assert np.allclose(s.tau, tau_f, rtol=2e-4)
    assert np.allclose(s.dsigma[:, 1:], 0.0, atol=1e-12)
    assert s.dsigma[:, 0].sum() == pytest.approx(tau_f * (nx - 1) * (ny - 1) * dx * dx, rel=2e-4)
    assert np.allclose(s.T, Tsw) and s.hot_at_end == 0
    assert np.allclose(s.u_dot_dsigma, s.dsigma[:, 0])


@pytest.mark.parametrize("n", [41, 81])
def test_hemisphere_surface_areas_and_volume(n):
    T0, R, tau0, Tsw = 1.0, 5.0, 1.0, 0.36
    Rs = R * np.sqrt(1 - Tsw / T0)                      # = 4 fm
    x = np.linspace(-5.0, 5.0, n)
    tau = tau0 + np.linspace(0.0, 5.0, n)
    dx = x[1] - x[0]
    TT, X, Y = np.meshgrid(tau, x, x, indexing="ij")
    field = T0 * (1 - (X ** 2 + Y ** 2 + (TT - tau0) ** 2) / R ** 2)
    s = find_surface(tau, field, Tsw, dx=dx, x0=x[0], y0=x[0])
    A = s.dsigma / s.tau[:, None]                       # Euclidean vector areas
    tol = 4.0 * dx ** 2 / Rs ** 2                       # second order in the grid spacing
    assert A.sum(axis=0) == pytest.approx([np.pi * Rs ** 2, 0, 0], abs=tol * np.pi * Rs ** 2)
    vol = 2 / 3 * np.pi * Rs ** 3
    assert (s.x * A[:, 1]).sum() == pytest.approx(vol, rel=tol)
    assert (s.y * A[:, 2]).sum() == pytest.approx(vol, rel=tol)
    assert ((s.tau - tau0) * A[:, 0]).sum() == pytest.approx(vol, rel=tol)
    assert s.dsigma[:, 0].sum() == pytest.approx(tau0 * np.pi * Rs ** 2 + vol, rel=tol)
    r = np.sqrt(s.x ** 2 + s.y ** 2 + (s.tau - tau0) ** 2)
    assert np.abs(r - Rs).max() < 2 * dx ** 2
    outward = A[:, 0] * (s.tau - tau0) + A[:, 1] * s.x + A[:, 2] * s.y
    assert (outward > 0).all()


def _gaussian_run(eta_s, n=41, dx=0.4, dtau_save=0.1):
    from qcdgen.hic.hydro.evolve import evolve

    x = (np.arange(n) - (n - 1) / 2) * dx
    X, Y = np.meshgrid(x, x, indexing="ij")
    e0 = 20.0 * np.exp(-((X - 0.5) ** 2 / (2 * 2.0 ** 2) + Y ** 2 / (2 * 1.5 ** 2)))
    ux0 = 0.2 * np.exp(-(X ** 2 + Y ** 2) / 8.0)
    return evolve(e0, ux0, dx=dx, tau0=0.5, tau_end=12.0, eta_s=eta_s,
                  save_taus=np.arange(0.5, 12.0001, dtau_save), stop_T=0.15)


@pytest.mark.parametrize("eta_s", [0.0, 0.1])
def test_hydro_energy_and_momentum_balance_across_surface(eta_s):
    import torch

    torch.set_num_threads(1)
    res = _gaussian_run(eta_s)
    s = surface_from_hydro(res, 0.15)
    assert s.hot_at_end == 0 and len(s) > 500
    assert (s.pi is not None) == (eta_s > 0)
    flux = surface_energy_momentum_flux(s)
    budget = hot_region_budget(res, 0.15)
    E0 = budget["start"][0]
    assert budget["work"][0] > 0.2 * E0               # the longitudinal work is a large term
    assert budget["start"][1] > 0.1 * E0               # the initial flow carries x-momentum
    assert np.abs(flux - budget["expected_flux"]).max() < 0.005 * E0, (flux, budget)


def test_surface_finder_refuses_bad_input():
    tau = np.array([1.0, 2.0])
    good = np.ones((2, 3, 3))
    with pytest.raises(InputError, match="not finite"):
        bad = good.copy()
        bad[1, 2, 0] = np.nan
        find_surface(tau, bad, 0.5, dx=1.0)
    with pytest.raises(InputError, match="increasing"):
        find_surface(tau[::-1], good, 0.5, dx=1.0)
    with pytest.raises(InputError, match="shape"):
        find_surface(tau, good, 0.5, dx=1.0, ux=np.zeros((2, 3, 4)))
    assert len(find_surface(tau, good, 0.5, dx=1.0)) == 0
