"""emcee wrapper and Gaussian likelihood against the exact posterior of a linear Gaussian model."""

import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.inference.calibrate import sample_emcee, split_rhat
from qcdgen.inference.design import ParameterBox
from qcdgen.inference.likelihood import BoxPrior, GaussianLikelihood, LogPosterior


def linear_problem():
    """y = A θ + ε, ε ~ N(0, Σ), flat prior: posterior N((AᵀΣ⁻¹A)⁻¹AᵀΣ⁻¹y, (AᵀΣ⁻¹A)⁻¹)."""
    rng = np.random.default_rng(7)
    A = rng.normal(size=(8, 3))
    sigma = np.diag(rng.uniform(0.3, 0.6, 8) ** 2)
    theta_true = np.array([0.4, -0.8, 1.2])
    y = A @ theta_true + rng.multivariate_normal(np.zeros(8), sigma)
    si = np.linalg.inv(sigma)
    cov = np.linalg.inv(A.T @ si @ A)
    mean = cov @ A.T @ si @ y
    return A, sigma, y, mean, cov


def test_posterior_mean_and_covariance_match_the_exact_gaussian():
    A, sigma, y, mean, cov = linear_problem()
    like = GaussianLikelihood(lambda th: (th @ A.T, np.zeros((len(th), 8, 8))), y, sigma)
    box = ParameterBox(("a", "b", "c"), [-20.0] * 3, [20.0] * 3)   # flat prior in a wide box
    post = LogPosterior(BoxPrior(box), like)
    rng = np.random.default_rng(0)
    init = mean + 0.1 * rng.normal(size=(24, 3))
    res = sample_emcee(post, init, seed=3, max_steps=6000, check_every=250)
    assert res.converged and res.steps < 6000
    assert np.all(res.rhat < 1.05)
    ess = res.effective_samples
    assert ess > 500
    # MC error of the mean: σ/√ESS (ESS counts the autocorrelation via τ_int)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(res.samples.mean(0) - mean) < 4 * sd / np.sqrt(ess)), (res.samples.mean(0), mean)
    # whitened covariance ≈ identity; error of a variance estimate ≈ √(2/ESS)
    w = np.linalg.cholesky(np.linalg.inv(cov))
    white = w.T @ np.cov(res.samples.T) @ w
    assert np.all(np.abs(white - np.eye(3)) < 5 * np.sqrt(2 / ess)), white
    # a wrong answer must fail these checks: the prior-free mean shifted by 1σ would be caught
    assert not np.all(np.abs(res.samples.mean(0) - (mean + sd)) < 4 * sd / np.sqrt(ess))
    # same seed, same chain; another seed, another chain
    short = [sample_emcee(post, init, seed=s, max_steps=200, check_every=100, min_steps=0) for s in (3, 3, 4)]
    assert np.array_equal(short[0].samples, short[1].samples)
    assert not np.array_equal(short[0].samples, short[2].samples)


def test_likelihood_value_is_the_gaussian_density():
    A, sigma, y, _, _ = linear_problem()
    emu_cov = 0.05 * np.eye(8)
    like = GaussianLikelihood(lambda th: (th @ A.T, np.broadcast_to(emu_cov, (len(th), 8, 8))), y, sigma)
    from scipy.stats import multivariate_normal

    th = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]])
    expected = [multivariate_normal(A @ t, sigma + emu_cov).logpdf(y) for t in th]
    assert np.allclose(like(th), expected)


def test_split_rhat_flags_unmixed_chains():
    rng = np.random.default_rng(0)
    good = rng.normal(size=(1000, 8, 2))
    bad = good + np.arange(8)[None, :, None] * 0.5      # chains stuck at different places
    assert np.all(np.abs(split_rhat(good) - 1) < 0.01)
    assert np.all(split_rhat(bad) > 1.2)


def test_too_few_walkers_refused():
    with pytest.raises(InputError, match="at least twice the number of parameters"):
        sample_emcee(lambda t: np.zeros(len(t)), np.zeros((3, 2)))
