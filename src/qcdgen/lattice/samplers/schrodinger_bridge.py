"""Schrödinger-bridge sampler for φ⁴ trained on an HMC ensemble (``qcdgen lattice sb-train`` / ``sb-sample``).

The bridge between N(0, I) and the HMC configurations with reference process σ dW is learned as its
probability-flow ODE by [SF]²M-style bridge matching (Tong et al., AISTATS 2024;
:mod:`qcdgen.diffusion.schrodinger_bridge`): every training batch is paired with fresh noise by the
minibatch entropic OT plan (ε = 2σ², ``coupling="sinkhorn"``) and the network regresses the Brownian-
bridge velocity. This variant was built rather than iterative proportional fitting (De Bortoli et al.
2021) because its sampler is an ODE: log q is exact (as for flow matching, which it reduces to as
σ → 0 with the independent coupling) and independence Metropolis against e^{−S} corrects it exactly.

Network, symmetries, analytic Gaussian part (the closed-form bridge of the fitted spectrum), held-out
split, sampling and sampler-study plan are those of :mod:`.flow_matching`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qcdgen.checks import check_positive_float, check_positive_int
from qcdgen.diffusion.flow_matching import cfm_loss
from qcdgen.diffusion.schrodinger_bridge import COUPLINGS, BrownianBridgePath, sample_coupling
from qcdgen.errors import InputError
from qcdgen.lattice.samplers.flow_matching import FlowMatchingSampler, FlowMatchingSettings

MODEL_KIND = "lattice-schrodinger-bridge"


@dataclass(frozen=True)
class BridgeSettings(FlowMatchingSettings):
    """Flow-matching settings plus the bridge: noise level σ, coupling, end-time cut, Sinkhorn iterations."""

    sigma: float = 0.5
    coupling: str = "sinkhorn"
    t_min: float = 0.01
    sinkhorn_iters: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_float(self.sigma, "--sigma")
        if self.coupling not in COUPLINGS:
            raise InputError(f"--coupling must be one of {', '.join(COUPLINGS)}, got {self.coupling!r}")
        if not (isinstance(self.t_min, (int, float)) and 0 < self.t_min < 0.5):
            raise InputError(f"--t-min must be in (0, 0.5), got {self.t_min!r}")
        check_positive_int(self.sinkhorn_iters, "--sinkhorn-iters")

    def make_path(self):
        return BrownianBridgePath(self.sigma, self.coupling, self.t_min)


class SchrodingerBridgeSampler(FlowMatchingSampler):
    """[SF]²M Schrödinger bridge trained on an HMC ensemble, sampled by its exact-log-q probability-flow ODE."""

    name = "schrodinger-bridge"
    kind = MODEL_KIND
    settings_type = BridgeSettings
    seed_offset = 4

    def loss(self, settings, action):
        epsilon = 2 * settings.sigma ** 2

        def bridge_loss(model, batch, generator):
            x0 = torch.randn(batch.shape, generator=generator, device=batch.device, dtype=batch.dtype)
            if settings.coupling == "sinkhorn":
                x0 = sample_coupling(x0, batch, epsilon, generator, settings.sinkhorn_iters)
            return cfm_loss(model, batch, generator, x0=x0)

        return bridge_loss

    def study_note(self, model, result, data_sampler):
        s = model.settings
        return f"sigma {s.sigma:g}, {s.coupling}; log q {result.divergence}; trained on {data_sampler}"



__all__ = ["SchrodingerBridgeSampler", "BridgeSettings", "MODEL_KIND"]
