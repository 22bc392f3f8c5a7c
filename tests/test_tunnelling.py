"""Broken-phase tunnelling tools: flip counting, τ_int of signed M, exact hybrid chains."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qcdgen.errors import InputError
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_chi2, two_site_expectation
from qcdgen.lattice.flow_settings import FlowSettings
from qcdgen.lattice.samplers import train_lattice_sampler
from qcdgen.lattice.tunnelling import (analyse_series, cost_per_independent, hmc_signed_m, hybrid_signed_m,
                                       imh_signed_m, sector_flips, sectors, signed_m_autocorrelation,
                                       telegraph_tau)


def telegraph(p: float, steps: int, chains: int, noise: float, seed: int) -> np.ndarray:
    """Signed M of a telegraph process: the sign flips with probability p per step, |M| = 1 + noise."""
    rng = np.random.default_rng(seed)
    flips = rng.random((steps, chains)) < p
    sign = np.where(np.cumsum(flips, axis=0) % 2 == 0, 1.0, -1.0) * rng.choice([-1.0, 1.0], size=chains)
    return sign * (1.0 + noise * rng.standard_normal((steps, chains)))


def test_flip_counter_exact_on_handmade_series():
    m = np.array([0.1, 1.0, 0.2, -0.3, 0.4, 1.2, -0.2, -1.1, -0.9, 0.3, 0.0, 1.5])
    # sectors with m_c = 0.5: undefined, +, +, +, +, +, +, −, −, −, −, +  -> two flips
    assert sectors(m, 0.5)[:, 0].tolist() == [0, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, 1]
    stats = sector_flips(m, threshold=0.5)
    assert stats.flips == 2 and stats.time == 11
    assert stats.mean_time == pytest.approx(5.5)
    assert stats.is_bound  # fewer than MIN_FLIPS
    # without hysteresis every sign change would count
    assert sector_flips(m, threshold=0.0).flips == 4


def test_no_flips_gives_the_poisson_lower_bound():
    m = np.abs(np.random.default_rng(0).normal(1.0, 0.2, size=(1001, 3)))
    stats = sector_flips(m)
    assert stats.flips == 0 and stats.is_bound and math.isinf(stats.mean_time)
    assert stats.lower_bound == pytest.approx(3000 / 2.9957, rel=1e-3)  # −ln(0.05) expected flips at 95 % CL


def test_telegraph_dwell_time_and_tau_within_errors():
    p = 0.02
    m = telegraph(p, steps=20000, chains=4, noise=0.15, seed=1)
    stats = sector_flips(m)
    assert stats.flips > 1000 and not stats.is_bound
    assert abs(stats.mean_time - 1 / p) < 3 * stats.error
    auto = signed_m_autocorrelation(m)
    assert auto.window_found
    expected = telegraph_tau(1 / p, 1.0, 1.0 + 0.15 ** 2)
    assert abs(auto.tau_int.value - expected) < 3 * auto.tau_int.error
    assert abs(auto.m.value) < 3 * auto.m.error
    assert auto.m2.value == pytest.approx(1.0 + 0.15 ** 2, rel=0.01)


def test_frozen_series_is_reported_as_a_bound():
    m = telegraph(1e-4, steps=4000, chains=2, noise=0.1, seed=2)  # expect < 1 flip in total
    from qcdgen.lattice.tunnelling import SignedMSeries

    row = analyse_series(SignedMSeries("frozen", m, seconds_per_step=1e-3, acceptance=1.0), size=8)
    assert row.tau_is_bound and row.flips.is_bound
    assert row.tau_int.value >= telegraph_tau(row.flips.lower_bound, row.stats.abs_m.value, row.stats.m2.value)
    assert row.cost.value == pytest.approx(2 * row.tau_int.value * 1e-3)


def test_cost_per_independent():
    assert cost_per_independent(1e-3, 5.0).value == pytest.approx(1e-2)
    amortised = cost_per_independent(1e-3, 5.0, 0.5, train_seconds=100.0, amortise_over=1e4)
    assert amortised.value == pytest.approx(2 * 5.0 * (1e-3 + 1e-2))
    assert amortised.error == pytest.approx(2 * 0.5 * (1e-3 + 1e-2))
    with pytest.raises(InputError):
        cost_per_independent(1e-3, 5.0, amortise_over=0)


def test_hmc_free_field_m2():
    action = Phi4Action(size=4, kappa=0.2, lam=0.0)
    series = hmc_signed_m(action, trajectories=1500, chains=8, thermalize=100, fourier=True, seed=3)
    row = analyse_series(series, action.size)
    exact_m2 = free_chi2(4, 0.2, 2) / action.volume
    assert abs(row.stats.m2.value - exact_m2) < 3 * row.stats.m2.error
    assert abs(row.stats.m.value) < 3 * row.stats.m.error
    assert series.seconds_per_step > 0 and 0.3 < series.acceptance <= 1


class GaussianProposal:
    """Independent N(0, s²) sites: Z₂-symmetric, covers both sectors, log q exact."""

    def __init__(self, site_shape, scale):
        self.site_shape, self.scale = tuple(site_shape), scale

    def sample(self, n, generator):
        z = torch.randn((n, *self.site_shape), dtype=torch.float64, generator=generator)
        return self.scale * z, self.log_prob(self.scale * z)

    def log_prob(self, x):
        v = x.flatten(1)
        return (-0.5 * (v / self.scale) ** 2 - math.log(self.scale) - 0.5 * math.log(2 * math.pi)).sum(1)


@pytest.mark.parametrize("hmc_per_cycle", [0, 1])
def test_hybrid_chain_is_exact_on_two_sites(hmc_per_cycle):
    # d = 1, L = 2 in a double well: (1 − 2λ) − 2κ < 0, so ⟨M⟩ = 0 only through tunnelling
    kappa, lam = 0.6, 0.1
    action = Phi4Action(size=2, kappa=kappa, lam=lam, dim=1)
    exact_m2 = two_site_expectation(kappa, lam, lambda a, b: (0.5 * (a + b)) ** 2)
    exact_abs = two_site_expectation(kappa, lam, lambda a, b: abs(0.5 * (a + b)))
    series = hybrid_signed_m(action, GaussianProposal(action.site_shape, 2.0), cycles=1500, chains=32,
                             hmc_per_cycle=hmc_per_cycle, thermalize=50, seed=5)
    stats = signed_m_autocorrelation(series.m)
    assert abs(stats.m2.value - exact_m2) < 3 * stats.m2.error
    assert abs(stats.abs_m.value - exact_abs) < 3 * stats.abs_m.error
    assert abs(stats.m.value) < 3 * stats.m.error
    assert 0.05 < series.acceptance < 0.95
    assert sector_flips(series.m).flips > 100


def test_hybrid_without_the_current_log_q_would_be_biased():
    """The test above has power: a proposal that ignores log q(x) at the current state is visibly wrong."""
    kappa, lam = 0.6, 0.1
    action = Phi4Action(size=2, kappa=kappa, lam=lam, dim=1)
    exact_m2 = two_site_expectation(kappa, lam, lambda a, b: (0.5 * (a + b)) ** 2)

    class Broken(GaussianProposal):  # log q reported as constant: the step then targets p·q, not p
        def sample(self, n, generator):
            x, _ = super().sample(n, generator)
            return x, torch.zeros(n, dtype=torch.float64)

        def log_prob(self, x):
            return torch.zeros(len(x), dtype=torch.float64)

    series = hybrid_signed_m(action, Broken(action.site_shape, 2.0), cycles=1500, chains=32, hmc_per_cycle=0,
                             thermalize=0, seed=5)
    stats = signed_m_autocorrelation(series.m)
    assert abs(stats.m2.value - exact_m2) > 5 * stats.m2.error


def test_z2_flow_proposals_give_zero_signed_m(tmp_path):
    action = Phi4Action(size=4, kappa=0.3, lam=0.022)
    settings = FlowSettings(layers=2, channels=4, steps=30, batch_size=64, eval_samples=64, warmup=5, z2=True)
    model = train_lattice_sampler("flow", action, tmp_path / "flow.pt", settings, progress=False)
    series = imh_signed_m(model, configs=2000, chains=4, batch_size=500, seed=1)
    stats = signed_m_autocorrelation(series.m)
    assert abs(stats.m.value) < 3 * stats.m.error
    assert sector_flips(series.m).flips > 20
    row = analyse_series(series, action.size)
    assert row.train_seconds > 0 and row.amortised[10_000].value > row.cost.value
    hybrid = hybrid_signed_m(action, model.module, cycles=200, chains=4, hmc_per_cycle=1, thermalize=20, seed=2)
    assert hybrid.m.shape == (200, 4) and 0 < hybrid.acceptance <= 1


def test_zero_mode_spline_is_odd_invertible_with_exact_log_det():
    from qcdgen.lattice.samplers.flow import ZeroModeSpline, build_flow

    torch.manual_seed(0)
    layer = ZeroModeSpline((4, 4)).double()
    with torch.no_grad():
        layer.params.normal_()
    x = 0.7 * torch.randn(6, 4, 4, dtype=torch.float64)
    y, log_det = layer(x)
    back, inverse_log_det = layer.inverse(y)
    assert torch.allclose(back, x, atol=1e-12) and torch.allclose(log_det, -inverse_log_det, atol=1e-12)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v.view(1, 4, 4))[0].flatten(), x[0].flatten())
    assert torch.logdet(jac).item() == pytest.approx(log_det[0].item(), abs=1e-10)
    minus, minus_log_det = layer(-x)
    assert torch.allclose(minus, -y, atol=1e-12) and torch.allclose(minus_log_det, log_det, atol=1e-12)
    # only the zero mode moves
    assert torch.allclose((y - x).flatten(1).std(1), torch.zeros(6, dtype=torch.float64), atol=1e-12)
    assert type(build_flow(FlowSettings(zero_mode=True), (4, 4)).layers[0]) is ZeroModeSpline
    assert not any(type(m) is ZeroModeSpline for m in build_flow(FlowSettings(), (4, 4)).layers)
