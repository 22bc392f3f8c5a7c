"""Γ-method (Wolff, hep-lat/0306017) checked against exactly solvable AR(1) chains."""

import warnings

import numpy as np
import pytest
import scipy.signal

from qcdgen.errors import InputError, NaNError
from qcdgen.stats import (
    Estimate,
    autocorrelation_function,
    effective_sample_size,
    gamma_method,
    integrated_autocorr_time,
    jackknife,
)

RHO = 0.9
TAU_EXACT = (1 + RHO) / (2 * (1 - RHO))  # 9.5


def ar1(n, rho, rng):
    """Stationary AR(1): x_t = rho x_{t-1} + sqrt(1-rho^2) eps_t, unit variance."""
    eps = rng.standard_normal(n)
    zi = [rho * rng.standard_normal()]
    return scipy.signal.lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], eps, zi=zi)[0]


@pytest.fixture(scope="module")
def chain():
    return ar1(200_000, RHO, np.random.default_rng(12345))


def test_ar1_tau_and_error(chain):
    est = gamma_method(chain)
    assert isinstance(est, Estimate)
    n = chain.size
    assert abs(est.tau_int - TAU_EXACT) < 3 * est.tau_int_error
    assert abs(est.tau_int - TAU_EXACT) < 0.1 * TAU_EXACT
    exact_err = np.sqrt((1 + RHO) / (1 - RHO) / n)
    assert abs(est.error / exact_err - 1) < 0.10
    assert abs(est.value) < 4 * exact_err
    # the naive error would be sqrt(19) too small: make sure we are not returning it
    assert est.error > 3 * chain.std() / np.sqrt(n)


def test_wrappers_consistent(chain):
    tau, dtau = integrated_autocorr_time(chain)
    est = gamma_method(chain)
    assert (tau, dtau) == (est.tau_int, est.tau_int_error)
    assert effective_sample_size(chain) == pytest.approx(chain.size / (2 * tau))
    rho = autocorrelation_function(chain, max_lag=30)
    assert rho.shape == (31,) and rho[0] == 1.0
    np.testing.assert_allclose(rho[1:31], RHO ** np.arange(1, 31), atol=0.03)
    # direct (non-FFT) check of one lag
    d = chain - chain.mean()
    g0, g5 = d @ d / d.size, d[:-5] @ d[5:] / (d.size - 5)
    assert rho[5] == pytest.approx(g5 / g0, rel=1e-9)


def test_uncorrelated_tau_half():
    x = np.random.default_rng(7).standard_normal(50_000)
    est = gamma_method(x)
    assert abs(est.tau_int - 0.5) < 3 * est.tau_int_error + 1e-12
    assert est.error == pytest.approx(x.std() / np.sqrt(x.size), rel=0.05)


def test_replicas_consistent_and_order_preserving():
    rng = np.random.default_rng(99)
    chains = [ar1(25_000, RHO, rng) for _ in range(8)]
    contiguous = np.concatenate(chains)
    labels = np.repeat(np.arange(8), 25_000)
    est = gamma_method(contiguous, replicas=labels)
    assert abs(est.tau_int - TAU_EXACT) < 3 * est.tau_int_error
    exact_err = np.sqrt((1 + RHO) / (1 - RHO) / contiguous.size)
    assert abs(est.error / exact_err - 1) < 0.10
    # interleave the chains row by row: replica masks must recover identical chains
    inter = np.stack(chains, axis=1).reshape(-1)
    inter_labels = np.tile(np.arange(8) * 3 + 5, 25_000)
    est2 = gamma_method(inter, replicas=inter_labels)
    assert est2.tau_int == pytest.approx(est.tau_int, rel=1e-10)
    assert est2.error == pytest.approx(est.error, rel=1e-10)
    # treating the interleaved rows as one chain would destroy the autocorrelation
    assert gamma_method(inter).tau_int < 3


def test_short_replica_caps_window_and_warns(chain):
    data = np.concatenate([chain[:5000], chain[100_000:100_010]])
    labels = np.r_[np.zeros(5000, int), np.ones(10, int)]
    with pytest.warns(RuntimeWarning, match="window"):
        gamma_method(data, replicas=labels)


