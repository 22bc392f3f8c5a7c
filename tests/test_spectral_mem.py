"""MEM (Bryan) and positive Tikhonov: exact optimality conditions, resolution bounds, the α posterior."""

import math

import numpy as np
import pytest
import torch

from qcdgen.errors import InputError
from qcdgen.inverse.kernels import kernel_matrix, rectangle_weights, svd_basis
from qcdgen.inverse.spectral.mem import MEMConvergenceError, fit_mem, mem_alpha_scan
from qcdgen.inverse.spectral.mock import make_mock, relative_l2
from qcdgen.inverse.spectral.tikhonov import difference_operator, fit_tikhonov

GEN = torch.Generator().manual_seed(0)


pytestmark = pytest.mark.usefixtures("one_thread")


def _noiseless(shape, kernel, rel=1e-5):
    mock = make_mock(shape, kernel=kernel, noise=0.0)
    return mock, rel * mock.clean


def _resolved_projection_error(mock, sigma):
    """‖P ρ_true − ρ_true‖/‖ρ_true‖, P the projector on the singular directions of C^{-1/2}K̃ with s_k > 1.

    The best any *linear* method (truncated SVD) can do with these errors: directions with s_k < 1 move
    the correlator by less than one σ.  MEM must do at least as well (it adds positivity).
    """
    basis = svd_basis(mock.K / (sigma[:, None] * rectangle_weights(mock.omega)[None, :]))
    V = basis.V[:, basis.s > 1.0]
    return relative_l2(V @ (V.T @ mock.rho_true), mock.rho_true)


@pytest.mark.parametrize("kernel", ["kl", "laplace"])
def test_mem_noiseless_breit_wigner_beats_the_resolution_limit(kernel):
    mock, sigma = _noiseless("bw", kernel)
    rho = fit_mem(mock.K, mock.data, sigma, mock.omega, generator=GEN)
    assert rho.dtype == torch.float64 and rho.shape == mock.omega.shape and bool((rho >= 0).all())
    err, limit = relative_l2(rho, mock.rho_true), _resolved_projection_error(mock, sigma)
    # measured: 0.039 (KL) and 0.039 (Laplace) against a truncated-SVD limit of 0.088 and 0.109
    assert err < limit
    assert err < 0.06


def test_mem_tiny_errors_do_not_blow_up():
    """σ = 1e-8 D (the noiseless mock's floor): the α grid must reach very small α and stay finite."""
    mock = make_mock("double", kernel="thermal", noise=0.0)
    rho = fit_mem(mock.K, mock.data, mock.sigma, mock.omega, generator=GEN)
    assert torch.isfinite(rho).all() and bool((rho >= 0).all())
    assert relative_l2(rho, mock.rho_true) < _resolved_projection_error(mock, mock.sigma)


def test_mem_solutions_are_stationary_points_of_q_in_the_full_omega_space():
    """∂Q/∂ρ_j = −α Δω_j ln(ρ_j/m_j) − [Kᵀ C⁻¹ (Kρ − D)]_j = 0 at every ω_j, not only in the SVD subspace."""
    mock = make_mock("bw", kernel="thermal", noise=1e-3, generator=torch.Generator().manual_seed(5))
    res = mem_alpha_scan(mock.K, mock.data, mock.sigma, mock.omega)
    dw = rectangle_weights(mock.omega)
    for i in range(0, len(res.alphas), 5):
        rho = res.rhos[i]
        entropy = float(res.alphas[i]) * dw * torch.log(rho / res.model)
        chi2 = mock.K.T @ ((mock.K @ rho - mock.data) / mock.sigma ** 2)
        assert float((entropy + chi2).norm()) <= 1e-5 * float(chi2.norm() + entropy.norm())
    # the largest α is ten times every λ_k: ρ_α is close to the default model
    assert torch.allclose(res.rhos[-1], res.model, rtol=0.05)


