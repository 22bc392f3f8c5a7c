"""An exact sampler of the free field, written against the sampler protocol: one module, one registration.

At λ = 0 the action is S = ½ Σ_p A(p)|φ̃(p)|²/V (:meth:`~qcdgen.lattice.actions.Phi4Action.quadratic_kernel`),
so φ = F⁻¹[A(p)^{−1/2} F z] with white noise z is an exact draw of e^{−S}/Z and its density is known:
log q = −S − log Z. The sampler is a flow with one :class:`~qcdgen.flows.SpectralScale` layer set to
a(p) = −½ log A(p), in float64; training by the path-gradient reverse KL leaves it where it is (the
path gradient vanishes at the optimum). Independence Metropolis then accepts every proposal and the
shared log Z estimate equals the exact one (:func:`~qcdgen.lattice.exact.free_log_partition`).

Register it to use it (it is not a study sampler: it knows only the free field)::

    register(FreeGaussianSampler())
"""

from __future__ import annotations

import torch

from qcdgen.errors import InputError
from qcdgen.flows import Flow, SpectralScale, StandardNormal, reverse_kl_loss
from qcdgen.lattice.samplers.protocol import LatticeSampler
from qcdgen.train import DatalessSettings


class FreeGaussianSampler(LatticeSampler):
    name = "gaussian"
    kind = "lattice-free-gaussian"
    settings_type = DatalessSettings  # the optimiser loop's settings are all there is to set

    def make_settings(self, given=None):
        if isinstance(given, DatalessSettings):
            return given
        return super().make_settings({"steps": 2, "batch_size": 64, "warmup": 0, **dict(given or {})})

    def training_settings(self, settings):
        return settings

    def check(self, settings, action):
        if action.lam != 0:
            raise InputError(f"the free Gaussian sampler needs --lam 0, got {action.lam!r}")

    def build(self, settings, action, data=None):
        layer = SpectralScale(action.site_shape).double()
        with torch.no_grad():
            layer.log_scale.copy_(-0.5 * torch.log(action.quadratic_kernel()))
        return Flow(StandardNormal(action.site_shape), [layer])

    def loss(self, settings, action):
        return lambda m, n, g: reverse_kl_loss(m, action.log_prob, n, g, path_gradient=True)

    @torch.no_grad()
    def draw(self, model, n, generator, options):
        return model.module.sample(n, generator)
