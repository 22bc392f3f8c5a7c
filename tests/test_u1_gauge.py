"""2D U(1) gauge theory: exact torus results checked independently, HMC against them, CLI contracts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.special import iv

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.lattice.observe import observe_file
from qcdgen.lattice.u1 import U1Action, plaquettes, topological_charge
from qcdgen.lattice.u1 import exact
from qcdgen.lattice.u1.hmc import U1HMCSettings, generate_hmc_ensemble


def gauge_transform(theta: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """θ_μ(x) → θ_μ(x) + α(x) − α(x + μ̂)."""
    shifted = torch.stack([torch.roll(alpha, -1, -2), torch.roll(alpha, -1, -1)], dim=1)
    return theta + alpha[:, None] - shifted


# ----------------------------------------------------------------------------- exact results
def test_partition_function_at_zero_coupling_is_the_haar_volume():
    for size in (2, 4, 8):
        assert exact.log_partition(1e-12, size) == pytest.approx(2 * size * size * math.log(2 * math.pi), rel=1e-12)


def test_character_integral_at_integer_order_is_the_bessel_ratio():
    for beta in (0.5, 3.0, 8.0):
        k = np.arange(5)
        assert np.allclose(exact.phi_k(beta, k), iv(k, beta) / iv(0, beta), rtol=1e-10, atol=1e-14)


def test_plaquette_is_the_derivative_of_log_z_and_reaches_the_bessel_ratio():
    for beta, size in ((1.0, 2), (3.0, 4), (6.0, 8)):
        h = 1e-5
        numeric = (exact.log_partition(beta + h, size) - exact.log_partition(beta - h, size)) / (2 * h * size * size)
        assert exact.plaquette(beta, size) == pytest.approx(numeric, rel=1e-6)
    # V → ∞: plaquettes decouple, ⟨cos θ⟩ = I_1/I_0
    assert exact.plaquette(3.0, 32) == pytest.approx(iv(1, 3.0) / iv(0, 3.0), rel=1e-10)
    assert exact.plaquette(3.0, 2) > exact.plaquette(3.0, 32)  # the constraint favours ordered small tori


def test_charge_distribution_against_direct_convolution_on_a_2x2_torus():
    """P(Q) ∝ p_S(2πQ), S the sum of V = 4 i.i.d. angles of weight e^{β cos θ}: convolve on a grid."""
    beta, volume, n = 1.5, 4, 4001
    grid = np.linspace(-math.pi, math.pi, n)
    dx = grid[1] - grid[0]
    f = np.exp(beta * np.cos(grid))
    density = f.copy()
    for _ in range(volume - 1):
        density = np.convolve(density, f) * dx
    support = np.linspace(-volume * math.pi, volume * math.pi, len(density))
    q = np.arange(-1, 2)
    direct = np.interp(2 * math.pi * q, support, density)
    direct /= direct.sum()
    qs, p = exact.charge_distribution(beta, 2, q_max=2)
    mine = p[np.isin(qs, q)]
    assert np.allclose(mine / mine.sum(), direct, atol=2e-3)
    assert p.sum() == pytest.approx(1.0)
    assert np.allclose(p, p[::-1], atol=1e-12)  # P(Q) = P(−Q)


def test_susceptibility_reaches_the_single_plaquette_variance_at_large_volume():
    for beta in (1.0, 4.0):
        x = np.linspace(-math.pi, math.pi, 200001)
        w = np.exp(beta * np.cos(x))
        theta2 = np.trapezoid(x * x * w, x) / np.trapezoid(w, x)
        assert exact.topological_susceptibility(beta, 24) == pytest.approx(theta2 / (4 * math.pi**2), rel=1e-4)
    # small tori suppress topology: χ_t(L = 4) < χ_t(L = 24) at β = 4
    assert exact.topological_susceptibility(4.0, 4) < 0.5 * exact.topological_susceptibility(4.0, 24)


# ----------------------------------------------------------------------------- action
def test_force_is_minus_the_autograd_gradient_and_the_action_is_gauge_invariant():
    g = torch.Generator().manual_seed(1)
    action = U1Action(size=4, beta=2.3)
    theta = action.random_start(3, g)
    x = theta.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(action(x).sum(), x)
    assert torch.allclose(action.force(theta), -grad, atol=1e-12)
    alpha = 7 * torch.rand((3, 4, 4), dtype=torch.float64, generator=g)
    moved = gauge_transform(theta, alpha)
    assert torch.allclose(action(moved), action(theta), atol=1e-10)
    assert torch.equal(torch.round(topological_charge(moved)), torch.round(topological_charge(theta)))


def test_charge_is_an_integer_and_counts_windings():
    g = torch.Generator().manual_seed(2)
    theta = U1Action(size=6, beta=1.0).random_start(50, g)
    q = topological_charge(theta)
    assert torch.allclose(q, torch.round(q), atol=1e-9)
    assert q.abs().max() > 0  # hot configurations carry charge
    # constant flux 2π/V in every plaquette is one unit of charge: θ_1(x, y) = 2π x/L², closed across the
    # x = L − 1 boundary by the transition function θ_0(L − 1, y) = −2π y/L
    size = 6
    t = torch.zeros((1, 2, size, size), dtype=torch.float64)
    xs = torch.arange(size, dtype=torch.float64)
    t[0, 1] = (2 * math.pi / size**2) * xs[:, None] * torch.ones(size)[None, :]
    t[0, 0, size - 1, :] = -(2 * math.pi / size) * xs
    p = plaquettes(t)
    assert torch.allclose(torch.remainder(p + 1e-12, 2 * math.pi), torch.full_like(p, 2 * math.pi / size**2), atol=1e-9)
    assert round(float(topological_charge(t))) == 1


def test_bad_parameters_are_refused():
    with pytest.raises(InputError, match="--beta"):
        U1Action(size=4, beta=0.0)
    with pytest.raises(InputError, match="--size"):
        U1Action(size=1, beta=1.0)
    with pytest.raises(InputError, match="Fourier"):
        U1HMCSettings(size=4, beta=1.0, configs=10, fourier_acceleration=True)


# ----------------------------------------------------------------------------- HMC against exact results
@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_hmc_plaquette_and_susceptibility_match_the_torus(tmp_path, beta):
    out = tmp_path / "u1.h5"
    generate_hmc_ensemble(out, U1HMCSettings(size=8, beta=beta, configs=1600, chains=16, thermalize=200, seed=3),
                          progress=False)
    est = observe_file(out)
    for name, truth in (("plaquette", exact.plaquette(beta, 8)),
                        ("topological_susceptibility", exact.topological_susceptibility(beta, 8))):
        e = est[name]
        assert abs(e.value - truth) < 3 * e.error, (name, e, truth)
    assert abs(est["topological_charge"].value) < 3 * est["topological_charge"].error


def test_hmc_plaquette_at_beta_6_matches_while_topology_freezes(tmp_path):
    """β = 6: the plaquette decorrelates in a few trajectories while τ_int(Q) is hundreds (χ_t: the slow test)."""
    out = tmp_path / "u1.h5"
    with pytest.warns(RuntimeWarning, match="too short for its autocorrelation"):  # Q: said, not hidden
        result = generate_hmc_ensemble(out, U1HMCSettings(size=8, beta=6.0, configs=1600, chains=32, thermalize=200,
                                                          separation=5, seed=4), progress=False)
        e = observe_file(out)["plaquette"]
    assert abs(e.value - exact.plaquette(6.0, 8)) < 3 * e.error
    assert result.tau_int.value > 20  # Q moves far slower than the plaquette


@pytest.mark.slow
def test_hmc_susceptibility_at_beta_6_with_the_full_pilot(tmp_path):
    out = tmp_path / "u1.h5"
    generate_hmc_ensemble(out, U1HMCSettings(size=8, beta=6.0, configs=800, chains=16, thermalize=2000, seed=5),
                          progress=False)
    est = observe_file(out)
    for name, truth in (("plaquette", exact.plaquette(6.0, 8)),
                        ("topological_susceptibility", exact.topological_susceptibility(6.0, 8))):
        assert abs(est[name].value - truth) < 3 * est[name].error, (name, est[name], truth)


# ----------------------------------------------------------------------------- CLI
def test_u1_hmc_cli_writes_an_ensemble_that_observe_reads(tmp_path, capsys):
    out = tmp_path / "u1.h5"
    assert main(["lattice", "u1-hmc", "--size", "4", "--beta", "2", "--configs", "40", "--chains", "4",
                 "--seed", "1", "--thermalize", "50", "--out", str(out), "--no-progress"]) == 0
    assert "tau_int(Q)" in capsys.readouterr().out
    assert main(["lattice", "observe", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["observables"]
    assert set(data) == {"plaquette", "topological_charge", "topological_susceptibility"}
    assert all({"value", "error"} <= set(v) for v in data.values())


@pytest.mark.parametrize("beta", ["0", "-1", "nan"])
def test_u1_hmc_refuses_nonpositive_beta(tmp_path, capsys, beta):
    out = tmp_path / "u1.h5"
    assert main(["lattice", "u1-hmc", "--size", "4", "--beta", beta, "--configs", "40", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--beta" in err[0]
    assert not out.exists()
