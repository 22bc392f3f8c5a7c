"""The flow engine: exact inverses and Jacobians, Z2 equivariance, log q, the path gradient."""

import math

import pytest
import torch

from qcdgen.flows import (AffineCoupling, Flow, SpectralScale, SplineCoupling, StandardNormal, checkerboard,
                          rational_quadratic_spline, reverse_kl_loss)
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_log_partition

pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread is fastest
SITE = (4, 4)


def randomise(module, scale=0.4, seed=0):
    """Non-trivial parameters (the layers start as the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


LAYERS = {
    "affine": lambda z2: AffineCoupling(SITE, 0, channels=4, hidden=1, z2=z2),
    "affine-linear": lambda z2: AffineCoupling(SITE, 1, channels=4, hidden=0, z2=z2),
    "rqs": lambda z2: SplineCoupling(SITE, 1, channels=4, hidden=1, z2=z2, bins=5, bound=2.0),
    "spectral": lambda z2: SpectralScale(SITE),
}


def make_flow(z2=True, dtype=torch.float64, seed=0):
    layers = [SpectralScale(SITE), AffineCoupling(SITE, 0, channels=4, z2=z2),
              SplineCoupling(SITE, 1, channels=4, z2=z2, bins=4, bound=2.5), AffineCoupling(SITE, 0, channels=4, z2=z2)]
    return randomise(Flow(StandardNormal(SITE), layers), scale=0.3, seed=seed).to(dtype)


def test_checkerboard_alternates_and_covers_the_lattice():
    a, b = checkerboard((4, 4), 0), checkerboard((4, 4), 1)
    assert torch.equal(a + b, torch.ones(4, 4)) and a.sum() == 8
    assert torch.equal(torch.roll(a, 1, 0), b) and torch.equal(torch.roll(a, 1, 1), b)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("z2", [True, False])
def test_inverse_and_log_jacobian_are_exact(name, z2):
    # the spline with milder parameters: slopes near MIN_DERIVATIVE make any float32 inverse ill-conditioned
    layer = randomise(LAYERS[name](z2), scale=0.2 if name == "rqs" else 0.4)
    g = torch.Generator().manual_seed(1)
    x = 1.5 * torch.randn(16, *SITE, generator=g)  # spline: some sites beyond the bound (identity tails)
    y, log_j = layer(x)
    back, log_j_inv = layer.inverse(y)
    assert (back - x).abs().max() < 1e-5
    assert (log_j + log_j_inv).abs().max() < 1e-4
    layer = layer.double()
    for i in range(3):
        x0 = x[i].double().reshape(-1)
        jac = torch.autograd.functional.jacobian(lambda v: layer(v.reshape(1, *SITE))[0].reshape(-1), x0)
        assert torch.linalg.slogdet(jac)[1].item() == pytest.approx(layer(x0.reshape(1, *SITE))[1].item(), abs=1e-10)


def test_whole_flow_jacobian_and_log_q():
    flow = make_flow()
    g = torch.Generator().manual_seed(2)
    z = torch.randn(1, *SITE, generator=g, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v.reshape(1, *SITE))[0].reshape(-1), z.reshape(-1))
    assert torch.linalg.slogdet(jac)[1].item() == pytest.approx(flow(z)[1].item(), abs=1e-10)
    x, log_q = flow.sample(64, torch.Generator().manual_seed(3))
    assert torch.allclose(log_q, flow.log_prob(x), atol=1e-9, rtol=0)
    flow32 = make_flow(dtype=torch.float32)
    x, log_q = flow32.sample(64, torch.Generator().manual_seed(3))
    assert torch.allclose(log_q, flow32.log_prob(x), atol=1e-3, rtol=0)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_z2_equivariance(name):
    layer = randomise(LAYERS[name](True)).double()
    x = torch.randn(8, *SITE, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    y, log_j = layer(x)
    y_minus, log_j_minus = layer(-x)
    assert torch.allclose(y_minus, -y, atol=1e-12, rtol=0)
    assert torch.allclose(log_j_minus, log_j, atol=1e-12, rtol=0)


def test_z2_flow_is_odd_and_the_unsymmetrised_one_is_not():
    x = torch.randn(8, *SITE, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    odd = make_flow(z2=True)
    assert torch.allclose(odd(-x)[0], -odd(x)[0], atol=1e-12) and torch.allclose(odd.log_prob(-x), odd.log_prob(x))
    plain = make_flow(z2=False)
    assert not torch.allclose(plain(-x)[0], -plain(x)[0], atol=1e-3)


def test_spline_is_monotone_identity_outside_and_at_zero_parameters():
    bins = 6
    params = torch.randn(1, 3 * bins - 1, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    x = torch.linspace(-4, 4, 20001, dtype=torch.float64)
    y, log_d = rational_quadratic_spline(x, params.expand(len(x), -1), bound=3.0)
    assert (torch.diff(y) > 0).all()
    outside = x.abs() > 3.0
    assert torch.equal(y[outside], x[outside]) and (log_d[outside] == 0).all()
    numeric = torch.diff(y) / torch.diff(x)
    assert torch.allclose(numeric.log(), 0.5 * (log_d[1:] + log_d[:-1]), atol=2e-3)
    y0, log_d0 = rational_quadratic_spline(x, torch.zeros(len(x), 3 * bins - 1, dtype=torch.float64), bound=3.0)
    assert torch.allclose(y0, x, atol=1e-12) and log_d0.abs().max() < 1e-12


def free_flow_at_the_optimum(action, perturb=0.0):
    """SpectralScale with a(p) = −½ log A(p): exactly the free-field Gaussian (plus identity couplings)."""
    flow = Flow(StandardNormal(action.site_shape),
                [SpectralScale(action.site_shape), AffineCoupling(action.site_shape, 0, channels=4)]).double()
    with torch.no_grad():
        a = -0.5 * torch.log(action.quadratic_kernel())
        a += perturb * torch.randn(a.shape, generator=torch.Generator().manual_seed(7), dtype=a.dtype)
        flow.layers[0].log_scale.copy_(a)
    return flow


def test_exact_free_field_flow_gives_the_exact_log_partition_function():
    action = Phi4Action(size=4, kappa=0.2, lam=0.0)
    flow = free_flow_at_the_optimum(action)
    x, log_q = flow.sample(256, torch.Generator().manual_seed(8))
    # log q(x) + S(x) = −log Z for every sample when q = e^{−S}/Z
    assert torch.allclose(log_q + action(x), torch.full_like(log_q, -free_log_partition(4, 0.2, 2)), atol=1e-10)


def _gradients(flow, action, path_gradient, batches, batch_size=128, seed=9):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(batches):
        flow.zero_grad()
        loss, metrics = reverse_kl_loss(flow, action.log_prob, batch_size, g, path_gradient=path_gradient)
        loss.backward()
        out.append(torch.cat([p.grad.reshape(-1) for p in flow.parameters()]))
    return torch.stack(out), metrics


def test_path_gradient_has_the_same_expectation_as_the_standard_one():
    action = Phi4Action(size=4, kappa=0.2, lam=0.3)
    flow = randomise(Flow(StandardNormal(SITE), [SpectralScale(SITE), AffineCoupling(SITE, 0, channels=4),
                                                 SplineCoupling(SITE, 1, channels=4, bins=4)]), 0.3, 10).double()
    std, _ = _gradients(flow, action, False, 30, batch_size=64)
    path, _ = _gradients(flow, action, True, 30, batch_size=64)  # same seed: the same samples x
    diff = std - path  # the score term, mean zero
    noise = diff.var(0).sum() / len(diff)  # E‖mean diff‖² if the expectations agree
    assert (diff.mean(0) ** 2).sum() < 4 * noise
    assert (std.mean(0) ** 2).sum() > 20 * noise  # the test has power: the gradient is far from noise


def test_path_gradient_sticks_the_landing():
    action = Phi4Action(size=4, kappa=0.2, lam=0.0)
    exact = free_flow_at_the_optimum(action)
    path, metrics = _gradients(exact, action, True, 8)
    std, _ = _gradients(exact, action, False, 8)
    assert path.abs().max() < 1e-9 and std.var(0).sum() > 1e-3  # zero variance at q = p, not the standard one
    assert metrics["ess"] == pytest.approx(1.0, abs=1e-12) and abs(metrics["kl"]) < 1e-10
    near = free_flow_at_the_optimum(action, perturb=0.05)
    path, _ = _gradients(near, action, True, 16)
    std, _ = _gradients(near, action, False, 16)
    assert path.var(0).sum() < 0.1 * std.var(0).sum()


def test_reverse_kl_metrics_are_consistent():
    action = Phi4Action(size=4, kappa=0.2, lam=0.0)
    flow = free_flow_at_the_optimum(action, perturb=0.2)
    loss, metrics = reverse_kl_loss(flow, action.log_prob, 512, torch.Generator().manual_seed(11))
    assert metrics["kl"] == pytest.approx(float(loss.detach()) + metrics["log_z"])
    assert metrics["kl"] >= 0 and 0 < metrics["ess"] < 1  # Jensen on the batch; not yet exact
    assert float(loss.detach()) > -free_log_partition(4, 0.2, 2) - 0.05  # F_q >= −log Z up to noise


def test_prior_density():
    prior = StandardNormal(SITE)
    z = prior.sample(5, torch.Generator().manual_seed(12), dtype=torch.float64)
    ref = torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1)
    assert torch.allclose(prior.log_prob(z), ref) and z.shape == (5, *SITE) and z.dtype == torch.float64
    assert math.isclose(float(prior.log_prob(torch.zeros(1, *SITE))), -8 * math.log(2 * math.pi), rel_tol=1e-6)
