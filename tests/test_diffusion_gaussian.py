"""The diffusion engine on a Gaussian target (the free field), where everything is exact.

For data φ ~ N(0, C) with C = F⁻¹ diag(1/A(p)) F (the free lattice propagator), the noised
marginal is N(0, a(t)²C + s(t)²I) with score −(a²C + s²)⁻¹x, and log p₀ is a Gaussian
integral. The trained network, the probability-flow likelihood and Metropolis are checked
against these closed forms.
"""

import math

import numpy as np
import pytest
import torch

from qcdgen.diffusion import VESDE, VPSDE, ScoreModel, StationaryGaussian, dsm_loss, flow_sample, log_likelihood
from qcdgen.diffusion.flow import drift_and_hutchinson_trace, drift_and_jacobian
from qcdgen.diffusion.sampling import time_grid
from qcdgen.lattice.actions import Phi4Action
from qcdgen.mcmc import independence_metropolis
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.train import TrainSettings, train_model

L, KAPPA = 6, 0.2  # 2D free field, m² = 1/κ − 2d = 1: correlation length ~1 lattice spacing


def free_power() -> torch.Tensor:
    action = Phi4Action(size=L, kappa=KAPPA, lam=0.0, dim=2)
    return 1.0 / action.quadratic_kernel()  # ⟨|φ̃(p)|²⟩/V


def exact_log_density(x: torch.Tensor, power: torch.Tensor, extra_var: float = 0.0) -> torch.Tensor:
    """log N(x; 0, C + extra_var·I) through the Fourier-diagonal covariance."""
    volume = L * L
    var = power + extra_var
    xt = torch.fft.fftn(x.double(), dim=(1, 2))
    quad = (xt.abs() ** 2 / var).flatten(1).sum(1) / volume
    return -0.5 * quad - 0.5 * torch.log(var).sum() - 0.5 * volume * math.log(2 * math.pi)


def sample_free_field(n: int, generator: torch.Generator) -> torch.Tensor:
    white = torch.randn((n, L, L), generator=generator, dtype=torch.float64)
    return torch.fft.ifftn(torch.fft.fftn(white, dim=(1, 2)) * free_power().sqrt(), dim=(1, 2)).real


class Zero(torch.nn.Module):
    def forward(self, x, c):
        return torch.zeros_like(x)


def analytic_model(sde, dtype=torch.float32) -> ScoreModel:
    model = ScoreModel(Zero(), sde, StationaryGaussian(free_power().float()))
    model.gaussian.power = free_power().to(dtype)
    return model


def test_exact_density_helper_against_dense_covariance():
    g = torch.Generator().manual_seed(0)
    x = sample_free_field(3, g)
    kernel = Phi4Action(size=L, kappa=KAPPA, lam=0.0, dim=2)
    # dense C from the propagator: covariance of the samples' generating linear map
    basis = torch.eye(L * L, dtype=torch.float64).reshape(-1, L, L)
    c = torch.fft.ifftn(torch.fft.fftn(basis, dim=(1, 2)) * free_power(), dim=(1, 2)).real.reshape(L * L, L * L)
    dense = torch.distributions.MultivariateNormal(torch.zeros(L * L, dtype=torch.float64), covariance_matrix=c)
    assert torch.allclose(exact_log_density(x, free_power()), dense.log_prob(x.reshape(3, -1)), atol=1e-8)
    assert kernel.volume == L * L


@pytest.fixture(scope="module")
def trained_ve():
    """A score network (no analytic Gaussian part) trained on exact free-field samples."""
    torch.manual_seed(0)
    data = sample_free_field(4096, torch.Generator().manual_seed(1)).float()
    sde = VESDE(sigma=25.0)
    model = ScoreModel(PeriodicScoreCNN(dim=2, channels=24, blocks=2, odd=True), sde)
    result = train_model(model, lambda m, b, g: dsm_loss(m, b, g), data,
                         TrainSettings(steps=700, batch_size=128, lr=3e-3, seed=0), progress=False)
    model.load_state_dict(result.ema_state)
    return model.eval()


@pytest.mark.parametrize("t", [0.05, 0.2, 0.5, 0.9])
def test_trained_score_matches_analytic_noised_gaussian(trained_ve, t):
    sde = trained_ve.sde
    g = torch.Generator().manual_seed(2)
    std = float(sde.marginal_std(torch.tensor(t)))
    x = (sample_free_field(512, g) + std * torch.randn((512, L, L), generator=g, dtype=torch.float64)).float()
    tt = torch.full((512,), t)
    with torch.no_grad():
        learned = trained_ve(x, tt)
        exact = analytic_model(sde)(x, tt)
    rel = ((learned - exact).norm() / exact.norm()).item()
    assert rel < 0.12, f"relative L2 error of the learned score at t={t}: {rel:.3f}"


