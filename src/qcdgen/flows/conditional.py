"""Conditional normalizing flows as torch Distributions, with seeded sampling (zuko's pattern).

A conditional flow is a module; called with a context c [..., C] it returns p(x | c) as a
:class:`FlowDistribution`, a ``torch.distributions.Distribution``:

    x = f_c⁻¹(z),  z ~ base(c),      log p(x | c) = log base(f_c(x)) + log|det ∂f_c/∂x|,

with ``f_c`` a ``torch.distributions.Transform`` from data to base space (zuko's convention; zuko's
transforms, torch's own, or any Transform with an ``inv`` work). A batch of contexts [E, C] gives a
distribution with batch shape [E]; an unconditional flow is called with ``None``.

Seeded sampling: ``Distribution.sample`` draws from torch's global RNG, which a reproducible pipeline
must not touch. :meth:`FlowDistribution.sample`, :meth:`~FlowDistribution.rsample` and
:meth:`~FlowDistribution.rsample_and_log_prob` take ``generator=``: the base draw is μ + σ ε with
ε ~ N(0, I) from that generator (:func:`seeded_rsample`; bases: Normal, Independent, Uniform, a
TransformedDistribution or another FlowDistribution). The same generator state gives the same samples.

:func:`neural_spline_flow` builds a conditional neural spline flow (Durkan, Bekasov, Murray &
Papamakarios, NeurIPS 2019) from zuko's ``NSF`` through zuko's public API (the lazy transform and
base it is made of); its ``state_dict`` keys are zuko's (``transform.…``, ``base.loc``, ``base.scale``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, Transform, TransformedDistribution, Uniform

__all__ = ["FlowDistribution", "ConditionalFlow", "NormalBase", "neural_spline_flow", "seeded_rsample"]


def _sum_rightmost(x: torch.Tensor, dims: int) -> torch.Tensor:
    return x.reshape(x.shape[:x.dim() - dims] + (-1,)).sum(-1) if dims > 0 else x


def _call_and_ladj(transform: Transform, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(f(x), log|det ∂f/∂x|) in one pass where the transform offers it (zuko's ``call_and_ladj``)."""
    if hasattr(transform, "call_and_ladj"):
        return transform.call_and_ladj(x)
    y = transform(x)
    return y, transform.log_abs_det_jacobian(x, y)


