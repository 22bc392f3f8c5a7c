"""SDE marginals, network symmetries, samplers, EMA and training resume (no physics domain)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from qcdgen.diffusion import VESDE, VPSDE, ScoreModel, dsm_loss, reverse_sde_sample, sde_from_dict
from qcdgen.diffusion.sampling import time_grid
from qcdgen.errors import InputError, NaNError
from qcdgen.mcmc import MALA, independence_metropolis
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.train import TrainSettings, train_model


@pytest.mark.parametrize("sde", [VESDE(sigma=25.0), VPSDE(beta_min=0.1, beta_max=20.0)], ids=["VE", "VP"])
def test_marginal_std_solves_the_variance_ode(sde):
    """d Var/dt = 2 f'(t) Var + g² with Var(0) = 0 (linear SDE); compare with quadrature."""
    for t in (0.1, 0.5, 1.0):
        def rhs(s, v):
            ts = torch.tensor(s, dtype=torch.float64)
            return [2 * float(sde.drift_jacobian_diagonal(ts)) * v[0] + float(sde.diffusion(ts)) ** 2]
        sol = integrate.solve_ivp(rhs, (0, t), [0.0], rtol=1e-10, atol=1e-12)
        assert math.isclose(sol.y[0, -1], float(sde.marginal_std(torch.tensor(t, dtype=torch.float64))) ** 2,
                            rel_tol=1e-6)
        ratio = sde.noise_ratio(torch.tensor(t, dtype=torch.float64))
        assert math.isclose(float(sde.time_of_noise_ratio(ratio)), t, rel_tol=1e-9)
    assert sde_from_dict(sde.to_dict()).to_dict() == sde.to_dict()


def test_vp_keeps_unit_variance_and_ve_prior_std():
    vp = VPSDE()
    t = torch.linspace(0.01, 1, 7, dtype=torch.float64)
    assert torch.allclose(vp.mean_coeff(t) ** 2 + vp.marginal_std(t) ** 2, torch.ones_like(t))
    ve = VESDE(sigma=25.0)
    assert math.isclose(ve.prior_std(), math.sqrt((25 ** 2 - 1) / (2 * math.log(25))))


def test_edm_time_grid_is_monotone_with_exact_ends():
    for sde in (VESDE(), VPSDE()):
        grid = time_grid(sde, 10, "cpu", "edm")
        assert grid[0] == sde.T and math.isclose(float(grid[-1]), sde.eps) and (grid.diff() < 0).all()


def test_bad_sde_parameters_are_refused():
    with pytest.raises(InputError, match="sigma"):
        VESDE(sigma=1.0)
    with pytest.raises(InputError, match="beta"):
        VPSDE(beta_min=5, beta_max=1)
    with pytest.raises(InputError, match="eps"):
        VESDE(eps=2.0)


def test_network_is_odd_and_translation_equivariant():
    torch.manual_seed(0)
    net = PeriodicScoreCNN(dim=2, channels=8, blocks=2, odd=True)
    x, c = torch.randn(3, 8, 8), torch.randn(3)
    assert torch.allclose(net(-x, c), -net(x, c), atol=1e-6)
    shifted = torch.roll(x, (2, 5), (1, 2))
    assert torch.allclose(net(shifted, c), torch.roll(net(x, c), (2, 5), (1, 2)), atol=1e-5)
    plain = PeriodicScoreCNN(dim=2, channels=8, blocks=2, odd=False)
    assert not torch.allclose(plain(-x, c), -plain(x, c), atol=1e-3)
    for dim in (1, 3):
        assert PeriodicScoreCNN(dim=dim, channels=4, blocks=1)(torch.randn(2, *([4] * dim)), torch.zeros(2)).shape == (2, *([4] * dim))


def test_reverse_sde_samplers_reproduce_a_gaussian():
    """With the exact score of N(0, v I) the reverse SDE (and PC) must return variance v (+ s(eps)²)."""
    sde = VESDE(sigma=25.0)
    v = 0.7

    def score(x, t):
        return -x / (v + sde.marginal_std(t).view(-1, 1) ** 2)

    for corrector in (0, 1):
        x = reverse_sde_sample(score, sde, (4000, 4), 300, torch.Generator().manual_seed(0), corrector_steps=corrector)
        var = x.double().var().item()
        assert abs(var - v) < 5 * v * math.sqrt(2 / x.numel()) + 0.01, (corrector, var)


