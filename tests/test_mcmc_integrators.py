"""Integrator and HMC properties that must hold exactly or statistically."""

import math

import numpy as np
import pytest
import torch

from qcdgen.lattice.actions import Phi4Action
from qcdgen.mcmc import HMC, DualAveraging, EuclideanKinetic, FourierKinetic, autograd_log_prob_and_grad
from qcdgen.stats import gamma_method

ACTION = Phi4Action(size=8, kappa=0.22, lam=0.05, dim=2)


def analytic(x):
    return ACTION.log_prob(x), ACTION.force(x)


def kinetics():
    return {"euclidean": EuclideanKinetic(), "fourier": FourierKinetic(ACTION.fourier_acceleration_kernel())}


def start_state(hmc, seed=0, chains=8):
    gen = torch.Generator().manual_seed(seed)
    return hmc.init(0.7 * torch.randn((chains, 8, 8), dtype=torch.float64, generator=gen)), gen


@pytest.mark.parametrize("integrator", ["leapfrog", "omelyan"])
@pytest.mark.parametrize("kinetic", ["euclidean", "fourier"])
def test_integrator_is_reversible(integrator, kinetic):
    hmc = HMC(analytic, step_size=0.05, trajectory_length=1.0, integrator=integrator, kinetic=kinetics()[kinetic])
    state, gen = start_state(hmc)
    p0 = hmc.kinetic.sample(state.position, gen)
    end = hmc.trajectory(state, p0)
    back = hmc.trajectory(hmc.init(end.position), -end.momentum)
    torch.testing.assert_close(back.position, state.position, rtol=0, atol=1e-10)
    torch.testing.assert_close(-back.momentum, p0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("integrator", ["leapfrog", "omelyan"])
def test_energy_violation_scales_as_dt_squared(integrator):
    """Second-order integrators: |ΔH| over a fixed trajectory length ∝ dt²."""
    errors, steps = [], []
    for dt in [0.08, 0.04, 0.02, 0.01]:
        hmc = HMC(analytic, step_size=dt, trajectory_length=1.0, integrator=integrator)
        steps.append(hmc.dt)
        state, gen = start_state(hmc, seed=1, chains=32)
        p0 = hmc.kinetic.sample(state.position, gen)
        end = hmc.trajectory(state, p0)
        dh = hmc.hamiltonian(end.log_prob, end.momentum) - hmc.hamiltonian(state.log_prob, p0)
        errors.append(dh.abs().mean().item())
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.15)


def test_omelyan_is_more_accurate_than_leapfrog_per_gradient():
    """At equal cost (gradients per trajectory) Omelyan's ΔH is smaller (Takaishi & de Forcrand)."""
    out = {}
    for integrator, dt in (("leapfrog", 0.05), ("omelyan", 0.1)):
        hmc = HMC(analytic, step_size=dt, integrator=integrator)
        state, gen = start_state(hmc, seed=2, chains=32)
        p0 = hmc.kinetic.sample(state.position, gen)
        end = hmc.trajectory(state, p0)
        out[integrator] = (hmc.hamiltonian(end.log_prob, end.momentum) - hmc.hamiltonian(state.log_prob, p0)).abs().mean()
        assert hmc.gradients_per_trajectory == 20
        assert hmc.n_steps * hmc.dt == pytest.approx(1.0)
    assert out["omelyan"] < 0.5 * out["leapfrog"]


@pytest.mark.parametrize("kinetic", ["euclidean", "fourier"])
def test_creutz_equality_exp_minus_dh_is_one(kinetic):
    """⟨e^{−ΔH}⟩ = 1 in equilibrium (Creutz, PRD 38 (1988) 1228), at a deliberately large step."""
    hmc = HMC(analytic, step_size=0.2, trajectory_length=1.0, integrator="leapfrog", kinetic=kinetics()[kinetic])
    state, gen = start_state(hmc, seed=3, chains=32)
    for _ in range(50):
        state, _ = hmc.step(state, gen)
    values = []
    for _ in range(150):
        state, info = hmc.step(state, gen)
        values.append(torch.exp(-info.delta_h).numpy())
    series = np.stack(values)
    est = gamma_method(series.T.reshape(-1), replicas=np.repeat(np.arange(32), len(values)))
    assert abs(est.value - 1.0) < 3 * est.error
    assert est.error < 0.05  # the test has power: a 5% violation would be seen


def test_fourier_momenta_have_covariance_m_and_velocity_is_grad_k():
    kinetic = FourierKinetic(ACTION.fourier_acceleration_kernel())
    gen = torch.Generator().manual_seed(4)
    like = torch.zeros((20000, 8, 8), dtype=torch.float64)
    p = kinetic.sample(like, gen)
    # ⟨|π̃(p)|²⟩/V = M(p) mode by mode
    power = torch.fft.fftn(p, dim=(1, 2)).abs().pow(2).mean(0) / 64
    kernel = ACTION.fourier_acceleration_kernel()
    assert torch.allclose(power / kernel, torch.ones_like(kernel), atol=0.06)
    # equipartition ⟨K⟩ = V/2 and ∂K/∂π = M⁻¹π
    assert kinetic.energy(p).mean().item() == pytest.approx(32.0, rel=0.01)
    q = p[:3].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(kinetic.energy(q).sum(), q)
    torch.testing.assert_close(grad, kinetic.velocity(p[:3]), rtol=1e-10, atol=1e-12)


def test_autograd_wrapper_matches_analytic_force():
    fn = autograd_log_prob_and_grad(ACTION.log_prob)
    x = torch.randn((2, 8, 8), dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    logp, grad = fn(x)
    torch.testing.assert_close(grad, ACTION.force(x))
    torch.testing.assert_close(logp, ACTION.log_prob(x))


def test_dual_averaging_reaches_target_acceptance():
    hmc = HMC(analytic, step_size=0.9, integrator="leapfrog")
    adapter = DualAveraging(0.9, target=0.75)
    state, gen = start_state(hmc, seed=6, chains=16)
    for _ in range(300):
        state, info = hmc.step(state, gen)
        hmc.step_size = adapter.update(info.acceptance_prob.mean().item())
    hmc.step_size = adapter.final_step_size
    acc = []
    for _ in range(100):
        state, info = hmc.step(state, gen)
        acc.append(info.acceptance_prob.mean().item())
    assert np.mean(acc) == pytest.approx(0.75, abs=0.07)


def test_diverging_trajectory_is_rejected_not_averaged():
    """A step so large that the quartic term blows up must give ΔH = inf and a rejection."""
    hmc = HMC(analytic, step_size=3.0, trajectory_length=30.0, integrator="leapfrog")
    state, gen = start_state(hmc, seed=8, chains=4)
    with np.errstate(all="ignore"):
        new, info = hmc.step(state, gen)
    assert torch.all(torch.isfinite(new.position))
    rejected = ~info.accepted
    assert torch.all(torch.isinf(info.delta_h[rejected]) | (info.delta_h[rejected] > 0))
    assert math.isfinite(new.log_prob.sum().item())
