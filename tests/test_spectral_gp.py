"""The Gaussian-process posterior for spectral functions (qcdgen.inverse.spectral.gp).

Exact checks: the posterior against the precision (information) form of the linear-Gaussian posterior, the
evidence against scipy's multivariate normal, the band's coverage when the truth is a draw from the prior
(where the posterior is exact, so 68 % / 95 % bands must cover at their nominal rates), and recovery of
hyperparameters from direct observations. Then the two-peak mock of Wang, Shi, Zhou through the CLI.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from qcdgen.errors import InputError
from qcdgen.inverse.kernels import kernel_matrix
from qcdgen.inverse.spectral.api import Correlator, reconstruct
from qcdgen.inverse.spectral.gp import _prior, gp_posterior, log_evidence
from qcdgen.inverse.spectral.mock import mse, two_peak_paper_mock

HYPER = dict(amplitude=1.0, length=0.8, onset=0.5, falloff=6.0)


def _problem(n_omega=40, n_x=15, noise=1e-3):
    omega = np.linspace(0.1, 8.0, n_omega)
    x = np.linspace(0.2, 4.0, n_x)
    K = kernel_matrix("kl", torch.tensor(x), torch.tensor(omega)).numpy()
    return omega, K, noise * np.abs(K.sum(1))


def _draw_from_prior(omega, rng, n):
    C = _prior(omega, **HYPER)
    root = np.linalg.cholesky(C + 1e-10 * np.trace(C) / len(C) * np.eye(len(C)))
    return (root @ rng.standard_normal((len(omega), n))).T


def test_posterior_equals_the_precision_form():
    """mean = (C⁻¹ + KᵀΣ⁻¹K)⁻¹ KᵀΣ⁻¹D and cov = (C⁻¹ + KᵀΣ⁻¹K)⁻¹: the same posterior by the other route."""
    omega, K, sigma = _problem()
    rng = np.random.default_rng(3)
    data = K @ _draw_from_prior(omega, rng, 1)[0] + sigma * rng.standard_normal(len(sigma))
    post = gp_posterior(K, data, sigma, omega, **HYPER)
    C = _prior(omega, **HYPER)
    precision = np.linalg.inv(C) + K.T @ (K / sigma[:, None] ** 2)
    cov = np.linalg.inv(precision)
    mean = cov @ (K.T @ (data / sigma ** 2))
    scale = np.abs(post.mean).max()
    assert np.abs(post.mean - mean).max() < 1e-5 * scale
    assert np.abs(post.cov - cov).max() < 1e-5 * np.abs(cov).max()


def test_log_evidence_is_the_gaussian_marginal_likelihood():
    omega, K, sigma = _problem()
    rng = np.random.default_rng(4)
    data = K @ _draw_from_prior(omega, rng, 1)[0] + sigma * rng.standard_normal(len(sigma))
    S = K @ _prior(omega, **HYPER) @ K.T + np.diag(sigma ** 2)
    expected = multivariate_normal(mean=np.zeros(len(data)), cov=S).logpdf(data)
    assert log_evidence(K, data, sigma, omega, HYPER) == pytest.approx(expected, abs=1e-6 * abs(expected) + 1e-6)


def test_band_covers_at_nominal_rate_when_truth_is_drawn_from_the_prior():
    """With the right prior and noise the posterior is exact: z = (ρ − mean)/std is N(0, 1) at every ω.
    A posterior built with the noise underestimated 4x must under-cover (the test can fail)."""
    omega, K, sigma = _problem()
    rng = np.random.default_rng(5)
    truths = _draw_from_prior(omega, rng, 300)
    z_right, z_wrong = [], []
    for rho in truths:
        data = K @ rho + sigma * rng.standard_normal(len(sigma))
        right = gp_posterior(K, data, sigma, omega, **HYPER)
        wrong = gp_posterior(K, data, sigma / 4, omega, **HYPER)
        z_right.append((rho - right.mean) / right.std)
        z_wrong.append((rho - wrong.mean) / wrong.std)
    z, zw = np.abs(np.concatenate(z_right)), np.abs(np.concatenate(z_wrong))
    assert np.mean(z < 1.0) == pytest.approx(0.6827, abs=0.03)
    assert np.mean(z < 1.96) == pytest.approx(0.95, abs=0.02)
    assert np.mean(z ** 2) == pytest.approx(1.0, abs=0.1)
    assert np.mean(zw < 1.0) < 0.6


def test_evidence_recovers_hyperparameters_from_direct_observations():
    """K = 1 (noisy values of ρ on the grid): type-II maximum likelihood finds the amplitude and length the
    draws were made with (median over 6 draws, within 25 %)."""
    omega = np.linspace(0.05, 20.0, 200)
    rng = np.random.default_rng(1)
    fits = []
    for rho in _draw_from_prior(omega, rng, 6):
        sigma = np.full(len(omega), 0.05)
        post = gp_posterior(np.eye(len(omega)), rho + sigma * rng.standard_normal(len(omega)), sigma, omega,
                            onset=HYPER["onset"], falloff=HYPER["falloff"])
        fits.append((post.hyper["amplitude"], post.hyper["length"]))
    amplitude, length = np.median(fits, axis=0)
    assert amplitude == pytest.approx(HYPER["amplitude"], rel=0.25)
    assert length == pytest.approx(HYPER["length"], rel=0.25)


def test_two_peak_mock_through_the_api():
    """Wang–Shi–Zhou two-peak mock: the GP mean is close (Σ_ω (ρ − ρ_true)² < 3; MEM ≈ 1.2, NN ≈ 1.4) and
    its band a posterior (members are posterior draws; the 1σ band covers most of the truth)."""
    mock = two_peak_paper_mock(torch.Generator().manual_seed(0))
    corr = Correlator(x=mock.x, value=mock.data, error=mock.sigma, kernel="kl")
    res = reconstruct(corr, mock.omega, "gp", ensemble=16, seed=0, progress=False)
    truth = mock.rho_true.numpy()
    assert res.band == "posterior" and res.members.shape == (16, 500)
    assert mse(torch.as_tensor(res.rho), mock.rho_true) * 500 < 3.0
    assert np.mean((truth >= res.rho_lo) & (truth <= res.rho_hi)) > 0.6
    assert res.chi2_per_point < 2.0


def test_bad_hyperparameters():
    omega, K, sigma = _problem()
    with pytest.raises(InputError, match="length"):
        gp_posterior(K, K @ np.ones(len(omega)), sigma, omega, length=-1.0)
    with pytest.raises(InputError, match="unknown GP hyperparameter"):
        gp_posterior(K, K @ np.ones(len(omega)), sigma, omega, width=1.0)


def test_cli_gp_band_and_bad_flag(tmp_path):
    mock = two_peak_paper_mock(torch.Generator().manual_seed(1))
    corr = tmp_path / "corr.csv"
    corr.write_text("x,value,error\n" + "".join(f"{x:.8g},{v:.12g},{e:.6g}\n" for x, v, e in
                                                zip(mock.x.tolist(), mock.data.tolist(), mock.sigma.tolist())))
    out = tmp_path / "rho.csv"
    base = [sys.executable, "-m", "qcdgen", "inverse", "spectral", str(corr), "--kernel", "kl", "--omega-min",
            "0.04", "--omega-max", "20", "--omega-points", "200", "--out", str(out), "--no-progress"]
    proc = subprocess.run(base + ["--method", "gp"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "posterior band" in proc.stdout
    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    table = np.genfromtxt(lines, delimiter=",", names=True)
    assert (table["rho_lo"] <= table["rho"]).all() and (table["rho"] <= table["rho_hi"]).all()
    assert "GP posterior mean" in out.read_text()
    proc = subprocess.run(base + ["--method", "mem", "--marginalise"], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
