"""Normalizing-flow sampler for φ⁴: ``qcdgen lattice flow-train`` and ``qcdgen lattice flow-sample``.

Training needs no data: the flow q_θ (checkerboard affine or rational-quadratic-spline couplings,
:mod:`qcdgen.flows`) minimises the reverse KL divergence to p = e^{−S}/Z (Albergo, Kanwar & Shanahan,
PRD 100 (2019) 034515), optionally with the path gradient (Vaitl et al. 2022). The loss is the
variational free energy F_q = E_q[log q + S] = KL(q‖p) − log Z, so it is negative whenever
log Z > KL; the curves record KL = F_q + log Z (≥ 0) with log Z estimated on each batch.

Proposals come with their exact log q, so independence Metropolis against e^{−S} makes the ensemble
exact for any trained flow, and log Z = log⟨e^{−S}/q⟩_q comes with it. Networks run in float32; the
action is evaluated in float64. Settings: :mod:`qcdgen.lattice.flow_settings` (torch-free, for the CLI).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from qcdgen.errors import NaNError
from qcdgen.flows import AffineCoupling, Flow, SpectralScale, SplineCoupling, StandardNormal, reverse_kl_loss
from qcdgen.flows.spline import mirror_params, n_spline_params, rational_quadratic_spline
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.flow_settings import COUPLINGS, FlowSettings  # noqa: F401 (re-exported)
from qcdgen.lattice.samplers.protocol import LatticeSampler, TrainedSampler
from qcdgen.mcmc import log_partition_estimate
from qcdgen.mcmc.independence import importance_ess

MODEL_KIND = "lattice-flow"


class ZeroModeSpline(nn.Module):
    """A monotone spline on the zero mode: x ↦ x + (h(u) − u)/√V · 1 with u = Σ_x x(x)/√V.

    The zero mode of the output is h(u) and every other Fourier mode is unchanged, so
    log|det| = log h'(u). h is a rational-quadratic spline on [−``bound``, ``bound``] with identity
    tails (:func:`~qcdgen.flows.spline.rational_quadratic_spline`), made odd when ``z2`` (its
    parameters symmetrised under mirroring), so the layer is Z₂-equivariant. A steep h near u = 0
    turns the Gaussian prior's zero mode into the two peaks of the broken phase, which local
    checkerboard couplings cannot produce on a large lattice (a field whose sign is coordinated over
    the whole lattice). Starts as the identity; put before the spectral layer, which sets the scale.
    """

    def __init__(self, site_shape: tuple[int, ...], bins: int = 8, bound: float = 4.0, z2: bool = True):
        super().__init__()
        self.site_shape, self.bins, self.bound, self.z2 = tuple(site_shape), int(bins), float(bound), bool(z2)
        self.params = nn.Parameter(torch.zeros(n_spline_params(self.bins)))
        self.root_volume = math.sqrt(math.prod(self.site_shape))

    def _theta(self) -> torch.Tensor:
        return 0.5 * (self.params + mirror_params(self.params, self.bins)) if self.z2 else self.params

    def _map(self, x: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        u = x.flatten(1).sum(1) / self.root_volume
        theta = self._theta().to(x.dtype).expand(len(u), -1)
        h, log_deriv = rational_quadratic_spline(u, theta, self.bound, inverse=inverse)
        shift = ((h - u) / self.root_volume).reshape((-1,) + (1,) * len(self.site_shape))
        return x + shift, log_deriv

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._map(z, inverse=False)

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._map(x, inverse=True)


def build_flow(settings: FlowSettings, site_shape: tuple[int, ...]) -> Flow:
    """The flow of ``settings`` on ``site_shape``: a :class:`ZeroModeSpline` when ``zero_mode``, a
    :class:`~qcdgen.flows.SpectralScale` (learnable stationary Gaussian, exact for the free field) unless
    ``spectral=False``, then ``layers`` couplings, coupling l transforming the sites of parity l mod 2.

    Initialised (identity couplings) from ``settings.seed`` without touching the global RNG.
    """
    common = dict(channels=settings.channels, hidden=settings.hidden, kernel_size=settings.kernel_size,
                  z2=settings.z2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        if settings.coupling == "affine":
            layers = [AffineCoupling(site_shape, l % 2, **common) for l in range(settings.layers)]
        else:
            layers = [SplineCoupling(site_shape, l % 2, bins=settings.bins, bound=settings.bound, **common)
                      for l in range(settings.layers)]
        if settings.spectral:
            layers.insert(0, SpectralScale(site_shape))
        if settings.zero_mode:
            layers.insert(0, ZeroModeSpline(site_shape, bins=settings.bins, bound=settings.bound, z2=settings.z2))
    return Flow(StandardNormal(site_shape), layers)


@torch.no_grad()
def evaluate_flow(flow: Flow, action: Phi4Action, samples: int, batch_size: int,
                  generator: torch.Generator) -> dict:
    """Free energy, KL, ESS and log Z of ``flow`` from ``samples`` fresh proposals, with errors.

    F_q = ⟨log q + S⟩_q ± σ/√n; log Z = log⟨w⟩ (delta-method error); KL = log⟨w⟩ − ⟨log w⟩ ≥ 0 with the
    delta-method error from its influence function ψ_i = w_i/⟨w⟩ − log w_i + ⟨log w⟩ − 1.
    """
    log_w = []
    for start in range(0, samples, batch_size):
        x, log_q = flow.sample(min(batch_size, samples - start), generator)
        log_w.append((action.log_prob(x.double()) - log_q.double()).cpu())
    lw = torch.cat(log_w).numpy()
    if not np.isfinite(lw).all():
        raise NaNError(f"{int((~np.isfinite(lw)).sum())} of {samples} evaluation samples have a non-finite "
                       "log-weight; the trained flow is broken (retrain with a lower --lr)")
    n = len(lw)
    log_z, log_z_error = log_partition_estimate(lw)
    w = np.exp(lw - lw.max())
    influence = w / w.mean() - lw
    loss = float(-lw.mean())
    return {"samples": n, "loss": loss, "loss_error": float(lw.std(ddof=1) / math.sqrt(n)),
            "log_z": log_z, "log_z_error": log_z_error, "kl": loss + log_z,
            "kl_error": float(influence.std(ddof=1) / math.sqrt(n)), "ess": importance_ess(lw)}


class LatticeFlowModel(TrainedSampler):
    """A trained flow: :class:`TrainedSampler` with the flow and its curves under their own names."""

    flow = property(lambda self: self.module)
    ess_values = property(lambda self: self.metrics.get("ess", np.array([])))
    log_z_values = property(lambda self: self.metrics.get("log_z", np.array([])))
    kl_values = property(lambda self: self.metrics.get("kl", np.array([])))


class FlowSampler(LatticeSampler):
    name = "flow"
    kind = MODEL_KIND
    settings_type = FlowSettings
    model_type = LatticeFlowModel
    study = True

    def check(self, settings, action):
        settings.check_lattice(action)

    def build(self, settings, action, data=None):
        return build_flow(settings, action.site_shape)

    def loss(self, settings, action):
        def log_p(x):
            return action.log_prob(x.to(torch.float64))

        return lambda m, n, g: reverse_kl_loss(m, log_p, n, g, path_gradient=settings.path_gradient)

    def evaluate(self, module, settings, action, generator):
        return evaluate_flow(module, action, settings.eval_samples, settings.batch_size, generator)

    @torch.no_grad()
    def draw(self, model, n, generator, options):
        return model.module.sample(n, generator)

    def label(self, model, options):
        return f"flow-{model.settings.coupling}" + ("+imh" if options.metropolis else "")

    def ensemble_attrs(self, model, result):
        return {**super().ensemble_attrs(model, result), "train_restarts": len(model.restarts)}

    def upgrade(self, payload):
        """Model files from before the shared format kept each curve under its own key."""
        curves = {"steps": payload["loss_steps"], "loss": payload["loss_values"],
                  **{k: payload[f"{k}_values"] for k in ("ess", "log_z", "kl")}}
        return {**payload, "curves": curves}

    def study_plan(self, study, volume):
        p, steps = study.preset_values, study.resolved("flow_steps")
        return {"train": FlowSettings(layers=p.flow_layers, channels=p.flow_channels, steps=steps,
                                      batch_size=p.batch(p.flow_sites, volume), lr=p.flow_lr, eval_samples=p.flow_eval,
                                      warmup=min(50, max(1, steps // 10)), seed=study.seed + 3),
                "sample": dict(configs=study.resolved("proposals"), chains=study.mh_chains, batch_size=1000,
                               seed=study.seed + 13)}

    def study_note(self, model, result, data_sampler):
        return f"{model.settings.coupling}, {model.settings.layers} layers, restarts {len(model.restarts)}"
