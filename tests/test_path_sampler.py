"""The path-sampler engine against exact answers: Jarzynski, kernel densities, training, Z₂.

Targets with a known normaliser: a shifted diagonal Gaussian (log Z = Σ log(√(2π) s_i)) and
a 1D double well e^{−x⁴ + 3x²} (log Z by quadrature).
"""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from qcdgen.diffusion.trajectory_balance import (MLPDrift, PathSampler, gaussian_log_density, path_loss, sample_work,
                                           work_summary)
from qcdgen.errors import InputError, NaNError
from qcdgen.train import DatalessSettings, train_dataless

pytestmark = pytest.mark.usefixtures("one_thread")

SCALES = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
SHIFT = torch.tensor([0.3, -0.5, 1.0], dtype=torch.float64)
GAUSS_LOG_Z = float(torch.log(math.sqrt(2 * math.pi) * SCALES).sum())


def gauss_log_r(x):
    return -0.5 * (((x - SHIFT) / SCALES) ** 2).sum(1)


def gauss_grad(x):
    return -(x - SHIFT) / SCALES ** 2


def well_log_r(x):
    return (-x ** 4 + 3 * x ** 2).sum(1)


def well_grad(x):
    return -4 * x ** 3 + 6 * x


WELL_LOG_Z = math.log(integrate.quad(lambda x: math.exp(-x ** 4 + 3 * x ** 2), -math.inf, math.inf,
                                     epsabs=0, epsrel=1e-12)[0])


def gaussian_sampler(**kw):
    return PathSampler(gauss_log_r, gauss_grad, (3,), MLPDrift(3, hidden=32), MLPDrift(3, hidden=32), **kw)


def well_sampler(**kw):
    return PathSampler(well_log_r, well_grad, (1,), MLPDrift(1, hidden=32, odd=True),
                       MLPDrift(1, hidden=32, odd=True), **kw)


