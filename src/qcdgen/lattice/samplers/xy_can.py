"""The continuous autoregressive network of the XY model as a lattice sampler: ``qcdgen lattice xy-train / xy-sample``.

Wang, Jiang, He & Zhou, CPL 39 (2022) 120502: a PixelCNN with von Mises mixture conditionals
(:mod:`qcdgen.lattice.xy.can`), trained by reverse KL on e^{−H/T} alone, made exact by independence
Metropolis with its exact log q. Training, the model file, sampling with checkpoints and the Metropolis
step come from the shared pipeline; the chains report τ_int(|M|). No exact log Z is known for L > 2.
"""

from __future__ import annotations

import torch

from qcdgen.errors import InputError
from qcdgen.lattice.samplers.flow import LatticeFlowModel, evaluate_flow
from qcdgen.lattice.samplers.protocol import LatticeSampler
from qcdgen.lattice.xy.can_settings import XYCANSettings, check_can_size

MODEL_KIND = "lattice-xy-can"


class XYCANSampler(LatticeSampler):
    name = "xy-can"
    kind = MODEL_KIND
    settings_type = XYCANSettings
    model_type = LatticeFlowModel

    def check(self, settings, action):
        if action.to_dict()["action"] != "xy":
            raise InputError("the CAN samples the XY model; use flow-train for phi^4 and u1-train for U(1)")
        check_can_size(action.size, settings.kernel_size)

    def build(self, settings, action, data=None):
        from qcdgen.lattice.xy.can import CAN

        return CAN(action.size, channels=settings.channels, depth=settings.depth, kernel_size=settings.kernel_size,
                   components=settings.components, seed=settings.seed)

    def loss(self, settings, action):
        from qcdgen.lattice.xy.can import can_reverse_kl_loss

        return can_reverse_kl_loss(action)

    def work(self, settings, action):
        return settings.batch_size * settings.channels * action.volume

    def sampling_work(self, model, options):
        return options.batch_size * model.settings.channels * model.action.volume

    def evaluate(self, module, settings, action, generator):
        return evaluate_flow(module, action, settings.eval_samples, settings.batch_size, generator)

    @torch.no_grad()
    def draw(self, model, n, generator, options):
        return model.module.sample(n, generator)