def test_derived_ratio_of_means():
    rng = np.random.default_rng(2024)
    n = 200_000
    a = 2.0 + ar1(n, 0.9, rng)
    b = 3.0 + ar1(n, 0.8, rng)
    data = np.column_stack([a, b])
    est = gamma_method(data, func=lambda m: m[0] / m[1])
    f = a.mean() / b.mean()
    assert est.value == pytest.approx(f, rel=1e-12)
    # delta method with exact variances of the means: var(mean) = (1+rho)/(1-rho)/N
    var_a, var_b = 19.0 / n, 9.0 / n
    exact = np.sqrt(var_a + f**2 * var_b) / 3.0
    assert abs(est.error / exact - 1) < 0.15
    jk = jackknife(data, func=lambda m: m[0] / m[1], bin_size=500)
    assert abs(est.error / jk.error - 1) < 0.15


def test_derived_vector_func_and_identity():
    rng = np.random.default_rng(5)
    x = 1.0 + ar1(50_000, 0.5, rng)
    data = np.column_stack([x, x**2])
    prim = gamma_method(data)
    assert isinstance(prim, list) and len(prim) == 2
    ests = gamma_method(data, func=lambda m: np.array([m[0], m[1] - m[0] ** 2]))
    assert isinstance(ests, list) and len(ests) == 2
    assert ests[0].value == pytest.approx(prim[0].value, rel=1e-12)
    assert ests[0].error == pytest.approx(prim[0].error, rel=1e-6)
    assert ests[0].tau_int == pytest.approx(prim[0].tau_int, rel=1e-6)
    # variance of AR(1) with rho=0.5 is 1
    assert abs(ests[1].value - 1.0) < 4 * ests[1].error
    scalar = gamma_method(data, func=lambda m: m[1] - m[0] ** 2)
    assert isinstance(scalar, Estimate) and scalar.error == pytest.approx(ests[1].error, rel=1e-9)


def test_constant_data():
    est = gamma_method(np.full(100, 3.0))
    assert (est.value, est.error, est.tau_int) == (3.0, 0.0, 0.5)
    rho = autocorrelation_function(np.full(10, 1.0))
    assert rho[0] == 1.0 and not rho[1:].any()


def test_bad_input():
    x = np.random.default_rng(0).standard_normal((100, 3))
    x[3, 1] = np.nan
    x[7, 1] = np.nan
    x[9, 2] = np.inf
    with pytest.raises(NaNError, match="column 1: 2 NaN"):
        gamma_method(x)
    with pytest.raises(InputError):  # also an InputError
        gamma_method(x)
    with pytest.raises(InputError, match="non-empty"):
        gamma_method(np.array([]))
    with pytest.raises(InputError, match="shape"):
        gamma_method(np.zeros((4, 4, 4)))
    with pytest.raises(InputError, match="replicas"):
        gamma_method(np.zeros(10), replicas=np.zeros(9, int))
    with pytest.raises(InputError, match="S"):
        gamma_method(np.arange(10.0), S=0)
    with pytest.raises(InputError, match="x"):
        integrated_autocorr_time(np.zeros((10, 2)))
    with pytest.raises(InputError, match="max_lag"):
        autocorrelation_function(np.arange(10.0), max_lag=10)
    with pytest.raises(NaNError, match="func"):
        gamma_method(np.arange(10.0), func=lambda m: np.inf * m[0])


def test_estimate_str_and_dict():
    e = Estimate(0.12345, 0.0056, 2.0, 0.1)
    assert str(e) == "0.1235(56)"
    assert str(Estimate(1234.0, 56.0)) == "1234(56)"
    assert str(Estimate(-1.19489e6, 1.1e6)) == "-1.2(11)e+06"     # large errors: scientific, 2 digits of error
    assert str(Estimate(1.0e-9, 2.0e-10)) == "1.00(20)e-09"
    assert "±" in str(Estimate(1.0, 0.0))
    assert e.to_dict() == {"value": 0.12345, "error": 0.0056, "tau_int": 2.0, "tau_int_error": 0.1}


def test_no_warning_for_long_chain(chain):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gamma_method(chain)
