"""The XY Monte Carlo (Wolff + over-relaxation + Metropolis) against exact results: the periodic 1D chain
(Bessel functions), the 2×2 torus (quadrature) and the high-temperature series of the square lattice."""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.special import iv

from qcdgen.lattice.xy import exact
from qcdgen.lattice.xy import monte_carlo as mc
from qcdgen.lattice.observe import observe_file
from qcdgen.lattice.xy.wolff import WolffSettings, generate_wolff_ensemble
from qcdgen.stats import gamma_method

MAX_PULL = 4.0


def pull(est, truth):
    return (est.value - truth) / est.error


def test_exact_formulas_agree_with_each_other():
    """Independent routes to the same numbers: the long periodic chain is the open chain, I1/I0 from SciPy's
    unscaled Bessel functions; the 2×2 torus by quadrature is the 4-site ring at coupling 2β."""
    beta = 0.8
    assert exact.ring_correlation(beta, 400, 1) == pytest.approx(iv(1, beta) / iv(0, beta), rel=1e-12)
    assert exact.ring_correlation(beta, 400, 3) == pytest.approx((iv(1, beta) / iv(0, beta)) ** 3, rel=1e-10)
    for temperature in (0.6, 1.3):
        quad = exact.torus_2x2(temperature, nodes=32)
        assert quad["energy"] == pytest.approx(2 * exact.ring_energy(2 / temperature, 4), rel=1e-10)
    # lowest order of the series: e = −β − (3/8)β³ + O(β⁵)
    assert exact.energy_high_temperature(0.05) == pytest.approx(-0.05 - 3 / 8 * 0.05**3, rel=1e-6)


def _chain_run(graph, beta, steps, seed, **kw):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-math.pi, math.pi, (4, graph.sites))
    for _ in range(200):
        mc.update(theta, graph, beta, rng, **kw)
    out = []
    for _ in range(steps):
        mc.update(theta, graph, beta, rng, **kw)
        out.append(theta.copy())
    return np.stack(out, axis=1)  # [chains, steps, V]


@pytest.mark.parametrize("kw", [dict(clusters=1, overrelax_sweeps=1, metropolis_sweeps=1),
                                dict(clusters=0, overrelax_sweeps=0, metropolis_sweeps=1)],
                         ids=["wolff", "metropolis"])
