"""Simulation-based calibration: uniform ranks for the exact posterior, not for a wrong one."""

import numpy as np

from qcdgen.inference.sbc import expected_coverage, rank_uniformity, run_sbc

SIGMA = 0.5  # y ~ N(θ, σ²), θ ~ N(0, 1): posterior N(y/(1+σ²), σ²/(1+σ²))


def prior(rng):
    return rng.normal(size=2)


def simulate(theta, rng):
    return theta + SIGMA * rng.normal(size=theta.shape)


def posterior(shift=0.0, width=1.0):
    var = SIGMA ** 2 / (1 + SIGMA ** 2)

    def draws(y, n, rng):
        mean = y / (1 + SIGMA ** 2) + shift * np.sqrt(var)
        return mean + width * np.sqrt(var) * rng.normal(size=(n, len(y)))
    return draws


def test_exact_posterior_gives_uniform_ranks_and_nominal_coverage():
    res = run_sbc(prior, simulate, posterior(), n_sims=400, n_posterior=99, seed=0)
    assert res.ranks.shape == (400, 2) and res.ranks.min() >= 0 and res.ranks.max() <= 99
    assert res.passed() and np.all(res.p_values > 0.005)
    for level, cov in res.coverage.items():
        assert np.all(np.abs(cov - level) < 0.08), (level, cov)


def test_shifted_or_narrow_posterior_gives_non_uniform_ranks():
    shifted = run_sbc(prior, simulate, posterior(shift=0.7), n_sims=400, n_posterior=99, seed=0)
    narrow = run_sbc(prior, simulate, posterior(width=0.5), n_sims=400, n_posterior=99, seed=0)
    assert not shifted.passed() and np.all(shifted.p_values < 1e-4)
    assert not narrow.passed() and np.all(narrow.p_values < 1e-4)
    # over-confidence shows as coverage below nominal
    assert np.all(narrow.coverage[0.9] < 0.8)


def test_rank_test_on_synthetic_ranks():
    rng = np.random.default_rng(3)
    uniform = rng.integers(0, 100, size=(1000, 1))
    piled = np.minimum(rng.integers(0, 100, size=(1000, 1)), rng.integers(0, 100, size=(1000, 1)))
    assert rank_uniformity(uniform, 99)[0] > 0.01 and rank_uniformity(piled, 99)[0] < 1e-10
    cov = expected_coverage(uniform, 99, levels=(0.5, 0.9))
    assert abs(cov[0.5][0] - 0.5) < 0.05 and abs(cov[0.9][0] - 0.9) < 0.05
