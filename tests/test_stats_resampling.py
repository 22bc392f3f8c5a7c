"""Binning, jackknife and blocking checked against analytic errors."""

import warnings

import numpy as np
import pytest
import scipy.signal

from qcdgen.errors import InputError, NaNError
from qcdgen.stats import (
    Estimate,
    bin_data,
    blocking_error,
    gamma_method,
    jackknife,
    naive_error,
)


def ar1(n, rho, rng):
    eps = rng.standard_normal(n)
    return scipy.signal.lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], eps, zi=[rho * rng.standard_normal()])[0]


def test_bin_data_respects_replicas():
    x = np.arange(7.0)
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    b, lab = bin_data(x, 2, replicas=labels)
    np.testing.assert_array_equal(b, [0.5, 3.5, 5.5])
    np.testing.assert_array_equal(lab, [0, 1, 1])
    # interleaved replicas: bins built from each replica's own samples in order
    labels = np.array([1, 0, 1, 0, 1, 0, 1])
    b, lab = bin_data(np.column_stack([x, -x]), 2, replicas=labels)
    np.testing.assert_array_equal(b[:, 0], [1.0, 5.0, 2.0])
    np.testing.assert_array_equal(lab, [1, 1, 0])
    assert b.shape == (3, 2) and np.all(b[:, 1] == -b[:, 0])


def test_iid_errors_agree():
    rng = np.random.default_rng(11)
    x = 3.0 + 2.0 * rng.standard_normal(40_000)
    naive = naive_error(x)
    assert naive == pytest.approx(x.std(ddof=1) / np.sqrt(x.size))
    assert naive == pytest.approx(2.0 / np.sqrt(x.size), rel=0.03)
    jk = jackknife(x)
    assert isinstance(jk, Estimate)
    assert jk.error == pytest.approx(naive, rel=1e-10)  # exact identity for the mean
    plateau, sizes, errs = blocking_error(x)
    assert sizes[0] == 1 and np.all(np.diff(sizes) > 0) and errs[0] == pytest.approx(naive)
    assert abs(plateau / naive - 1) < 0.10
    g = gamma_method(x)
    assert abs(g.error / naive - 1) < 0.10
    assert abs(g.tau_int - 0.5) < 3 * g.tau_int_error


def test_blocking_recovers_correlated_error():
    rng = np.random.default_rng(3)
    n = 2**18
    x = ar1(n, 0.9, rng)
    exact = np.sqrt(19.0 / n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plateau, sizes, errs = blocking_error(x)
    assert abs(plateau / exact - 1) < 0.15
    assert errs[0] < 0.3 * exact  # naive error is badly underestimated


def test_blocking_warns_without_plateau():
    x = np.cumsum(np.random.default_rng(1).standard_normal(2000))  # random walk: no plateau
    with pytest.warns(RuntimeWarning, match="plateau"):
        blocking_error(x)


def test_jackknife_nonlinear_vs_delta_method():
    rng = np.random.default_rng(21)
    n = 20_000
    mu, sigma = 2.0, 1.5
    x = mu + sigma * rng.standard_normal(n)
    # f = mean^2: delta-method error 2 |mean| s / sqrt(N)
    jk = jackknife(x[:, None], func=lambda m: m[0] ** 2)
    delta = 2 * abs(x.mean()) * x.std(ddof=1) / np.sqrt(n)
    assert jk.value == pytest.approx(x.mean() ** 2)
    assert jk.error == pytest.approx(delta, rel=0.01)
    # variance from (<x>, <x^2>): Gaussian error sigma^2 sqrt(2/N)
    data = np.column_stack([x, x**2])
    var = jackknife(data, func=lambda m: m[1] - m[0] ** 2)
    assert var.value == pytest.approx(x.var(), rel=1e-10)
    assert abs(var.error / (sigma**2 * np.sqrt(2.0 / n)) - 1) < 0.10
    gm = gamma_method(data, func=lambda m: m[1] - m[0] ** 2)
    assert abs(gm.error / var.error - 1) < 0.10


def test_jackknife_bias_correction():
    # f = mean^2 has bias sigma^2/N; the jackknife-corrected value removes it exactly
    x = np.random.default_rng(4).standard_normal(50)
    jk = jackknife(x, func=lambda m: m[0] ** 2, bias_corrected=True)
    unbiased = x.mean() ** 2 - x.var(ddof=1) / x.size
    assert jk.value == pytest.approx(unbiased, rel=1e-9, abs=1e-12)


def test_jackknife_vector_and_replicas():
    rng = np.random.default_rng(8)
    data = rng.standard_normal((1000, 2))
    labels = np.repeat([0, 1], 500)
    out = jackknife(data, bin_size=10, replicas=labels)
    assert isinstance(out, list) and len(out) == 2
    out2 = jackknife(data, func=lambda m: np.array([m[0], m[1]]), bin_size=10, replicas=labels)
    for a, b in zip(out, out2):
        assert a.value == pytest.approx(b.value) and a.error == pytest.approx(b.error)


def test_bad_input():
    with pytest.raises(InputError, match="bin_size"):
        bin_data(np.arange(10.0), 0)
    with pytest.raises(InputError, match="bin_size"):
        jackknife(np.arange(10.0), bin_size=2.5)
    with pytest.raises(InputError, match="bin_size"):
        bin_data(np.arange(10.0), 11)
    with pytest.raises(InputError, match="non-empty"):
        jackknife(np.zeros((0, 2)))
    with pytest.raises(InputError, match="shape"):
        blocking_error(np.zeros((10, 2)))
    x = np.arange(10.0)
    x[4] = np.nan
    for fn in (naive_error, blocking_error, jackknife):
        with pytest.raises(NaNError, match="1 NaN"):
            fn(x)
    with pytest.raises(InputError, match="2 bins"):
        jackknife(np.arange(10.0), bin_size=6)


def test_blocking_with_replicas_interleaved():
    rng = np.random.default_rng(17)
    chains = [ar1(2**14, 0.8, rng) for _ in range(4)]
    contiguous = np.concatenate(chains)
    p1, s1, e1 = blocking_error(contiguous, replicas=np.repeat(np.arange(4), 2**14))
    inter = np.stack(chains, axis=1).reshape(-1)
    p2, s2, e2 = blocking_error(inter, replicas=np.tile(np.arange(4), 2**14))
    np.testing.assert_allclose(e1, e2, rtol=1e-12)
    assert p1 == pytest.approx(p2, rel=1e-12)
    assert abs(p1 / np.sqrt(9.0 / contiguous.size) - 1) < 0.15
