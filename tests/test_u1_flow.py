"""The gauge-equivariant U(1) flow: circular splines, gauge equivariance, exact log-Jacobians, and training
against the exact torus partition function."""

import math

import numpy as np
import pytest
import torch

from qcdgen.errors import InputError
from qcdgen.flows.circular import circular_spline, n_circular_params
from qcdgen.lattice.u1.action import U1Action, plaquettes, wrap_angle
from qcdgen.lattice.u1.exact import log_partition
from qcdgen.lattice.u1.flow import U1GaugeFlow, stripe_masks, u1_reverse_kl_loss
from qcdgen.mcmc import log_partition_estimate
from qcdgen.mcmc.independence import importance_ess
from qcdgen.train import DatalessSettings, train_dataless

TWO_PI = 2 * math.pi
BINS = 6


def spline_params(n, scale=1.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, n_circular_params(BINS), generator=g, dtype=torch.float64)


def randomised_flow(size, scale=0.1, seed=1, **kwargs):
    """A flow whose output convolutions are no longer zero: a genuinely non-identity map."""
    flow = U1GaugeFlow(size, seed=seed, **kwargs)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype))
    return flow


def gauge_transform(theta, alpha):
    """θ_μ(x) → θ_μ(x) + α(x) − α(x + μ̂); direction 0 is tensor axis −2, direction 1 axis −1."""
    t0 = theta[:, 0] + alpha - torch.roll(alpha, -1, -2)
    t1 = theta[:, 1] + alpha - torch.roll(alpha, -1, -1)
    return torch.stack([t0, t1], dim=1)


def uniform_links(n, size, seed):
    g = torch.Generator().manual_seed(seed)
    return (2 * torch.rand(n, 2, size, size, generator=g, dtype=torch.float64) - 1) * math.pi


# ---------------------------------------------------------------- circular spline