def randomise(sampler, seed, scale=0.05):
    """Non-zero drifts everywhere (Jarzynski must hold for any drift, not only the trained one).

    Kept moderate: a wild drift leaves regions of the target barely covered, and then the
    weights e^{−W} are so heavy-tailed that the delta-method error of log Z is not to be trusted.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in sampler.parameters():
            if p is not sampler.log_z_raw:
                p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return sampler


def randomise_module(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def within(summary, exact, sigmas=3.0):
    return abs(summary["log_z"] - exact) < sigmas * summary["log_z_error"]


@pytest.mark.parametrize("make", [lambda: gaussian_sampler(time_steps=10, sigma=2.0),
                                  lambda: randomise(gaussian_sampler(time_steps=6, sigma=1.5, sigma0=1.5), 2, 0.1)],
                         ids=["zero-drift", "random-drift"])
def test_jarzynski_is_exact_on_a_gaussian(make):
    torch.manual_seed(0)
    sampler = make()
    _, work = sample_work(sampler, 20000, torch.Generator().manual_seed(2))
    s = work_summary(work)
    assert s["ess"] > 0.02  # the delta-method error is trustworthy
    assert within(s, GAUSS_LOG_Z), (s, GAUSS_LOG_Z)
    assert s["mean_work"] > -GAUSS_LOG_Z  # <W> = KL − log Z >= −log Z


@pytest.mark.parametrize("randomised", [False, True])
def test_jarzynski_is_exact_on_a_double_well(randomised):
    torch.manual_seed(0)
    sampler = well_sampler(time_steps=8, sigma=1.0, sigma0=1.0)
    if randomised:
        randomise(sampler, 3)
    _, work = sample_work(sampler, 20000, torch.Generator().manual_seed(4))
    s = work_summary(work)
    assert s["ess"] > 0.05
    assert within(s, WELL_LOG_Z), (s, WELL_LOG_Z)


class KnownDrift(torch.nn.Module):
    """net(x, t) = sin(x)(1 + t), written out again in the test."""

    def forward(self, x, t):
        return torch.sin(x) * (1 + t.view(-1, 1))


def test_kernel_densities_match_independent_gaussians():
    sigma, sigma0, k_steps = 0.7, 1.3, 4
    sampler = PathSampler(gauss_log_r, gauss_grad, (3,), KnownDrift(), KnownDrift(), time_steps=k_steps,
                          sigma=sigma, sigma0=sigma0, grad_clip=1.5)
    c_r, c_x = 0.4, -0.2
    with torch.no_grad():
        sampler.coefficients.net[-1].bias.copy_(torch.tensor([c_r, c_x]))
    dt = 1 / k_steps
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(5, 3, generator=g, dtype=torch.float64)  # large: the clip is active somewhere
    y = x + 0.3 * torch.randn(5, 3, generator=g, dtype=torch.float64)
    k = 2
    xn, yn = x.numpy(), y.numpy()
    grad = np.clip(gauss_grad(x).numpy(), -1.5, 1.5)
    assert (np.abs(gauss_grad(x).numpy()) > 1.5).any()
    f = np.sin(xn) * (1 + k * dt) + c_r * grad + c_x * xn
    cov = sigma ** 2 * dt * np.eye(3)
    expect_f = [stats.multivariate_normal(xn[i] + f[i] * dt, cov).logpdf(yn[i]) for i in range(5)]
    b = -sigma ** 2 * yn / (sigma0 ** 2 + sigma ** 2 * (k + 1) * dt) + np.sin(yn) * (1 + (k + 1) * dt)
    expect_b = [stats.multivariate_normal(yn[i] + b[i] * dt, cov).logpdf(xn[i]) for i in range(5)]
    with torch.no_grad():
        np.testing.assert_allclose(sampler.log_forward_kernel(y, x, k).numpy(), expect_f, rtol=1e-6)
        np.testing.assert_allclose(sampler.log_backward_kernel(x, y, k).numpy(), expect_b, rtol=1e-6)
        np.testing.assert_allclose(sampler.log_prior(x).numpy(),
                                   stats.multivariate_normal(np.zeros(3), sigma0 ** 2 * np.eye(3)).logpdf(xn))


def test_the_work_of_a_rollout_is_assembled_from_its_kernels():
    sampler = randomise(gaussian_sampler(time_steps=3, sigma=0.9, sigma0=1.1), 5)
    x_k, work = sampler.sample(4, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)  # replay the same noise
    with torch.no_grad():
        x = 1.1 * torch.randn((4, 3), generator=g, dtype=torch.float64)
        expect = sampler.log_prior(x)
        for k in range(3):
            nxt = x + sampler.forward_drift(x, k) * sampler.dt + 0.9 * math.sqrt(sampler.dt) * torch.randn(
                (4, 3), generator=g, dtype=torch.float64)
            expect = expect + sampler.log_forward_kernel(nxt, x, k) - sampler.log_backward_kernel(x, nxt, k)
            x = nxt
        expect = expect - gauss_log_r(x)
    torch.testing.assert_close(x_k, x)
    torch.testing.assert_close(work, expect)


def _var_work(sampler, seed):
    return float(sample_work(sampler, 4000, torch.Generator().manual_seed(seed))[1].var())


@pytest.mark.parametrize("target", ["gaussian", "double-well"])
def test_training_shrinks_the_work_variance_and_learns_log_z(target):
    torch.manual_seed(0)
    if target == "gaussian":
        sampler, exact, loss = gaussian_sampler(time_steps=8, sigma=1.0), GAUSS_LOG_Z, "tb"
    else:
        sampler, exact, loss = well_sampler(time_steps=8, sigma=1.0), WELL_LOG_Z, "logvar"
    before = _var_work(sampler, 1)
    result = train_dataless(sampler, lambda m, n, g: path_loss(m, n, g, loss),
                            DatalessSettings(steps=200, batch_size=128, lr=1e-2, warmup=10), progress=False)
    assert set(result.metrics) == {"ess", "log_z", "log_z_tb", "mean_work"}
    after = _var_work(sampler, 2)
    assert after < before / 10, (before, after)
    _, work = sample_work(sampler, 10000, torch.Generator().manual_seed(3))
    s = work_summary(work)
    assert within(s, exact), (s, exact)
    assert s["ess"] > 0.5
    log_z_tb = float(sampler.log_z.detach())
    # log Z_θ → −<W> = log Z − KL: close to log Z, from below by about Var(W)/2
    assert log_z_tb == pytest.approx(-s["mean_work"], abs=0.1)
    assert -0.05 < exact - log_z_tb < 0.6 * after + 0.1, (exact, log_z_tb, after)


def test_odd_drifts_make_the_sampler_z2_equivariant():
    sampler = randomise(well_sampler(time_steps=4), 0)
    x = torch.randn(6, 1, dtype=torch.float64)
    with torch.no_grad():
        for k in range(4):
            torch.testing.assert_close(sampler.forward_drift(-x, k), -sampler.forward_drift(x, k))
            torch.testing.assert_close(sampler.backward_drift(-x, k + 1), -sampler.backward_drift(x, k + 1))
    net, t, y = randomise_module(MLPDrift(4, odd=True)), torch.rand(6), torch.randn(6, 4)
    torch.testing.assert_close(net(-y, t), -net(y, t))
    assert not torch.allclose(net(y, t), torch.zeros_like(y))


def test_a_nan_work_is_refused_not_averaged():
    sampler = PathSampler(lambda x: torch.where(x[:, 0] > 0, math.nan, 0.0), lambda x: torch.zeros_like(x), (2,),
                          MLPDrift(2))
    with pytest.raises(NaNError, match="non-finite work"):
        sampler.sample(64, torch.Generator().manual_seed(0))
    with pytest.raises(NaNError):
        work_summary(torch.tensor([1.0, math.nan, 2.0]))


def test_bad_settings_are_input_errors():
    with pytest.raises(InputError, match="time_steps"):
        gaussian_sampler(time_steps=0)
    with pytest.raises(InputError, match="sigma"):
        gaussian_sampler(sigma=-1.0)
    with pytest.raises(InputError, match="--loss"):
        path_loss(gaussian_sampler(), 4, torch.Generator(), loss="kl")


def test_gaussian_log_density_normalisation():
    r = torch.randn(3, 2, 2, dtype=torch.float64)
    expect = stats.norm(0, 0.5).logpdf(r.numpy()).reshape(3, -1).sum(1)
    np.testing.assert_allclose(gaussian_log_density(r, 0.25).numpy(), expect)
