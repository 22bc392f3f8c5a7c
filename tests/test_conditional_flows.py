"""Conditional flows as torch Distributions: exact densities, normalisation, seeded sampling."""

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn
from torch.distributions import AffineTransform, Distribution, Exponential, Normal, TransformedDistribution, Uniform
from torch.distributions.transforms import identity_transform

from qcdgen.flows import ConditionalFlow, FlowDistribution, NormalBase, neural_spline_flow, seeded_rsample

D, C = 2, 3


class AffineNet(nn.Module):
    """c ↦ the transform x ↦ (x − μ(c))/σ(c), with μ, log σ linear in c: p(x | c) = N(μ(c), σ(c)²)."""

    def __init__(self):
        super().__init__()
        self.mu = nn.Linear(C, D).double()
        self.log_sigma = nn.Linear(C, D).double()

    def params(self, c):
        return self.mu(c), self.log_sigma(c).exp()

    def forward(self, c):
        mu, sigma = self.params(c)
        return AffineTransform(-mu / sigma, 1 / sigma, event_dim=1)


@pytest.fixture
def affine():
    torch.manual_seed(1)
    return ConditionalFlow(AffineNet(), NormalBase(D).double())


def contexts(n=4, seed=0):
    return torch.randn(n, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_affine_flow_has_the_gaussian_density(affine):
    c = contexts()
    dist = affine(c)
    assert isinstance(dist, Distribution) and dist.batch_shape == (4,) and dist.event_shape == (D,)
    x = torch.randn(7, 4, D, dtype=torch.float64)
    mu, sigma = affine.transform.params(c)
    exact = Normal(mu, sigma).log_prob(x).sum(-1)
    assert torch.allclose(dist.log_prob(x), exact, rtol=0, atol=1e-12)


def test_identity_flow_is_the_base():
    flow = ConditionalFlow(lambda c: identity_transform, NormalBase(D))
    x = torch.randn(5, D)
    assert torch.allclose(flow().log_prob(x), Normal(0.0, 1.0).log_prob(x).sum(-1))
    assert flow().event_shape == (D,)


@pytest.mark.parametrize("context", [0, 2])
def test_spline_flow_density_integrates_to_one(context):
    torch.manual_seed(3)
    flow = neural_spline_flow(1, context, transforms=2, hidden=(16, 16)).double()
    with torch.no_grad():  # move the splines away from the identity start
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    grid = torch.linspace(-14, 14, 28001, dtype=torch.float64)[:, None]
    cs = [None] if context == 0 else [torch.tensor(v, dtype=torch.float64) for v in ([0.0, 0.0], [1.5, -2.0])]
    for c in cs:
        ctx = None if c is None else c.expand(len(grid), context)
        with torch.no_grad():
            density = flow(ctx).log_prob(grid).exp()
        # trapezoid error ~ h² × (second-derivative jumps at the spline knots): a few 1e-6 here
        assert abs(float(torch.trapezoid(density, grid[:, 0])) - 1.0) < 2e-5


def test_seeded_sampling_is_reproducible_and_leaves_the_global_rng_alone(affine):
    c = contexts(3)
    state = torch.get_rng_state()
    a = affine(c).sample((5,), generator=torch.Generator().manual_seed(9))
    b = affine(c).sample((5,), generator=torch.Generator().manual_seed(9))
    other = affine(c).sample((5,), generator=torch.Generator().manual_seed(10))
    assert torch.equal(torch.get_rng_state(), state)
    assert a.shape == (5, 3, D) and torch.equal(a, b) and not torch.equal(a, other)
    g = torch.Generator().manual_seed(9)
    first, second = affine(c).sample((5,), generator=g), affine(c).sample((5,), generator=g)
    assert torch.equal(first, a) and not torch.equal(second, a)  # the generator advances


def test_seeded_samples_follow_the_density(affine):
    """KS test of 10⁴ seeded draws per dimension against the exact Gaussian of one context."""
    c = contexts(1, seed=5)
    x = affine(c).sample((10_000,), generator=torch.Generator().manual_seed(2))[:, 0]
    mu, sigma = (v.detach() for v in affine.transform.params(c))
    for k in range(D):
        p = stats.kstest(x[:, k].numpy(), stats.norm(float(mu[0, k]), float(sigma[0, k])).cdf).pvalue
        assert p > 1e-3


def test_rsample_is_differentiable_and_rsample_and_log_prob_agrees(affine):
    c = contexts(4)
    x, log_p = affine(c).rsample_and_log_prob((6,), generator=torch.Generator().manual_seed(4))
    assert torch.allclose(log_p, affine(c).log_prob(x), atol=1e-12)
    x.sum().backward()
    assert affine.transform.mu.weight.grad is not None and bool(affine.transform.mu.weight.grad.abs().sum() > 0)
    flow = neural_spline_flow(3, 2, transforms=2, hidden=(8, 8)).double()
    c2 = torch.randn(5, 2, dtype=torch.float64)
    x2, lp2 = flow(c2).rsample_and_log_prob(generator=torch.Generator().manual_seed(1))
    assert x2.shape == (5, 3) and torch.allclose(lp2, flow(c2).log_prob(x2), atol=1e-8)


def test_seeded_rsample_of_plain_torch_distributions():
    def g():
        return torch.Generator().manual_seed(6)

    u = seeded_rsample(Uniform(torch.tensor(2.0), torch.tensor(5.0)), (1000,), g())
    assert torch.equal(u, seeded_rsample(Uniform(torch.tensor(2.0), torch.tensor(5.0)), (1000,), g()))
    assert 2.0 <= float(u.min()) and float(u.max()) <= 5.0
    log_normal = TransformedDistribution(Normal(torch.tensor(0.0), torch.tensor(1.0)),
                                         [torch.distributions.ExpTransform()])
    y = seeded_rsample(log_normal, (4,), g())
    assert torch.allclose(y, seeded_rsample(Normal(torch.tensor(0.0), torch.tensor(1.0)), (4,), g()).exp())
    with pytest.raises(TypeError, match="Exponential"):
        seeded_rsample(Exponential(torch.tensor(1.0)), (3,), g())
    assert seeded_rsample(Normal(0.0, 1.0), (3,)).shape == (3,)  # no generator: the distribution's own rsample


def test_surrogate_prior_keeps_zuko_keys_and_its_seeded_draws():
    """The heavy-ion latent prior: state_dict keys as zuko's NSF wrote them, and the same draws as the
    zuko-internals sampler it replaced (μ + σ ε through the inverse transform)."""
    zuko = pytest.importorskip("zuko")
    from qcdgen.hic.surrogate.prior import LatentPrior

    torch.manual_seed(0)
    prior = LatentPrior(4, 2, transforms=2, hidden=16)
    torch.manual_seed(0)
    ref = zuko.flows.NSF(features=4, context=2, transforms=2, hidden_features=(16, 16))
    assert list(prior.state_dict()) == ["flow." + k for k in ref.state_dict()]
    assert all(torch.equal(v, ref.state_dict()[k[5:]]) for k, v in prior.state_dict().items())
    cond = torch.randn(6, 2)
    dist = ref(cond)
    eps = torch.randn((6, 4), generator=torch.Generator().manual_seed(8))
    old = dist.transform.inv(dist.base.mean + dist.base.stddev * eps)
    with torch.no_grad():
        new = prior.sample(cond, torch.Generator().manual_seed(8))
        assert torch.equal(new, old.detach())
        z = torch.randn(6, 4)
        assert torch.equal(prior.log_prob(z, cond), dist.log_prob(z))
    assert isinstance(prior(cond), FlowDistribution)


def test_unconditional_prior_draws_one_latent_per_row():
    from qcdgen.hic.surrogate.prior import LatentPrior

    prior = LatentPrior(3, 0, transforms=1, hidden=8)
    cond = torch.zeros(5, 0)
    with torch.no_grad():
        z = prior.sample(cond, torch.Generator().manual_seed(1))
        assert torch.equal(z, prior.sample(cond, torch.Generator().manual_seed(1)))
        assert z.shape == (5, 3) and torch.isfinite(prior.log_prob(z, cond)).all()
    assert not np.allclose(z[0].numpy(), z[1].numpy())
