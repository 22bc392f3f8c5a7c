"""Observable estimators against closed forms and brute-force definitions."""

import math

import numpy as np
import pytest
import torch

from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.observables import (
    correlator, cumulants_from_moments, lowest_momentum_power, measure,
)


def test_cumulants_of_known_distributions():
    # Poisson(μ): every cumulant equals μ; raw moments are Touchard polynomials
    mu = 1.7
    stirling = [[1], [1, 1], [1, 3, 1], [1, 6, 7, 1], [1, 10, 25, 15, 1], [1, 15, 65, 90, 31, 1],
                [1, 21, 140, 350, 301, 63, 1], [1, 28, 266, 1050, 1701, 966, 127, 1]]
    moments = [sum(c * mu ** (n + 1 - k) for k, c in enumerate(row)) for n, row in enumerate(stirling)]
    np.testing.assert_allclose(cumulants_from_moments(moments), mu, rtol=1e-9)  # cancellation of O(1e4) moments
    # Gaussian N(a, s²): κ₁ = a, κ₂ = s², higher vanish
    a, s = 0.3, 1.3
    gauss = [a, a**2 + s**2, a**3 + 3 * a * s**2, a**4 + 6 * a**2 * s**2 + 3 * s**4]
    np.testing.assert_allclose(cumulants_from_moments(gauss), [a, s**2, 0, 0], atol=1e-12)
    # Exponential(1): κ_n = (n−1)!, raw moments n!
    np.testing.assert_allclose(cumulants_from_moments([math.factorial(n) for n in range(1, 9)]),
                               [math.factorial(n - 1) for n in range(1, 9)], rtol=1e-12)


def test_correlator_matches_explicit_shifts():
    phi = torch.randn((3, 6, 6, 6), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fft = correlator(phi)
    for r in range(4):
        brute = torch.stack([(phi * torch.roll(phi, -r, ax)).flatten(1).mean(1) for ax in (1, 2, 3)]).mean(0)
        torch.testing.assert_close(fft[:, r], brute, rtol=1e-12, atol=1e-12)


def test_lowest_momentum_power_matches_definition():
    phi = torch.randn((2, 8, 8), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = torch.arange(8, dtype=torch.float64)
    phase = torch.exp(2j * math.pi * x / 8)
    along0 = (phi * phase[:, None]).sum((1, 2)).abs() ** 2 / 64
    along1 = (phi * phase[None, :]).sum((1, 2)).abs() ** 2 / 64
    torch.testing.assert_close(lowest_momentum_power(phi), (along0 + along1) / 2)


def test_table_identities_on_a_random_ensemble():
    """κ₂ ≡ χ₂, site κ₂ = ⟨φ²⟩ − ⟨φ⟩², G(0) = ⟨φ²⟩ − ⟨M⟩², Binder from moments."""
    action = Phi4Action(size=6, kappa=0.2, lam=0.1, dim=2)
    gen = torch.Generator().manual_seed(2)
    phi = 0.3 + torch.randn((400, 6, 6), dtype=torch.float64, generator=gen)
    obs = measure(phi, action)
    m = phi.flatten(1).mean(1).numpy()
    v = 36
    assert obs["kappa2"].value == pytest.approx(obs["chi2"].value, rel=1e-12)
    assert obs["chi2"].value == pytest.approx(v * (np.mean(m**2) - np.mean(m) ** 2), rel=1e-10)
    assert obs["binder"].value == pytest.approx(1 - np.mean(m**4) / (3 * np.mean(m**2) ** 2), rel=1e-10)
    assert obs["G_r0"].value == pytest.approx(obs["phi2"].value - np.mean(m) ** 2, rel=1e-10)
    assert obs["site_kappa2"].value == pytest.approx(
        obs["phi2"].value - phi.mean().item() ** 2, rel=1e-10)
    assert obs["chi2_abs"].value == pytest.approx(v * (np.mean(m**2) - np.mean(np.abs(m)) ** 2), rel=1e-10)
    assert obs["action_density"].value == pytest.approx(action(phi).mean().item() / v, rel=1e-12)
    # iid Gaussian sites: naive error of ⟨|M|⟩ reproduced
    assert obs["abs_m"].error == pytest.approx(np.std(np.abs(m), ddof=1) / math.sqrt(400), rel=0.15)


def test_gaussian_magnetisation_has_zero_binder_and_higher_cumulants():
    """Independent Gaussian sites: M is Gaussian, so U_L = 0 and κ₃…κ₆ vanish within errors,
    while χ₂ = σ² = 1 exactly in expectation."""
    action = Phi4Action(size=4, kappa=0.0, lam=0.0, dim=2)
    phi = torch.randn((20000, 4, 4), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    obs = measure(phi, action)
    assert abs(obs["chi2"].value - 1.0) < 3 * obs["chi2"].error
    assert abs(obs["binder"].value) < 3 * obs["binder"].error
    for n in range(3, 7):
        assert abs(obs[f"kappa{n}"].value) < 3 * obs[f"kappa{n}"].error