def test_circular_spline_inverts_and_fixes_the_ends():
    params = spline_params(2000)
    x = torch.rand(2000, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * TWO_PI
    y, ld = circular_spline(x, params)
    assert ((y >= 0) & (y <= TWO_PI)).all()
    back, ld_inv = circular_spline(y, params, inverse=True)
    assert torch.allclose(back, x, atol=1e-10)
    assert torch.allclose(ld + ld_inv, torch.zeros_like(ld), atol=1e-9)
    assert (y - x).abs().max() > 0.3  # the random spline is far from the identity

    zeros, full = torch.zeros(2000, dtype=torch.float64), torch.full((2000,), TWO_PI, dtype=torch.float64)
    y0, ld0 = circular_spline(zeros, params)
    y1, ld1 = circular_spline(full, params)
    assert torch.allclose(y0, zeros, atol=1e-12) and torch.allclose(y1, full, atol=1e-12)
    # equal slopes at 0 and 2π: smooth on the circle
    assert torch.allclose(ld0, ld1, atol=1e-12)
    assert ld0.std() > 0.3  # and the end slope is not pinned to 1


def test_circular_spline_is_c1_across_the_seam_and_monotone():
    params = spline_params(200, seed=4)
    eps = 1e-8  # one-sided slopes on both sides of 0 ≡ 2π (the curvature may differ: the map is C¹)
    left, _ = circular_spline(torch.full((200,), TWO_PI - eps, dtype=torch.float64), params)
    right, _ = circular_spline(torch.full((200,), eps, dtype=torch.float64), params)
    _, ld0 = circular_spline(torch.zeros(200, dtype=torch.float64), params)
    assert torch.allclose((right / eps).log(), ld0, atol=1e-3)
    assert torch.allclose(((TWO_PI - left) / eps).log(), ld0, atol=1e-3)

    grid = torch.linspace(0, TWO_PI, 1001, dtype=torch.float64)
    y, _ = circular_spline(grid.expand(200, -1), params.unsqueeze(1).expand(-1, len(grid), -1))
    assert (y.diff(dim=-1) > 0).all()


def test_circular_spline_log_derivative_matches_autograd():
    params = spline_params(500, seed=5)
    x = (torch.rand(500, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) * TWO_PI).requires_grad_()
    y, ld = circular_spline(x, params)
    (dy,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(dy.log(), ld.detach(), atol=1e-10)

    yy = y.detach().requires_grad_()
    xb, ld_inv = circular_spline(yy, params, inverse=True)
    (dx,) = torch.autograd.grad(xb.sum(), yy)
    assert torch.allclose(dx.log(), ld_inv.detach(), atol=1e-8)


def test_zero_parameters_give_the_identity():
    x = torch.linspace(0, TWO_PI, 101, dtype=torch.float64)
    y, ld = circular_spline(x, torch.zeros(101, n_circular_params(BINS), dtype=torch.float64))
    assert torch.allclose(y, x, atol=1e-12) and torch.allclose(ld, torch.zeros_like(ld), atol=1e-12)


# ---------------------------------------------------------------- masks and the flow

@pytest.mark.parametrize("mu", [0, 1])
@pytest.mark.parametrize("offset", range(4))
def test_each_active_link_is_alone_in_its_active_plaquette(mu, offset):
    size = 8
    m = stripe_masks(size, mu, offset)
    links = torch.zeros(1, 2, size, size, dtype=torch.float64)
    links[0, mu][m["links"]] = 1.0
    signed = plaquettes(links)[0]  # signed sum of the active links in each plaquette
    count = (links[0, 0] + torch.roll(links[0, 1], -1, -2) + torch.roll(links[0, 0], -1, -1) + links[0, 1])  # unsigned
    assert (count[m["active"]] == 1).all() and (signed[m["active"]] == 1).all()  # one link, entering with +
    assert (count[m["passive"]] == 1).all()
    assert (count[m["frozen"]] == 0).all()
    assert int(m["active"].sum()) == size * size // 4 and int(m["frozen"].sum()) == size * size // 2


def test_flow_is_gauge_equivariant_with_invariant_density():
    size = 8
    flow = randomised_flow(size)
    z = uniform_links(16, size, seed=7)
    alpha = uniform_links(16, size, seed=8)[:, 0] * 3.0
    assert torch.allclose(plaquettes(gauge_transform(z, alpha)), plaquettes(z), atol=1e-12)
    with torch.no_grad():
        x, ld = flow(z)
        xg, ldg = flow(gauge_transform(z, alpha))
    assert wrap_angle(x - z).abs().max() > 0.3  # the flow moves links
    assert wrap_angle(xg - gauge_transform(x, alpha)).abs().max() < 1e-10
    assert torch.allclose(ldg, ld, atol=1e-10)
    assert ld.std() > 0.5  # a non-trivial, configuration-dependent Jacobian

    theta, log_q = flow.sample(16, torch.Generator().manual_seed(9))
    with torch.no_grad():
        lq_gauge = flow.log_prob(gauge_transform(theta, alpha))
        lq_shift = flow.log_prob(theta + TWO_PI * torch.randint(-2, 3, theta.shape, dtype=torch.float64))
    assert torch.allclose(lq_gauge, log_q, atol=1e-8)
    assert torch.allclose(lq_shift, log_q, atol=1e-8)  # a density on angles mod 2π


@pytest.mark.parametrize("inverse", [False, True])
def test_log_jacobian_matches_the_full_autograd_jacobian(inverse):
    size = 4  # 32 links
    flow = randomised_flow(size, scale=0.2, layers=8, dtype=torch.float64)
    for seed in (10, 11):
        z = uniform_links(1, size, seed)

        def f(v):
            out, _ = (flow.inverse if inverse else flow)(v.view(1, 2, size, size))
            return out.flatten()

        jac = torch.autograd.functional.jacobian(f, z.flatten())
        sign, logabs = torch.linalg.slogdet(jac)
        _, ld = (flow.inverse if inverse else flow)(z)
        assert float(sign) == 1.0
        assert float(logabs) == pytest.approx(float(ld.detach()), abs=1e-8)
        assert abs(float(ld.detach())) > 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_and_log_prob_agree(dtype):
    size = 8
    flow = randomised_flow(size, dtype=dtype)
    theta, log_q = flow.sample(64, torch.Generator().manual_seed(12))
    assert theta.dtype == torch.float64 and log_q.dtype == torch.float64
    assert theta.shape == (64, 2, size, size) and log_q.shape == (64,)
    assert (theta > -math.pi).all() and (theta <= math.pi).all()
    with torch.no_grad():
        assert (flow.log_prob(theta) - log_q).abs().max() < 1e-6
    assert log_q.std() > 0.5

    untrained = U1GaugeFlow(size)  # the identity: the uniform prior
    _, lq0 = untrained.sample(8, torch.Generator().manual_seed(13))
    assert torch.allclose(lq0, torch.full_like(lq0, -2 * size * size * math.log(TWO_PI)), atol=1e-12)


def test_seeded_construction_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = U1GaugeFlow(4, layers=4, seed=3), U1GaugeFlow(4, layers=4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("size", [2, 6, 10, 0, True, 8.0])
def test_sizes_the_masks_cannot_tile_are_refused(size):
    with pytest.raises(InputError, match="--size") as info:
        U1GaugeFlow(size)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- training

def importance(flow, action, n, seed):
    with torch.no_grad():
        theta, log_q = flow.sample(n, torch.Generator().manual_seed(seed))
        return (action.log_prob(theta) - log_q).numpy()


def test_training_raises_the_ess_and_recovers_the_exact_log_z():
    size, beta = 4, 1.0
    action = U1Action(size, beta)
    flow = U1GaugeFlow(size, layers=8, seed=0)
    before = importance_ess(importance(flow, action, 2048, seed=20))

    loss = u1_reverse_kl_loss(action)
    settings = DatalessSettings(steps=120, batch_size=64, lr=0.02, warmup=10, log_every=20, seed=1)
    result = train_dataless(flow, loss, settings, progress=False)
    assert result.restarts == []
    lw = importance(flow, action, 4096, seed=21)
    after = importance_ess(lw)
    assert after > 0.3 and after > 10 * before, (before, after)
    # log Z = log⟨e^{−S}/q⟩ against the exact character expansion (same measure as the prior)
    log_z, err = log_partition_estimate(lw)
    assert abs(log_z - log_partition(beta, size)) < 5 * err + 1e-3
    # the loss is the free energy, bounded below by −log Z (Jensen), approached as q → p
    assert np.mean(-lw) >= -log_partition(beta, size) - 5 * err


def test_path_gradient_loss_has_the_same_value_and_finite_gradients():
    action = U1Action(4, 2.0)
    flow = randomised_flow(4, layers=4)
    values = []
    for path in (False, True):
        flow.zero_grad()
        loss, metrics = u1_reverse_kl_loss(action, path_gradient=path)(flow, 32, torch.Generator().manual_seed(30))
        loss.backward()
        values.append(float(loss.detach()))
        assert set(metrics) >= {"ess", "log_z", "kl"}
        grads = [p.grad for p in flow.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
    assert values[0] == pytest.approx(values[1], abs=1e-8)