def test_independence_metropolis_targets_p():
    """Target N(0,1), proposals N(0, 2²): the IMH chain has variance 1 (error from τ_int)."""
    g = torch.Generator().manual_seed(0)
    x = 2 * torch.randn(20000, generator=g, dtype=torch.float64)
    log_w = -0.5 * x ** 2 - (-0.5 * (x / 2) ** 2)
    chain = independence_metropolis(log_w, g, chains=4)
    y = x[chain.index].numpy()
    from qcdgen.stats import gamma_method
    est = gamma_method(y ** 2, replicas=chain.chain)
    assert abs(est.value - 1) < 4 * est.error
    # exact stationary acceptance: ∫∫ p(x) q(y) min(1, w(y)/w(x)), w = p/q ∝ exp(−3x²/8), by quadrature
    grid = np.linspace(-12, 12, 2401)
    dx = grid[1] - grid[0]
    p = np.exp(-grid ** 2 / 2) / np.sqrt(2 * np.pi)
    q = np.exp(-grid ** 2 / 8) / np.sqrt(8 * np.pi)
    logw = -3 * grid ** 2 / 8
    ratio = np.minimum(1.0, np.exp(logw[None, :] - logw[:, None]))
    exact = float(p @ ratio @ q) * dx * dx
    assert chain.acceptance_error > 0
    assert abs(chain.acceptance - exact) < 4 * chain.acceptance_error, (chain.acceptance, exact)
    with pytest.raises(NaNError):
        independence_metropolis(torch.tensor([0.0, float("nan")]), g)


def test_mala_leaves_a_gaussian_invariant_and_relaxes_to_it():
    g = torch.Generator().manual_seed(1)
    sampler = MALA(lambda x: (-0.5 * x.pow(2).sum(1), -x), step_size=0.3)
    state = sampler.init(3 + torch.randn(2000, 5, generator=g, dtype=torch.float64))  # wrong start
    for _ in range(200):
        state, prob = sampler.step(state, g)
    x = state.position
    assert abs(x.mean().item()) < 0.05 and abs(x.var().item() - 1) < 0.05
    assert 0.5 < prob.mean().item() < 1


def test_training_resume_is_bit_identical(tmp_path):
    data = torch.randn(64, 4, 4)
    settings = TrainSettings(steps=12, batch_size=8, lr=1e-3, warmup=2, log_every=3, seed=3)

    def fresh():
        torch.manual_seed(0)
        return ScoreModel(PeriodicScoreCNN(dim=2, channels=4, blocks=1), VESDE())

    loss = lambda m, b, g: dsm_loss(m, b, g)  # noqa: E731
    ref_model = fresh()
    ref = train_model(ref_model, loss, data, settings, progress=False)
    ckpt = tmp_path / "train.ckpt.pt"
    model = fresh()
    with pytest.raises(KeyboardInterrupt):
        train_model(model, loss, data, settings, checkpoint=ckpt, progress=False, stop_after=5)
    assert ckpt.exists()
    model = fresh()
    resumed = train_model(model, loss, data, settings, checkpoint=ckpt, progress=False)
    assert not ckpt.exists()
    np.testing.assert_array_equal(resumed.losses, ref.losses)
    for k, v in ref.ema_state.items():
        assert torch.equal(v, resumed.ema_state[k]), k
    with pytest.raises(KeyboardInterrupt):
        train_model(fresh(), loss, data, settings, checkpoint=ckpt, progress=False, stop_after=2)
    other = TrainSettings(steps=12, batch_size=8, lr=2e-3, warmup=2, log_every=3, seed=3)
    with pytest.raises(InputError, match="other settings"):
        train_model(fresh(), loss, data, other, checkpoint=ckpt, progress=False)


def test_nan_loss_is_reported():
    data = torch.randn(16, 4, 4)
    data[3, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        train_model(ScoreModel(PeriodicScoreCNN(dim=2, channels=4, blocks=1), VESDE()),
                    lambda m, b, g: dsm_loss(m, b, g), data, TrainSettings(steps=2), progress=False)
    with pytest.raises(NaNError, match="training loss"):
        train_model(ScoreModel(PeriodicScoreCNN(dim=2, channels=4, blocks=1), VESDE()),
                    lambda m, b, g: torch.tensor(float("nan"), requires_grad=True),
                    torch.randn(16, 4, 4), TrainSettings(steps=2), progress=False)