def test_mem_alpha_posterior_is_normalised_and_peaked_inside_the_grid():
    mock = make_mock("bw", kernel="kl", noise=1e-3, generator=torch.Generator().manual_seed(5))
    res = mem_alpha_scan(mock.K, mock.data, mock.sigma, mock.omega, alpha_step=0.05)
    assert float(res.weights.sum()) == pytest.approx(1.0, abs=1e-12) and bool((res.weights >= 0).all())
    assert bool((res.alphas[1:] > res.alphas[:-1]).all())
    i = int(res.log_posterior.argmax())
    assert 0 < i < len(res.alphas) - 1
    assert float(res.log_posterior[0]) < -20 + 1 and float(res.log_posterior[-1]) < -20
    assert torch.allclose(res.rho, (res.weights[:, None] * res.rhos).sum(0))
    # at the evidence maximum −2α̂S = Σ λ/(α̂+λ) = N_good (Gull 1989; exact up to dλ/dα, neglected there)
    assert float(-2 * res.alphas[i] * res.entropy[i]) == pytest.approx(float(res.n_good[i]), rel=0.3)
    # the fit is honest: χ² at the peak is of order n_x − N_good, well below the χ² of the default model
    assert 0.3 * len(mock.x) < float(res.chi2[i]) < 2.0 * len(mock.x) < float(res.chi2[-1])


def test_mem_reports_a_truncated_alpha_grid_and_non_convergence():
    mock = make_mock("bw", kernel="laplace", noise=1e-3, generator=torch.Generator().manual_seed(3))
    args = (mock.K, mock.data, mock.sigma, mock.omega)
    alpha_map = mem_alpha_scan(*args).alpha_map
    with pytest.warns(RuntimeWarning, match="lower end of the alpha grid"):
        mem_alpha_scan(*args, alpha_min=10 * alpha_map)
    with pytest.raises(MEMConvergenceError, match="did not converge"):
        mem_alpha_scan(*args, max_iter=1)


def test_mem_is_deterministic_and_accepts_models_and_priors():
    mock = make_mock("gauss", kernel="laplace", noise=1e-3, generator=torch.Generator().manual_seed(2))
    args = (mock.K, mock.data, mock.sigma, mock.omega)
    assert torch.equal(fit_mem(*args, generator=GEN), fit_mem(*args, generator=torch.Generator().manual_seed(9)))
    flat = fit_mem(*args, generator=GEN, alpha_prior="flat")
    model = fit_mem(*args, generator=GEN, default_model=torch.full_like(mock.omega, 0.05))
    for rho in (flat, model):
        assert torch.isfinite(rho).all() and bool((rho >= 0).all()) and relative_l2(rho, mock.rho_true) < 0.5


def test_tikhonov_is_exact_for_spectra_in_the_null_space_of_the_penalty():
    """ρ linear in ω has L₂ρ = 0 and χ² = 0: it is the unique minimiser for any α (and order 1 for constant ρ)."""
    omega = torch.linspace(0.0, 20.0, 300, dtype=torch.float64)
    K = kernel_matrix("laplace", 0.1 * torch.arange(1, 41, dtype=torch.float64), omega)
    for order, rho_true in ((2, 0.5 + 0.1 * omega), (1, torch.full_like(omega, 0.3))):
        data = K @ rho_true
        sigma = 1e-5 * data
        for alpha in (1e-6, 1.0, 1e6):
            rho = fit_tikhonov(K, data, sigma, omega, generator=GEN, alpha=alpha, order=order)
            assert relative_l2(rho, rho_true) < 1e-6
        with pytest.warns(RuntimeWarning, match="strongest regularisation"):
            rho = fit_tikhonov(K, data, sigma, omega, generator=GEN, order=order)
        assert relative_l2(rho, rho_true) < 1e-6


def test_tikhonov_solution_satisfies_the_kkt_conditions_of_the_positive_problem():
    mock = make_mock("double", kernel="kl", noise=1e-3, generator=torch.Generator().manual_seed(4))
    alpha, order = 1e-3, 2
    rho = fit_tikhonov(mock.K, mock.data, mock.sigma, mock.omega, generator=GEN, alpha=alpha, order=order)
    A = (mock.K / mock.sigma[:, None]).numpy()
    L = difference_operator(mock.omega, order)
    x = rho.numpy()
    grad = A.T @ (A @ x - (mock.data / mock.sigma).numpy()) + alpha * L.T @ (L @ x)
    scale = np.abs(A.T @ (A @ x)).max()
    assert (x >= 0).all()
    assert np.abs(grad[x > 0]).max() <= 1e-7 * scale     # free variables: zero gradient
    assert grad[x == 0].min() >= -1e-7 * scale           # clamped variables: the objective rises into ρ < 0
    assert (x == 0).any()                                 # positivity is active in this case