def test_periodic_chain_energy_and_correlation(kw):
    sites, beta = 16, 1.2
    theta = _chain_run(mc.ring(sites), beta, 2500, seed=3, **kw)
    replicas = np.repeat(np.arange(4), theta.shape[1])
    flat = theta.reshape(-1, sites)
    for r in (1, 5, 8):
        series = np.cos(flat - np.roll(flat, -r, axis=1)).mean(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = gamma_method(series, replicas=replicas)
        assert abs(pull(est, exact.ring_correlation(beta, sites, r))) < MAX_PULL, (r, est)


@pytest.mark.parametrize("temperature", [1.0, pytest.param(2.0, marks=pytest.mark.slow)])
def test_two_by_two_torus_against_quadrature(tmp_path, temperature):
    out = tmp_path / "xy2.h5"
    generate_wolff_ensemble(out, WolffSettings(size=2, temperature=temperature, configs=4000, chains=4, seed=7,
                                               thermalize=200, separation=2, clusters=1), progress=False)
    est = observe_file(out)
    truth = exact.torus_2x2(temperature, nodes=64)
    for name in ("energy", "magnetisation", "helicity_modulus", "vortex_density"):
        assert abs(pull(est[name], truth[name])) < MAX_PULL, (name, est[name], truth[name])


def test_high_temperature_series(tmp_path):
    temperature = 4.0  # u ≈ 0.125: the neglected O(u⁷) terms are ~1e-6, far below the statistical error
    out = tmp_path / "xy16.h5"
    generate_wolff_ensemble(out, WolffSettings(size=16, temperature=temperature, configs=8000, chains=4, seed=11,
                                               thermalize=100, separation=1, clusters=1), progress=False)
    est = observe_file(out)["energy"]
    assert est.error < 1.5e-3  # resolves the β³ term of the series, (3/8)β³ ≈ 6e-3
    assert abs(pull(est, exact.energy_high_temperature(1 / temperature))) < MAX_PULL


def test_updates_keep_the_configuration_in_range_and_overrelaxation_keeps_the_energy():
    graph = mc.torus(6)
    rng = np.random.default_rng(0)
    theta = rng.uniform(-math.pi, math.pi, (3, graph.sites))
    before = mc.bond_cosines(theta, graph)
    mc.overrelax(theta, graph)
    np.testing.assert_allclose(mc.bond_cosines(theta, graph), before, rtol=1e-12)
    mc.update(theta, graph, 1.0, rng)
    assert np.all(theta > -math.pi - 1e-12) and np.all(theta <= math.pi + 1e-12)
    assert torch.isfinite(torch.as_tensor(theta)).all()


def _log_z_2x2_twisted(beta, delta, nodes=48):
    """log Z(δ) of the 2×2 torus with every bond in direction 0 twisted, cos(θ_x − θ_{x+0̂} − δ), by the
    trapezoidal rule over three angles (the fourth fixed by the O(2) symmetry the twist keeps)."""
    grid = 2.0 * math.pi * np.arange(nodes) / nodes
    a, b, c = np.meshgrid(grid, grid, grid, indexing="ij")
    theta = np.stack([np.zeros_like(a), a, b, c], axis=-1).reshape(-1, 2, 2)
    d0 = theta - np.roll(theta, -1, axis=1)  # the four bonds in direction 0 (two per pair of sites)
    d1 = theta - np.roll(theta, -1, axis=2)
    h = -np.cos(d0 - delta).sum(axis=(1, 2)) - np.cos(d1).sum(axis=(1, 2))
    return float(np.log(np.exp(-beta * (h + 8.0)).mean()))


@pytest.mark.parametrize("temperature", [0.7, 1.5])
def test_helicity_modulus_is_the_twist_stiffness(temperature):
    """Υ = ∂²f/∂δ², f = −(T/V) log Z(δ), by finite differences of quadrature free energies: an independent
    check of the fluctuation formula the observable uses (its quadrature average over the same torus)."""
    beta, h = 1.0 / temperature, 1e-3
    f = [-temperature / 4.0 * _log_z_2x2_twisted(beta, d) for d in (-h, 0.0, h)]
    stiffness = (f[0] - 2.0 * f[1] + f[2]) / h**2
    assert exact.torus_2x2(temperature, nodes=48)["helicity_modulus"] == pytest.approx(stiffness, abs=2e-5)


def test_vorticity_finds_a_vortex_antivortex_pair():
    """θ = arg(z − z₁) − arg(z − z₂) has winding +1 around z₁ and −1 around z₂ and nowhere else."""
    from qcdgen.lattice.xy.observables import vorticity, vortex_density

    size = 16
    a, b = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    z1, z2 = (6.5, 5.5), (6.5, 10.5)  # plaquette centres (a + ½, b + ½) of plaquettes (6, 5) and (6, 10)
    theta = np.arctan2(b - z1[1], a - z1[0]) - np.arctan2(b - z2[1], a - z2[0])
    w = vorticity(torch.as_tensor(theta)[None])[0].numpy()
    expected = np.zeros((size, size))
    expected[6, 5], expected[6, 10] = 1.0, -1.0
    # the orientation convention: the winding of the plaquette walk x → x+0̂ → x+0̂+1̂ → x+1̂ (counter-clockwise
    # in the (a, b) plane) around a vortex of θ = arg((a − a₁) + i(b − b₁)) is +1
    np.testing.assert_array_equal(w, expected)
    assert float(vortex_density(torch.as_tensor(theta)[None])[0]) == pytest.approx(2 / size**2)
