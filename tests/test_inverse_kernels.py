"""Kernels of Euclidean correlators: discretised integrals against adaptive quadrature, SVD, bad input."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from qcdgen.errors import InputError
from qcdgen.inverse.kernels import (apply_kernel, condition_number, kernel_function, kernel_matrix, omega_grid,
                                    rectangle_weights, svd_basis)
from qcdgen.inverse.tables import read_columns, write_columns


def breit_wigner(w, A=1.0, M=2.0, G=0.5):
    return 4 * A * G * w / ((M * M + G * G - w * w) ** 2 + 4 * G * G * w * w)


def _quad(kernel, x, rho, lo, hi, T=None):
    def integrand(w):
        return float(kernel_function(kernel, torch.tensor([x], dtype=torch.float64),
                                     torch.tensor([w], dtype=torch.float64), T)[0, 0]) * rho(w)
    return integrate.quad(integrand, lo, hi, points=[2.0], limit=400, epsabs=1e-13)[0]


@pytest.mark.parametrize("kernel,xs,T", [("kl", [0.3, 1.0, 3.0, 8.0], None),
                                         ("laplace", [0.0, 0.2, 1.0, 2.5], None),
                                         ("thermal", [0.0, 0.5, 1.25, 2.5], 0.4)])
def test_rectangle_sum_converges_to_quadrature(kernel, xs, T):
    """K @ rho on a fine uniform grid equals ∫ K ρ dω by adaptive quadrature.

    Full-width cells centred on the grid points make the rectangle sum the midpoint rule on
    [ω₀ − h/2, ω_max + h/2], accurate to O(h²) there.
    """
    lo = 0.0 if kernel != "thermal" else 0.01
    omega = omega_grid(lo, 30.0, 6001)
    h = float(omega[1] - omega[0])
    K = kernel_matrix(kernel, xs, omega, T)
    disc = apply_kernel(K, breit_wigner(omega)).numpy()
    exact = np.array([_quad(kernel, x, breit_wigner, max(lo - h / 2, 0.0), 30.0 + h / 2, T) for x in xs])
    np.testing.assert_allclose(disc, exact, rtol=1e-5)


def test_rectangle_rule_error_falls_with_grid_spacing():
    exact = _quad("kl", 1.0, breit_wigner, 0.0, 20.0)
    errs = [abs(float(kernel_matrix("kl", [1.0], omega_grid(0, 20, n)) @ breit_wigner(omega_grid(0, 20, n)))
                - exact) for n in (101, 201, 401, 801)]
    assert all(b < a for a, b in zip(errs, errs[1:]))


def test_thermal_kernel_limits():
    """T → 0 (β ≫ τ) gives the Laplace kernel; K(τ) = K(β − τ) (KMS symmetry)."""
    omega = torch.linspace(0.5, 10, 50, dtype=torch.float64)
    tau = torch.tensor([0.1, 0.7, 1.3], dtype=torch.float64)
    th = kernel_function("thermal", tau, omega, 1e-3)
    np.testing.assert_allclose(th.numpy(), kernel_function("laplace", tau, omega).numpy(), rtol=1e-12)
    T = 0.25
    a = kernel_function("thermal", tau, omega, T)
    b = kernel_function("thermal", 1 / T - tau, omega, T)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    # the closed form cosh(ω(τ − β/2))/sinh(ωβ/2) at moderate ω
    w, t, beta = omega.numpy(), tau.numpy()[:, None], 1 / T
    np.testing.assert_allclose(a.numpy(), np.cosh(w * (t - beta / 2)) / np.sinh(w * beta / 2), rtol=1e-10)


def test_rectangle_weights_uniform_and_nonuniform():
    w = rectangle_weights(omega_grid(0, 1, 11))
    np.testing.assert_allclose(w.numpy(), 0.1)
    w = rectangle_weights(torch.tensor([0.0, 1.0, 3.0, 4.0], dtype=torch.float64))
    np.testing.assert_allclose(w.numpy(), [1.0, 1.5, 1.5, 1.0])


def test_svd_singular_values_fall_exponentially():
    """The Källén–Lehmann inversion is ill posed: s_k falls by orders of magnitude, so few directions survive."""
    K = kernel_matrix("kl", np.linspace(0.1, 10, 50), omega_grid(0, 20, 500))
    basis = svd_basis(K)
    assert basis.V.shape == (500, basis.rank) and basis.rank < 25
    s = basis.s.numpy()
    assert s[18] / s[0] < 1e-8 and s[6] / s[0] < 1e-2
    np.testing.assert_allclose((basis.V.T @ basis.V).numpy(), np.eye(basis.rank), atol=1e-10)
    assert condition_number(K) > 1e12


@pytest.mark.parametrize("kwargs,match", [
    (dict(kernel="gauss", x=[1.0], omega=[0.0, 1.0]), "--kernel must be one of"),
    (dict(kernel="thermal", x=[0.1], omega=[0.1, 1.0]), "needs --temperature"),
    (dict(kernel="thermal", x=[0.1], omega=[0.0, 1.0], temperature=0.5), "diverges at ω = 0"),
    (dict(kernel="thermal", x=[3.0], omega=[0.1, 1.0], temperature=0.5), r"tau must lie in \[0, 1/T\]"),
    (dict(kernel="laplace", x=[-0.1], omega=[0.0, 1.0]), "tau must be >= 0"),
    (dict(kernel="kl", x=[1.0], omega=[1.0, 0.5]), "strictly increasing"),
    (dict(kernel="kl", x=[0.0], omega=[0.0, 1.0]), "singular at p = 0"),
    (dict(kernel="kl", x=[float("nan")], omega=[0.0, 1.0]), "NaN or inf"),
])
def test_bad_kernel_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        kernel_matrix(kwargs.pop("kernel"), kwargs.pop("x"), kwargs.pop("omega"), **kwargs)


@pytest.mark.parametrize("args,match", [((0, 0, 10), "--omega-max must exceed"), ((-1, 2, 10), "--omega-min must be >= 0"),
                                        ((0, 2, 1), "--omega-points must be an integer >= 2"),
                                        ((0, math.inf, 5), "must be a finite number")])
def test_bad_omega_grid(args, match):
    with pytest.raises(InputError, match=match):
        omega_grid(*args)


def test_tables_round_trip_and_errors(tmp_path):
    cols = {"x": np.array([0.1, 0.2, 1 / 3]), "value": np.array([1.5, -2e-7, 3e10]), "error": np.array([1e-3, 2, 3])}
    path = write_columns(tmp_path / "c.csv", cols, comment="two\nlines")
    back = read_columns(path, ["x", "value", "error"], positive=("error",))
    for k in cols:
        np.testing.assert_allclose(back[k], cols[k], rtol=1e-9)
    bad = tmp_path / "bad.csv"
    for text, match in [("x,value\n1,2\n", "missing column"), ("x,value,error\n1,abc,2\n", r"bad.csv:2: column 'value'"),
                        ("x,value,error\n1,2,-1\n", "must be > 0"), ("", "empty file"),
                        ("x,value,error\n1,2\n", "expected 3 values"), ("x,value,error\n1,nan,1\n", "must be finite")]:
        bad.write_text(text)
        with pytest.raises(InputError, match=match):
            read_columns(bad, ["x", "value", "error"], positive=("error",))
    with pytest.raises(InputError, match="does not exist"):
        read_columns(tmp_path / "nope.csv", ["x"])
