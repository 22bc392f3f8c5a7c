"""Cumulant estimator (qcdgen.stats.cumulants) against exact cumulants of known distributions."""

import math

import numpy as np
import pytest
import scipy.signal

from qcdgen.errors import InputError
from qcdgen.stats.cumulants import cumulants_from_moments, sample_cumulants

# ---------------------------------------------------------------- exact moment -> cumulant identities

def test_exponential_moments_give_factorial_cumulants():
    # Exp(1): μ'_n = n!, κ_n = (n−1)!
    moments = [math.factorial(n) for n in range(1, 11)]
    expected = [math.factorial(n - 1) for n in range(1, 11)]
    np.testing.assert_allclose(cumulants_from_moments(moments), expected, rtol=1e-12)


def test_poisson_unit_mean_moments_are_bell_numbers():
    # Poisson(1): μ'_n = Bell numbers (Dobinski), every κ_n = 1
    bell = [1, 2, 5, 15, 52, 203, 877, 4140, 21147, 115975]
    np.testing.assert_allclose(cumulants_from_moments(bell), np.ones(10), rtol=1e-12)


def test_gaussian_moments_have_no_cumulants_beyond_two():
    # N(μ, σ²): μ'_n = Σ_k C(n, 2k) μ^{n−2k} σ^{2k} (2k−1)!!
    mu, sigma = 0.7, 1.3
    moments = [sum(math.comb(n, 2 * k) * mu ** (n - 2 * k) * sigma ** (2 * k) * math.prod(range(1, 2 * k, 2))
                   for k in range(n // 2 + 1)) for n in range(1, 9)]
    kappa = cumulants_from_moments(moments)
    np.testing.assert_allclose(kappa[:2], [mu, sigma**2], rtol=1e-12)
    np.testing.assert_allclose(kappa[2:], 0.0, atol=1e-9)


# ---------------------------------------------------------------- estimates from samples, pull-based

def _pulls(estimates, exact):
    return np.array([(e.value - x) / e.error for e, x in zip(estimates, exact)])


def test_gamma_sample_cumulants():
    # Gamma(k, θ): κ_n = (n−1)! k θ^n
    k, theta = 3.0, 0.5
    x = np.random.default_rng(1).gamma(k, theta, size=400_000)
    est = sample_cumulants(x, order=6, bin_size=1000)
    exact = [math.factorial(n - 1) * k * theta**n for n in range(1, 7)]
    assert np.all(np.abs(_pulls(est, exact)) < 4), [str(e) for e in est]


def test_poisson_sample_cumulants():
    mu = 3.0
    x = np.random.default_rng(2).poisson(mu, size=400_000)
    est = sample_cumulants(x, order=6, bin_size=1000)
    assert np.all(np.abs(_pulls(est, [mu] * 6)) < 4), [str(e) for e in est]


def test_gaussian_sample_cumulants_vanish_beyond_two():
    x = np.random.default_rng(3).normal(-2.0, 1.5, size=400_000)
    est = sample_cumulants(x, order=8, bin_size=1000)
    exact = [-2.0, 2.25] + [0.0] * 6
    assert np.all(np.abs(_pulls(est, exact)) < 4), [str(e) for e in est]


def test_symmetric_pooled_sites_two_point_mixture():
    """Rows of k sites sharing a random sign, x = s·a + Gaussian noise (a broken-phase caricature).

    Pooled over sites: κ_2 = a² + σ², κ_4 = −2a⁴, κ_6 = 16a⁶, κ_8 = −272a⁸ (cumulants of ±a are the
    tangent numbers times a^n; the Gaussian only adds to κ_2). Rows are the jackknife units, so the
    strong within-row correlation is in the error.
    """
    rng = np.random.default_rng(4)
    a, sigma, n_rows, k = 1.2, 0.4, 20_000, 16
    sign = rng.choice([-1.0, 1.0], size=(n_rows, 1))
    x = sign * a + sigma * rng.normal(size=(n_rows, k))
    exact = [0.0, a**2 + sigma**2, 0.0, -2 * a**4, 0.0, 16 * a**6, 0.0, -272 * a**8]
    est = sample_cumulants(x, order=8, bin_size=100, symmetric=True)
    assert [e.value for e in est[0::2]] == [0.0] * 4 and [e.error for e in est[0::2]] == [0.0] * 4
    pulls = _pulls(est[1::2], exact[1::2])
    assert np.all(np.abs(pulls) < 4), [str(e) for e in est]
    # standardised ratios and the rescaled variable follow from the same numbers
    std = sample_cumulants(x, order=8, bin_size=100, symmetric=True, standardized=True)
    r = a**2 / (a**2 + sigma**2)
    assert np.all(np.abs(_pulls(std[3::2], [-2 * r**2, 16 * r**3, -272 * r**4])) < 4)
    gam = sample_cumulants(x, order=8, symmetric=True, method="gamma")
    assert np.all(np.abs(_pulls(gam[1::2], exact[1::2])) < 4), [str(e) for e in gam]
    scaled = sample_cumulants(x, order=8, bin_size=100, symmetric=True, scale=0.5)
    np.testing.assert_allclose([e.value for e in scaled], [e.value * 0.5**n for n, e in enumerate(est, 1)])


def test_gamma_method_sees_autocorrelation():
    """AR(1) chain x_t = ρ x_{t−1} + √(1−ρ²) ξ_t: stationary N(0, 1), so κ_2 = 1 and κ_4 = 0 exactly;
    the Γ-method error of κ_2 must grow by √(2τ_int) with τ_int(x²) = ½ (1+ρ²)/(1−ρ²)."""
    rng = np.random.default_rng(6)
    rho, n = 0.8, 200_000
    x = scipy.signal.lfilter([math.sqrt(1 - rho**2)], [1.0, -rho], rng.normal(size=n + 100))[100:]
    gam = sample_cumulants(x, order=4, method="gamma")
    naive = sample_cumulants(x, order=4, bin_size=1)
    assert abs(gam[1].value - 1.0) / gam[1].error < 4 and abs(gam[3].value) / gam[3].error < 4
    tau_x2 = 0.5 * (1 + rho**2) / (1 - rho**2)
    assert gam[1].tau_int == pytest.approx(tau_x2, rel=0.25)
    assert gam[1].error / naive[1].error == pytest.approx(math.sqrt(2 * tau_x2), rel=0.25)


def test_errors_are_honest_over_repeats():
    """z-scores of κ_4 over independent exponential samples have unit spread (error not over/under-stated)."""
    rng = np.random.default_rng(5)
    z = []
    for _ in range(40):
        est = sample_cumulants(rng.exponential(size=20_000), order=4, bin_size=100)
        z.append((est[3].value - 6.0) / est[3].error)
    z = np.array(z)
    assert abs(z.mean()) < 4 / math.sqrt(len(z)) + 0.2  # plug-in bias is O(1/N), well below the error
    assert 0.6 < z.std(ddof=1) < 1.5


@pytest.mark.parametrize("kwargs, match", [
    ({"order": 1}, "order"),
    ({"order": 13}, "order"),
    ({"scale": -1.0}, "scale"),
    ({"method": "bootstrap"}, "method"),
])
def test_bad_input_is_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        sample_cumulants(np.arange(10.0), **kwargs)


def test_non_finite_samples_are_refused():
    x = np.ones(10)
    x[3] = np.nan
    with pytest.raises(InputError):
        sample_cumulants(x)


def test_min_max_normalised_uniform_has_bernoulli_cumulants():
    """The published-format map x → 2(x − x_min)/(x_max − x_min) − 1 (arXiv:2410.21212) through ``scale``:
    U(lo, hi) becomes U(−1, 1), whose even cumulants are κ_n = 2^n B_n / n (B_n Bernoulli numbers):
    1/3, −2/15, 16/63, −16/15. Rows of 64 values are the jackknife/Γ units."""
    rng = np.random.default_rng(8)
    lo, hi = 2.0, 7.0
    x = rng.uniform(lo, hi, size=(6000, 64))
    s = 2.0 / (x.max() - x.min())
    exact = [1 / 3, -2 / 15, 16 / 63, -16 / 15]
    for method in ("jackknife", "gamma"):
        est = sample_cumulants(x, order=8, bin_size=10, scale=s, method=method)
        assert np.all(np.abs(_pulls(est[1::2], exact)) < 4), [str(e) for e in est]
