"""Radial Schrödinger solver and neural potentials against exact results (ħ = 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qcdgen.errors import InputError
from qcdgen.inverse.schrodinger import (Levels, count_nodes, fit_potential, radial_grid, read_levels, run_potential,
                                        solve_levels, solve_radial)
from qcdgen.report.pipelines import run_potential as run_potential_and_plot


def hydrogen(n, l):
    return -0.5 / (n + l) ** 2          # V = −1/r, μ = 1; principal number n + l


def oscillator(n, l, omega=1.0):
    return omega * (2 * (n - 1) + l + 1.5)  # V = ½ μ ω² r²


# ---------------------------------------------------------------- solver: spectra


def test_hydrogen_spectrum_fd2_richardson():
    """Coulomb: fd2 + Richardson in h, every level with n + l <= 3 to 3e-5 absolute (6e-5 of E_1)."""
    s = solve_radial(lambda r: -1.0 / r, mass=1.0, r_max=60.0, n_points=400, ls=(0, 1, 2), n_levels=3,
                     stencil="fd2", richardson=True)
    for l in (0, 1, 2):
        for n in range(1, 4 - l):
            assert abs(float(s.energy(n, l)) - hydrogen(n, l)) < 3e-5, (n, l)


def test_oscillator_spectrum_fd4():
    """3D oscillator, fd4 at h ≈ 0.025: the first three levels of l = 0, 1, 2 to 5e-6."""
    omega = 1.3
    s = solve_radial(lambda r: 0.5 * omega**2 * r**2, mass=1.0, r_max=8.0, n_points=320, ls=(0, 1, 2), n_levels=3)
    for l in (0, 1, 2):
        for n in (1, 2, 3):
            assert abs(float(s.energy(n, l)) - oscillator(n, l, omega)) < 5e-6, (n, l)


def test_reduced_mass_scaling():
    """μ enters as ω → the levels of ½ μ ω² r² are ω(2(n−1) + l + 3/2) for any μ."""
    mu = 2.5
    s = solve_radial(lambda r: 0.5 * mu * r**2, mass=mu, r_max=6.0, n_points=300, ls=(1,), n_levels=2)
    assert abs(float(s.energy(2, 1)) - oscillator(2, 1)) < 1e-5


def _errors(stencil, ns, potential, exact, r_max, l, richardson=False):
    out = []
    for n in ns:
        s = solve_radial(potential, mass=1.0, r_max=r_max, n_points=n, ls=(l,), n_levels=2, stencil=stencil,
                         richardson=richardson)
        out.append(max(abs(float(s.energy(k, l)) - exact(k, l)) for k in (1, 2)))
    return np.array(out)


def test_convergence_orders():
    """Halving h (N → 2N + 1): fd2 error /4, fd4 error /16 (smooth V); fd2 + Richardson on Coulomb ≈ h⁴."""
    ns = [100, 201, 403]
    ho = lambda r: 0.5 * r**2  # noqa: E731
    e2 = _errors("fd2", ns, ho, oscillator, 9.0, l=1)
    e4 = _errors("fd4", ns, ho, oscillator, 9.0, l=1)
    np.testing.assert_allclose(e2[:-1] / e2[1:], 4.0, rtol=0.05)
    np.testing.assert_allclose(e4[:-1] / e4[1:], 16.0, rtol=0.15)
    ec = _errors("fd2", [100, 201, 403], lambda r: -1.0 / r, hydrogen, 40.0, l=0, richardson=True)
    assert np.all(ec[:-1] / ec[1:] > 10.0)


def test_normalisation_nodes_orthogonality():
    s = solve_radial(lambda r: 0.5 * r**2 - 2.0 * torch.exp(-r), mass=1.0, r_max=10.0, n_points=300, ls=(0, 3),
                     n_levels=5)
    u = s.wavefunctions                                   # [L, n, N]
    gram = torch.einsum("lan,lbn->lab", u, u) * s.h
    torch.testing.assert_close(gram, torch.eye(5, dtype=torch.float64).expand(2, 5, 5), atol=1e-10, rtol=0)
    assert count_nodes(u).tolist() == [[0, 1, 2, 3, 4]] * 2
    first = u[..., :3].sum(-1)
    assert torch.all(first > 0)                           # sign convention: positive near r = 0


def test_batch_over_members_matches_single():
    r, h = radial_grid(10.0, 150)
    v = torch.stack([0.5 * r**2, 0.3 * r**2 + 0.1 * r, -2.0 / (1 + r)])
    batched = solve_levels(v, r, h, 1.0, ls=(0, 2), n_levels=4)
    for k in range(3):
        single = solve_levels(v[k], r, h, 1.0, ls=(0, 2), n_levels=4)
        torch.testing.assert_close(batched.energies[k], single.energies, atol=1e-12, rtol=0)


# ---------------------------------------------------------------- gradients and widths


@pytest.mark.parametrize("stencil", ["fd2", "fd4"])
def test_hellmann_feynman_gradient(stencil):
    """∂E_n/∂V_i = u_n(r_i)² h exactly for the discrete symmetric problem."""
    r, h = radial_grid(8.0, 120)
    v = (0.5 * r**2 + 0.3 * torch.sin(2 * r)).requires_grad_(True)
    s = solve_levels(v, r, h, 1.7, ls=(0, 1), n_levels=3, stencil=stencil)
    for j in range(2):
        for k in range(3):
            (grad,) = torch.autograd.grad(s.energies[j, k], v, retain_graph=True)
            torch.testing.assert_close(grad, s.wavefunctions[j, k].detach() ** 2 * h, atol=1e-10, rtol=0)


def test_widths_of_constant_and_quadratic_imaginary_part():
    """Γ = −2⟨V_I⟩: V_I = −γ gives 2γ for every level; V_I = −γ r² in the oscillator gives 2γ E_n/ω
    (virial theorem ⟨½ω²r²⟩ = E/2, μ = 1)."""
    gamma = 0.07
    s = solve_radial(lambda r: 0.5 * r**2 - 1j * gamma * torch.ones_like(r), mass=1.0, r_max=9.0, n_points=300,
                     ls=(0, 1), n_levels=4)
    torch.testing.assert_close(s.widths, torch.full((2, 4), 2 * gamma, dtype=torch.float64), atol=1e-12, rtol=0)
    s = solve_radial(lambda r: 0.5 * r**2 - 1j * gamma * r**2, mass=1.0, r_max=9.0, n_points=300, ls=(0, 1),
                     n_levels=4)
    for l in (0, 1):
        for n in range(1, 5):
            assert abs(float(s.widths[l, n - 1]) - 2 * gamma * oscillator(n, l)) < 1e-5


def test_solver_refuses_bad_input():
    with pytest.raises(InputError, match="stencil"):
        solve_radial(lambda r: r, mass=1.0, r_max=5.0, stencil="fd6")
    with pytest.raises(InputError, match="ls"):
        solve_radial(lambda r: r, mass=1.0, r_max=5.0, ls=(-1,))
    with pytest.raises(InputError, match="mass"):
        solve_radial(lambda r: r, mass=0.0, r_max=5.0)
    with pytest.raises(InputError, match="r_max"):
        solve_radial(lambda r: r, mass=1.0, r_max=-1.0)
    with pytest.raises(InputError, match="richardson"):
        solve_radial(torch.zeros(400), mass=1.0, r_max=5.0, richardson=True)


# ---------------------------------------------------------------- levels files


def _write(tmp_path, text, name="levels.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, match", [
    ("n,l,E\n1.5,0,1.0\n", "n must be an integer >= 1, got 1.5"),
    ("n,l,E\n0,0,1.0\n", "n must be an integer >= 1, got 0"),
    ("n,l,E\n1,-1,1.0\n", "l must be an integer >= 0, got -1"),
    ("n,l\n1,0\n", "missing column"),
    ("n,l,E\n1,0,1.0\n1,0,2.0\n", "both give the level n=1, l=0"),
    ("n,l,E\n1,0,2.0\n2,0,1.0\n", "must increase with n"),
    ("n,l,E,width\n1,0,1.0,-0.1\n2,0,2.0,0.1\n", "width must be >= 0"),
    ("n,l,E,error\n1,0,1.0,0\n2,0,2.0,0.1\n", "error must be > 0"),
    ("n,l,E\n1,0,abc\n", "not a number"),
])
def test_bad_levels_csv(tmp_path, text, match):
    p = _write(tmp_path, text)
    with pytest.raises(InputError, match=match) as info:
        read_levels(p)
    if "column" not in match and "number" not in match:
        assert str(p) in str(info.value)


def test_run_potential_refuses_bad_settings(tmp_path):
    p = _write(tmp_path, "n,l,E\n1,0,1.5\n2,0,3.5\n")
    out = tmp_path / "V.csv"
    for kw, match in [(dict(mass=-1.0), "--mass"), (dict(mass=1.0, ensemble=1), "--ensemble"),
                      (dict(mass=1.0, grid_points=5), "--grid-points"), (dict(mass=1.0, r_max=0.0), "--r-max"),
                      (dict(mass=1.0, seed=-3), "--seed"), (dict(mass=1.0, epochs=0), "--epochs")]:
        with pytest.raises(InputError, match=match):
            run_potential(p, out=out, progress=False, **kw)
    with pytest.raises(InputError, match="--r-max"):
        run_potential(_write(tmp_path, "n,l,E\n1,0,1.5\n", "one.csv"), mass=1.0, out=out, progress=False)
    assert not out.exists()


# ---------------------------------------------------------------- fits


def test_run_potential_files_and_determinism(tmp_path):
    p = _write(tmp_path, "n,l,E,error,width\n1,0,1.5,0.01,0.3\n2,0,3.5,0.01,0.7\n1,1,2.5,0.01,0.5\n")
    kw = dict(mass=1.0, grid_points=60, ensemble=2, epochs=20, seed=3, progress=False)
    res = run_potential_and_plot(p, out=tmp_path / "a.csv", plot=tmp_path / "a.png", **kw)
    plain = run_potential(p, out=tmp_path / "b.csv", **kw)            # the domain pipeline draws nothing
    assert res.plot == tmp_path / "a.png" and plain.plot is None
    text = (tmp_path / "a.csv").read_text()
    assert text == (tmp_path / "b.csv").read_text()
    header = [ln for ln in text.splitlines() if not ln.startswith("#")][0]
    assert header == "r,V,V_lo,V_hi,W,W_lo,W_hi"
    assert "probed range" in text
    data = np.loadtxt(tmp_path / "a.csv", delimiter=",", comments="#", skiprows=1 + text.count("#"))
    assert data.shape == (60, 7) and np.all(np.isfinite(data))
    assert np.all(data[:, 2] <= data[:, 1]) and np.all(data[:, 1] <= data[:, 3])
    assert np.all(data[:, 4] <= 0)                        # Im V <= 0 by construction
    assert (tmp_path / "a.png").stat().st_size > 1000
    assert res.fit.probed[0] < res.fit.probed[1] <= res.fit.r_max


def test_fit_reproduces_oscillator_levels():
    """Three l = 0 oscillator levels: a short fit refits them to 2 % of the level spacing 2ħω."""
    lv = Levels(n=[1, 2, 3], l=[0, 0, 0], E=[1.5, 3.5, 5.5])
    fit = fit_potential(lv, mass=1.0, grid_points=64, ensemble=2, epochs=250, seed=1, progress=False)
    np.testing.assert_allclose(fit.level_table()["E_fit"], lv.E, atol=0.04)
    assert not fit.failed


@pytest.mark.slow
def test_oscillator_potential_from_five_levels():
    """The proof of concept with default settings: five l = 0 levels of ½ r² refitted to 1.5 % of the
    spacing 2ħω, V within half a level spacing (ħω) of ½ r² over the probed range, and widths of
    V_I = −γ r² (Γ_n = 2γ E_n) refitted to 2 %."""
    gamma = 0.05
    e = np.array([1.5, 3.5, 5.5, 7.5, 9.5])
    lv = Levels(n=[1, 2, 3, 4, 5], l=[0] * 5, E=e, width=2 * gamma * e)
    fit = fit_potential(lv, mass=1.0, seed=0, progress=False)
    t = fit.level_table()
    np.testing.assert_allclose(t["E_fit"], e, atol=0.03)
    np.testing.assert_allclose(t["width_fit"], 2 * gamma * e, rtol=0.02)
    inside = (fit.r >= fit.probed[0]) & (fit.r <= fit.probed[1])
    assert fit.probed[1] > math.sqrt(2 * e[-1]) * 0.9         # reaches ≈ the outermost turning point
    assert np.abs(fit.V[0] - 0.5 * fit.r**2)[inside].max() < 1.0