def test_tikhonov_discrepancy_principle_gives_chi2_per_point_one():
    mock = make_mock("bw", kernel="kl", noise=1e-3, generator=torch.Generator().manual_seed(0))
    rho = fit_tikhonov(mock.K, mock.data, mock.sigma, mock.omega, generator=GEN)
    chi2 = float((((mock.K @ rho - mock.data) / mock.sigma) ** 2).sum())
    assert chi2 / len(mock.x) == pytest.approx(1.0, abs=1e-3)
    assert bool((rho >= 0).all()) and relative_l2(rho, mock.rho_true) < 0.5
    rho = fit_tikhonov(mock.K, mock.data, mock.sigma, mock.omega, generator=GEN, chi2_target=45.0, order=1)
    assert float((((mock.K @ rho - mock.data) / mock.sigma) ** 2).sum()) == pytest.approx(45.0, rel=1e-3)


def test_tikhonov_discrepancy_falls_back_when_positivity_forbids_chi2_n():
    """In this draw the best ρ ≥ 0 has χ² > n_x: aim at χ²_min + √(2 n_x) instead, and say so."""
    mock = make_mock("bw", kernel="kl", noise=1e-3, generator=torch.Generator().manual_seed(1))
    with pytest.warns(RuntimeWarning, match="no alpha reaches"):
        rho = fit_tikhonov(mock.K, mock.data, mock.sigma, mock.omega, generator=GEN)
    chi2 = float((((mock.K @ rho - mock.data) / mock.sigma) ** 2).sum())
    chi2_min = float((((mock.K @ fit_tikhonov(mock.K, mock.data, mock.sigma, mock.omega, generator=GEN, alpha=1e-12)
                        - mock.data) / mock.sigma) ** 2).sum())
    assert chi2_min > len(mock.x)
    assert chi2 == pytest.approx(chi2_min + math.sqrt(2 * len(mock.x)), rel=1e-2)


@pytest.mark.parametrize("fit, kwargs, match", [
    (fit_mem, dict(alpha_prior="uniform"), "alpha_prior"),
    (fit_mem, dict(default_model=-1.0), "default_model"),
    (fit_mem, dict(default_model=[1.0, 2.0]), "default_model"),
    (fit_mem, dict(alpha_step=0.0), "alpha_step"),
    (fit_mem, dict(max_iter=0), "max_iter"),
    (fit_mem, dict(device="tpu"), "device"),
    (fit_tikhonov, dict(alpha=-1.0), "alpha"),
    (fit_tikhonov, dict(order=7), "order"),
    (fit_tikhonov, dict(order=1.5), "order"),
    (fit_tikhonov, dict(chi2_target=0.0), "chi2_target"),
])
def test_methods_refuse_bad_options(fit, kwargs, match):
    mock = make_mock("bw", noise=1e-3)
    with pytest.raises(InputError, match=match):
        fit(mock.K, mock.data, mock.sigma, mock.omega, generator=GEN, **kwargs)


@pytest.mark.parametrize("fit", [fit_mem, fit_tikhonov])
def test_methods_refuse_bad_problems(fit):
    mock = make_mock("bw", noise=1e-3)
    K, D, s, w = mock.K, mock.data, mock.sigma, mock.omega
    with pytest.raises(InputError, match="sigma must be > 0"):
        fit(K, D, 0 * s, w, generator=GEN)
    with pytest.raises(InputError, match="data contains NaN"):
        fit(K, D * math.nan, s, w, generator=GEN)
    with pytest.raises(InputError, match="data must be a vector of length 50"):
        fit(K, D[:-1], s, w, generator=GEN)
    with pytest.raises(InputError, match="omega must be a vector"):
        fit(K, D, s, w[:-1], generator=GEN)
    with pytest.raises(InputError, match="increasing"):
        fit(K, D, s, w.flip(0), generator=GEN)
