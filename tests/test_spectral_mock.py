"""Mock spectral suite: shapes against closed forms, mock correlators against quadrature, metrics."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

from qcdgen.errors import InputError
from qcdgen.inverse.kernels import kernel_function
from qcdgen.inverse.spectral.mock import (NOISELESS_SIGMA, SHAPES, breit_wigner, default_omega, double_peak,
                                          gaussian_peak, kl_divergence, make_mock, mse, relative_l2)


def _t(values) -> torch.Tensor:
    return torch.tensor(np.atleast_1d(values), dtype=torch.float64)


def _area(rho_fn, peak):
    """∫₀^∞ ρ dω by adaptive quadrature, split at the peak and at 4× the peak."""
    f = lambda w: float(rho_fn(_t(w))[0])  # noqa: E731
    return sum(quad(f, a, b, limit=400, epsabs=0, epsrel=1e-13)[0]
               for a, b in ((0, peak), (peak, 4 * peak), (4 * peak, np.inf)))


def test_breit_wigner_area_and_peak_match_closed_forms():
    A, M, G = 1.3, 2.0, 0.5
    # ∫₀^∞ ρ dω = (A/M) [π/2 + arctan((M² − Γ²)/(2MΓ))]  (y = ω², then an arctan integral)
    area = _area(lambda w: breit_wigner(w, A, M, G), M)
    assert area == pytest.approx(A / M * (math.pi / 2 + math.atan((M ** 2 - G ** 2) / (2 * M * G))), rel=1e-8)
    # dρ/dω = 0 at ω² = [(2a − b) + √((2a − b)² + 12a²)]/6, a = M² + Γ², b = 4Γ²
    a, b = M ** 2 + G ** 2, 4 * G ** 2
    w_peak = math.sqrt(((2 * a - b) + math.sqrt((2 * a - b) ** 2 + 12 * a ** 2)) / 6)
    w = torch.linspace(w_peak - 0.01, w_peak + 0.01, 20001, dtype=torch.float64)
    assert float(w[breit_wigner(w, A, M, G).argmax()]) == pytest.approx(w_peak, abs=2e-6)


def test_gaussian_and_double_peak_shapes():
    A, M, width = 0.7, 3.0, 0.4
    area = _area(lambda w: gaussian_peak(w, A, M, width), M)
    exact = A * width * math.sqrt(2 * math.pi) * 0.5 * (1 + math.erf(M / (width * math.sqrt(2))))
    assert area == pytest.approx(exact, rel=1e-10)
    w = default_omega("kl")
    assert torch.equal(double_peak(w), breit_wigner(w, 0.8, 2.0, 0.5) + breit_wigner(w, 1.0, 5.0, 0.5))
    rho = double_peak(w).numpy()
    interior_maxima = w[1:-1][(rho[1:-1] > rho[:-2]) & (rho[1:-1] > rho[2:])].numpy()
    assert len(interior_maxima) == 2 and abs(interior_maxima[0] - 2) < 0.2 and abs(interior_maxima[1] - 5) < 0.2
    assert set(SHAPES) == {"bw", "gauss", "double"}
    assert breit_wigner(w).dtype == torch.float64 and gaussian_peak(w.numpy()).dtype == torch.float64


def _quad_correlator(kernel, x, temperature, rho_fn, a, b):
    def f(w):
        return (kernel_function(kernel, _t(x), _t(w), temperature)[0] * rho_fn(_t(w))).numpy()
    exact = quad(lambda w: float(f(w)[0]), a, b, points=[2.0], limit=400, epsabs=0, epsrel=1e-13)[0]
    return exact, f


@pytest.mark.parametrize("kernel, temperature, xs", [("kl", None, [0.1, 1.0, 7.0]),
                                                     ("laplace", None, [0.1, 1.0, 4.0]),
                                                     ("thermal", 0.1, [0.5, 2.0, 5.0])])
def test_clean_correlator_is_the_rectangle_rule_of_the_integral(kernel, temperature, xs):
    """clean_i = Σ_j K ρ Δω_j = trapezoid rule + (h/2)(f(a) + f(b)); the trapezoid error is ≤ (b−a) h² max|f''|/12."""
    for omega in (default_omega(kernel), torch.linspace(float(default_omega(kernel)[0]), 20.0, 20001,
                                                        dtype=torch.float64)):
        mock = make_mock("bw", kernel=kernel, noise=0.0, x=xs, omega=omega, temperature=temperature)
        a, b, h = float(omega[0]), float(omega[-1]), float(omega[1] - omega[0])
        for i, x in enumerate(xs):
            exact, f = _quad_correlator(kernel, x, mock.temperature, breit_wigner, a, b)
            fine = np.linspace(a, b, 4001)
            f2 = np.abs(np.gradient(np.gradient(f(fine), fine), fine)).max()
            ends = 0.5 * h * float(f(a)[0] + f(b)[0])  # full-width end cells: trapezoid + h/2 (f(a) + f(b))
            trapezoid = (b - a) * h ** 2 * f2 / 12
            assert abs(float(mock.clean[i]) - exact) <= 1.5 * (abs(ends) + trapezoid) + 1e-13 * abs(exact)
            assert abs(float(mock.clean[i]) - exact - ends) <= 1.5 * trapezoid + 1e-13 * abs(exact)


def test_noise_pulls_are_standard_normal():
    gen = torch.Generator().manual_seed(7)
    pulls = torch.cat([(m.data - m.clean) / m.sigma for m in
                       (make_mock("double", kernel="laplace", noise=1e-3, generator=gen) for _ in range(60))])
    n = pulls.numel()
    assert abs(float(pulls.mean())) < 4 / math.sqrt(n)
    assert abs(float(pulls.var()) - 1) < 4 * math.sqrt(2 / n)
    mock = make_mock("bw", noise=1e-2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(mock.sigma, 1e-2 * mock.clean, rtol=1e-15, atol=0)


def test_noiseless_mock_and_reproducibility():
    mock = make_mock("gauss", kernel="thermal", noise=0)
    assert torch.equal(mock.data, mock.clean)
    assert torch.allclose(mock.sigma, NOISELESS_SIGMA * mock.clean, rtol=1e-15, atol=0)
    assert mock.temperature == 0.1 and float(mock.omega[0]) > 0 and float(mock.x.max()) <= 1 / mock.temperature
    assert torch.allclose(mock.clean, mock.K @ mock.rho_true, rtol=1e-14, atol=0)
    one = make_mock("bw", noise=1e-3, generator=torch.Generator().manual_seed(3))
    two = make_mock("bw", noise=1e-3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(one.data, two.data)
    assert torch.equal(make_mock("bw").data, make_mock("bw").data)  # generator None: a fixed seed
    assert make_mock("bw", kernel="kl", temperature=0.2).temperature is None
    assert len(make_mock("bw").x) == 50 and len(make_mock("bw").omega) == 500


def test_mse_and_relative_l2():
    rho = breit_wigner(default_omega("kl"))
    assert mse(rho, rho) == 0 and relative_l2(rho, rho) == 0
    assert mse(rho + 0.25, rho) == pytest.approx(0.0625, rel=1e-12)
    assert relative_l2(1.5 * rho, rho) == pytest.approx(0.5, rel=1e-12)


def test_kl_divergence_properties_and_gaussian_closed_form():
    w = torch.linspace(0.0, 20.0, 4001, dtype=torch.float64)
    p = gaussian_peak(w, 1.0, 8.0, 1.0)
    assert kl_divergence(p, p, w) == 0.0
    assert kl_divergence(p, 3.0 * p, w) == pytest.approx(0.0, abs=1e-14)  # spectra are normalised
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        q = torch.rand(w.shape, generator=gen, dtype=torch.float64)
        assert kl_divergence(p, q, w) > 0 and kl_divergence(q, p, w) > 0
    # KL(N(μ1, s1) ‖ N(μ2, s2)) = ln(s2/s1) + (s1² + (μ1 − μ2)²)/(2 s2²) − 1/2
    mu1, s1, mu2, s2 = 8.0, 1.0, 9.0, 1.5
    exact = math.log(s2 / s1) + (s1 ** 2 + (mu1 - mu2) ** 2) / (2 * s2 ** 2) - 0.5
    got = kl_divergence(gaussian_peak(w, 1.0, mu1, s1), gaussian_peak(w, 2.0, mu2, s2), w, floor=1e-30)
    assert got == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape="lorentz"), "bw, gauss, double"),
    (dict(shape="bw", noise=-0.1), "noise"),
    (dict(shape="bw", noise=1.0), r"\[0, 1\)"),
    (dict(shape="bw", noise=float("nan")), "noise"),
    (dict(shape="bw", noise="1e-3"), "noise"),
    (dict(shape="bw", kernel="gauss"), "kernel"),
    (dict(shape="bw", kernel="thermal", temperature=-1.0), "temperature"),
    (dict(shape="bw", kernel="thermal", omega=[0.0, 1.0, 2.0]), "thermal"),
    (dict(shape="bw", omega=[3.0, 2.0, 1.0]), "increasing"),
    (dict(shape=lambda w: -w), ">= 0"),
])
def test_make_mock_refuses_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_mock(**kwargs)


def test_shapes_and_metrics_refuse_bad_input():
    w = default_omega("kl")
    with pytest.raises(InputError, match="Gamma"):
        breit_wigner(w, Gamma=0.0)
    with pytest.raises(InputError, match="width"):
        gaussian_peak(w, width=-1.0)
    with pytest.raises(InputError, match="same length"):
        mse(w, w[:-1])
    with pytest.raises(InputError, match="NaN"):
        mse(w * float("nan"), w)
    with pytest.raises(InputError, match=">= 0"):
        kl_divergence(breit_wigner(w), breit_wigner(w) - 0.5, w)
    with pytest.raises(InputError, match="zero area"):
        kl_divergence(breit_wigner(w), torch.zeros_like(w), w)