def seeded_rsample(dist: Distribution, sample_shape=(), generator: torch.Generator | None = None):
    """A reparameterised draw of shape ``sample_shape + batch_shape + event_shape`` from ``generator``.

    ``generator=None`` falls back to ``dist.rsample`` (the global RNG). Supported with a generator:
    Normal (μ + σ ε), Independent, Uniform (low + (high − low) u), TransformedDistribution and
    :class:`FlowDistribution`.
    """
    shape = torch.Size(sample_shape)
    if generator is None:
        return dist.rsample(shape) if dist.has_rsample else dist.sample(shape)
    if isinstance(dist, FlowDistribution):
        return dist.rsample(shape, generator=generator)
    if isinstance(dist, Independent):
        return seeded_rsample(dist.base_dist, shape, generator)
    full = shape + dist.batch_shape + dist.event_shape
    if isinstance(dist, Normal):
        mean, std = dist.mean, dist.stddev
        eps = torch.randn(full, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + std * eps
    if isinstance(dist, Uniform):
        u = torch.rand(full, generator=generator, device=dist.low.device, dtype=dist.low.dtype)
        return dist.low + (dist.high - dist.low) * u
    if isinstance(dist, TransformedDistribution):
        x = seeded_rsample(dist.base_dist, shape, generator)
        for t in dist.transforms:
            x = t(x)
        return x
    raise TypeError(f"seeded sampling supports Normal, Independent, Uniform, TransformedDistribution and "
                    f"FlowDistribution bases, not {type(dist).__name__}")


class FlowDistribution(Distribution):
    """p(x) of x = f⁻¹(z), z ~ ``base``; ``transform`` f maps data to base space (see the module doc)."""

    arg_constraints: dict = {}  # noqa: RUF012 (torch's Distribution API)
    has_rsample = True

    def __init__(self, transform: Transform, base: Distribution):
        reinterpreted = transform.codomain.event_dim - len(base.event_shape)
        if reinterpreted > 0:  # a base over scalars under a transform of vectors: its last dims form the event
            base = Independent(base, reinterpreted)
        self.transform, self.base = transform, base
        self.reinterpreted = max(-reinterpreted, 0)  # ladj dims to sum (transform event smaller than the base's)
        super().__init__(validate_args=False)

    @property
    def batch_shape(self) -> torch.Size:
        return self.base.batch_shape

    @property
    def event_shape(self) -> torch.Size:
        # the trailing event dims of x (a transform with per-context parameters also broadcasts batch dims)
        full = self.transform.inverse_shape(self.base.batch_shape + self.base.event_shape)
        rank = self.transform.domain.event_dim + self.reinterpreted
        return full[len(full) - rank:] if rank else torch.Size()

    def expand(self, batch_shape, _instance=None) -> FlowDistribution:
        return FlowDistribution(self.transform, self.base.expand(torch.Size(batch_shape)))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log base(f(x)) + log|det ∂f/∂x|."""
        z, ladj = _call_and_ladj(self.transform, x)
        return self.base.log_prob(z) + _sum_rightmost(ladj, self.reinterpreted)

    def rsample(self, sample_shape=(), generator: torch.Generator | None = None) -> torch.Tensor:
        """x = f⁻¹(z) for z drawn from the base with ``generator`` (differentiable in the parameters)."""
        return self.transform.inv(seeded_rsample(self.base, sample_shape, generator))

    def sample(self, sample_shape=(), generator: torch.Generator | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape, generator)

    def rsample_and_log_prob(self, sample_shape=(),
                             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, log p(x)) with one pass through f⁻¹: log p(x) = log base(z) − log|det ∂f⁻¹/∂z|."""
        z = seeded_rsample(self.base, sample_shape, generator)
        x, ladj = _call_and_ladj(self.transform.inv, z)
        return x, self.base.log_prob(z) - _sum_rightmost(ladj, self.reinterpreted)


class ConditionalFlow(nn.Module):
    """``flow(context) -> FlowDistribution``: a transform module c ↦ f_c and a base module c ↦ base(c).

    Both are called with the context (``None`` for an unconditional flow); the base is expanded to the
    contexts' batch shape, as zuko's flows do.
    """

    def __init__(self, transform: nn.Module, base: nn.Module):
        super().__init__()
        self.transform = transform
        self.base = base

    def forward(self, context: torch.Tensor | None = None) -> FlowDistribution:
        transform = self.transform(context)
        base = self.base(context)
        if context is not None:
            base = base.expand(context.shape[:-1])
        return FlowDistribution(transform, base)


class NormalBase(nn.Module):
    """The base N(0, I) over ``features`` (buffers ``loc``, ``scale``), whatever the context."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("loc", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))

    def forward(self, context: torch.Tensor | None = None) -> Distribution:
        return Independent(Normal(self.loc, self.scale), 1)


def neural_spline_flow(features: int, context: int = 0, transforms: int = 3,
                       hidden: Sequence[int] = (64, 64), **kwargs) -> ConditionalFlow:
    """A (conditional when ``context`` > 0) neural spline flow: zuko's ``NSF`` as a :class:`ConditionalFlow`.

    Extra keyword arguments go to ``zuko.flows.NSF`` (``bins``, ``randperm`` …). Parameters are
    initialised exactly as zuko initialises them, from torch's global RNG.
    """
    import zuko  # only where a spline flow is built: the lattice flows do not need it

    nsf = zuko.flows.NSF(features=features, context=context, transforms=transforms,
                         hidden_features=tuple(hidden), **kwargs)
    return ConditionalFlow(nsf.transform, nsf.base)