def test_trained_model_log_likelihood_close_to_exact(trained_ve):
    sde = trained_ve.sde
    x = sample_free_field(32, torch.Generator().manual_seed(3)).float()
    logq = log_likelihood(trained_ve, sde, x, steps=40)
    exact = exact_log_density(x, free_power(), extra_var=float(sde.marginal_std(torch.tensor(sde.eps))) ** 2)
    diff = logq - exact
    # log p varies by ~4 nats between configurations; the learned density tracks it to < 1 nat,
    # with a normalisation offset below 0.5 nat (36 sites, 700 training steps)
    assert exact.std() > 3 and diff.std() < 1.0 and diff.mean().abs() < 0.5, diff
    assert np.corrcoef(logq.numpy(), exact.numpy())[0, 1] > 0.95


@pytest.mark.parametrize("sde", [VESDE(sigma=25.0), VPSDE()], ids=["VE", "VP"])
def test_probability_flow_log_likelihood_is_exact_gaussian(sde):
    x = sample_free_field(8, torch.Generator().manual_seed(4))  # float64: the ODE itself is under test
    model = analytic_model(sde, torch.float64)
    t_end = torch.tensor([sde.eps, sde.T], dtype=torch.float64)
    a, s = sde.mean_coeff(t_end), sde.marginal_std(t_end)

    def exact_marginal(y, i):
        """log N(y; 0, a²C + s²) at t = eps (i=0) or t = T (i=1)."""
        return exact_log_density(y / a[i], free_power(), extra_var=float(s[i] / a[i]) ** 2) - y[0].numel() * torch.log(a[i])

    logq = log_likelihood(model, sde, x, steps=600, prior_log_prob=lambda y: exact_marginal(y, 1))  # Heun: O(N⁻²)
    assert torch.allclose(logq, exact_marginal(x.double(), 0), atol=2e-3), logq - exact_marginal(x.double(), 0)
    # with the SDE's own N(0, s_T²) prior the bias is the prior's mismatch, a fraction of a nat here
    approx = log_likelihood(model, sde, x, steps=50)
    assert (approx - exact_marginal(x.double(), 0)).abs().max() < 0.3


def test_hutchinson_trace_is_unbiased():
    sde = VESDE()
    model = ScoreModel(PeriodicScoreCNN(dim=2, channels=8, blocks=1), sde)
    x = torch.randn(2, L, L)
    t = torch.full((2,), 0.3)
    _, jac = drift_and_jacobian(model, sde, x, t)
    exact = jac.diagonal(dim1=1, dim2=2).sum(1).double()
    _, est = drift_and_hutchinson_trace(model, sde, x, t, torch.Generator().manual_seed(0), probes=4000)
    spread = jac.pow(2).sum((1, 2)).sqrt().double() * 2 / math.sqrt(4000)  # ≥ the estimator's std
    assert ((est - exact).abs() < 3 * spread).all(), (est, exact)


def test_exact_jacobian_matches_finite_differences():
    sde = VESDE()
    model = ScoreModel(PeriodicScoreCNN(dim=2, channels=8, blocks=1), sde).double()
    x = torch.randn(2, L, L, dtype=torch.float64)
    t = torch.full((2,), 0.4, dtype=torch.float64)
    from qcdgen.diffusion.flow import ode_drift
    _, jac = drift_and_jacobian(model, sde, x, t)
    h = 1e-6
    for site in (0, 7, 35):
        e = torch.zeros(L * L, dtype=torch.float64)
        e[site] = h
        e = e.view(1, L, L)
        fd = (ode_drift(model, sde, x + e, t) - ode_drift(model, sde, x - e, t)).flatten(1) / (2 * h)
        assert torch.allclose(jac[:, :, site], fd.detach(), atol=1e-6)


def test_flow_sample_log_q_and_metropolis_with_exact_proposal():
    """With a Gaussian score the Heun map is linear and diagonal in momentum space:
    x₀(k) = m(k) x_T(k), m = Π_steps [1 + h/2 (λ₁ + λ₂ + hλ₁λ₂)], λ = ½g²/(P + s²) (VE).
    So q is exactly N(0, σ_T² m²): the exact-Jacobian log q must reproduce it to round-off.
    Against the true target N(0, C + s(eps)²) Metropolis then accepts ~100%."""
    sde = VESDE(sigma=25.0)
    steps = 64
    model = analytic_model(sde, torch.float64)
    fs = flow_sample(model, sde, (256, L, L), steps=steps, generator=torch.Generator().manual_seed(5),
                     divergence="exact", solver="heun", dtype=torch.float64)
    times = time_grid(sde, steps, "cpu", "edm")
    power = free_power()

    def rate(t):
        return 0.5 * sde.diffusion(t) ** 2 / (power + sde.marginal_std(t) ** 2)

    m = torch.ones_like(power)
    for i in range(steps):
        h = times[i + 1] - times[i]
        l1, l2 = rate(times[i]), rate(times[i + 1])
        m = m * (1 + 0.5 * h * (l1 + l2 + h * l1 * l2))
    pushforward = exact_log_density(fs.x, sde.prior_std() ** 2 * m ** 2)
    assert torch.allclose(fs.log_q, pushforward, atol=1e-8), (fs.log_q - pushforward).abs().max()

    target = exact_log_density(fs.x, power, extra_var=float(sde.marginal_std(torch.tensor(sde.eps))) ** 2)
    chain = independence_metropolis(target - fs.log_q, torch.Generator().manual_seed(6))
    assert chain.acceptance > 0.95 and chain.importance_ess > 0.97
