"""The gauge-equivariant flow of 2D U(1) gauge theory as a lattice sampler: ``qcdgen lattice u1-train / u1-sample``.

Kanwar et al., PRL 125 (2020) 121601: plaquette-masked couplings with circular splines
(:mod:`qcdgen.lattice.u1.flow`), trained by reverse KL on e^{−S} alone, made exact by independence
Metropolis with the flow's exact log q. Training, the model file, sampling with checkpoints, the
Metropolis step, and log Z with its pull against the exact torus value
(:func:`qcdgen.lattice.u1.exact.log_partition`) come from the shared pipeline; the chains report τ_int(Q).
"""

from __future__ import annotations

import torch

from qcdgen.errors import InputError
from qcdgen.lattice.samplers.flow import LatticeFlowModel, evaluate_flow
from qcdgen.lattice.samplers.protocol import LatticeSampler
from qcdgen.lattice.u1.flow import U1GaugeFlow, check_flow_size, u1_reverse_kl_loss
from qcdgen.lattice.u1.flow_settings import U1FlowSettings

MODEL_KIND = "lattice-u1-flow"


class U1FlowSampler(LatticeSampler):
    name = "u1-flow"
    kind = MODEL_KIND
    settings_type = U1FlowSettings
    model_type = LatticeFlowModel

    def check(self, settings, action):
        if action.to_dict()["action"] != "u1":
            raise InputError("the U(1) flow samples U(1) gauge theory; use flow-train for phi^4")
        check_flow_size(action.size)

    def build(self, settings, action, data=None):
        return U1GaugeFlow(action.size, layers=settings.layers, hidden=settings.hidden,
                           kernel_size=settings.kernel_size, bins=settings.bins, seed=settings.seed,
                           prior=settings.prior, beta=action.beta)

    def loss(self, settings, action):
        return u1_reverse_kl_loss(action, path_gradient=settings.path_gradient)

    def work(self, settings, action):
        return settings.batch_size * settings.hidden * action.volume

    def sampling_work(self, model, options):
        return options.batch_size * model.settings.hidden * model.action.volume

    def evaluate(self, module, settings, action, generator):
        return evaluate_flow(module, action, settings.eval_samples, settings.batch_size, generator)

    @torch.no_grad()
    def draw(self, model, n, generator, options):
        return model.module.sample(n, generator)
