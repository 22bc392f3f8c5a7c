"""Normalizing-flow sampler for φ⁴: ``qcdgen lattice flow-train`` and ``qcdgen lattice flow-sample``.

Training needs no data: the flow q_θ (checkerboard affine or rational-quadratic-spline couplings,
:mod:`qcdgen.flows`) minimises the reverse KL divergence to p = e^{−S}/Z (Albergo, Kanwar & Shanahan,
PRD 100 (2019) 034515), optionally with the path gradient (Vaitl et al. 2022). The loss is the
variational free energy F_q = E_q[log q + S] = KL(q‖p) − log Z, so it is negative whenever
log Z > KL; the curves record KL = F_q + log Z (≥ 0) with log Z estimated on each batch.

Sampling draws proposals with their exact log q and corrects them with independence Metropolis
against e^{−S} (:func:`~qcdgen.lattice.metropolis.metropolis_correct`): the ensemble is exact for
any trained flow, and log Z = log⟨e^{−S}/q⟩_q comes with it. Networks run in float32; the action
is evaluated in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qcdgen.errors import NaNError
from qcdgen.flows import AffineCoupling, Flow, SpectralScale, SplineCoupling, StandardNormal, reverse_kl_loss
from qcdgen.io import Ensemble, check_writable, load_checkpoint, save_checkpoint, write_ensemble
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.diffusion_sampling import json_dict
from qcdgen.lattice.flow_settings import COUPLINGS, FlowSettings  # noqa: F401 (re-exported)
from qcdgen.lattice.metropolis import (MetropolisSummary, check_sampling_args, draw_proposals, ensemble_attrs,
                                      metropolis_correct)
from qcdgen.mcmc import log_partition_estimate
from qcdgen.mcmc.independence import importance_ess
from qcdgen.runtime import make_generator, resolve_device, threaded, threads_for
from qcdgen.stats._validate import check_positive_int
from qcdgen.train import train_dataless
from qcdgen.train.distributed import distributed_context, local_device

MODEL_KIND = "lattice-flow"
SAMPLING_KIND = "lattice-flow-sampling"


def build_flow(settings: FlowSettings, site_shape: tuple[int, ...]) -> Flow:
    """The flow of ``settings`` on ``site_shape``: a :class:`~qcdgen.flows.SpectralScale` (learnable
    stationary Gaussian, exact for the free field) unless ``spectral=False``, then ``layers`` couplings,
    coupling l transforming the sites of parity l mod 2.

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
    return Flow(StandardNormal(site_shape), layers)


@dataclass
class LatticeFlowModel:
    """A trained flow with its action, settings, training curves and final evaluation."""

    flow: Flow
    action: Phi4Action
    settings: FlowSettings
    loss_steps: np.ndarray
    loss_values: np.ndarray
    ess_values: np.ndarray
    log_z_values: np.ndarray
    kl_values: np.ndarray
    restarts: list = field(default_factory=list)
    train_seconds: float = 0.0
    evaluation: dict = field(default_factory=dict)


def _log_p(action: Phi4Action):
    return lambda x: action.log_prob(x.to(torch.float64))


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


def default_checkpoint_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".ckpt.pt")


@threaded(lambda a: a["settings"].batch_size * a["settings"].channels * a["action"].volume)
def train_lattice_flow(action: Phi4Action, out: str | Path, settings: FlowSettings = FlowSettings(),
                       device: str = "cpu", checkpoint: str | Path | None = None, progress: bool = True,
                       stop_after: int | None = None) -> LatticeFlowModel:
    """Train a flow on e^{−S} by reverse KL and save it to ``out`` (atomic ``.pt``, kind ``lattice-flow``).

    Resumes from ``checkpoint`` (default ``OUT.ckpt.pt``) when a run with the same action and settings
    was interrupted; non-finite steps roll back with the learning rate halved (recorded as restarts).
    After training, ``settings.eval_samples`` fresh samples give the final F_q, KL, ESS and log Z ± error.
    """
    settings.check_lattice(action)
    out = check_writable(out, "model")
    dev = resolve_device(device)
    ctx = distributed_context(dev)
    dev = local_device(dev, ctx)
    flow = build_flow(settings, action.site_shape).to(dev)
    log_p = _log_p(action)
    result = train_dataless(
        flow, lambda m, n, g: reverse_kl_loss(m, log_p, n, g, path_gradient=settings.path_gradient),
        settings.dataless_settings(),
        checkpoint=checkpoint if checkpoint is not None else default_checkpoint_path(out),
        meta={"action": action.to_dict(), **settings.to_dict()}, progress=progress, stop_after=stop_after,
        description=f"training flow ({settings.coupling})", device=dev)
    flow.eval()
    evaluation = evaluate_flow(flow, action, settings.eval_samples, settings.batch_size,
                               make_generator(settings.seed + 1, dev))
    curve = result.metrics
    model = LatticeFlowModel(flow=flow, action=action, settings=settings, loss_steps=result.steps,
                             loss_values=result.losses, ess_values=curve.get("ess", np.array([])),
                             log_z_values=curve.get("log_z", np.array([])), kl_values=curve.get("kl", np.array([])),
                             restarts=result.restarts, train_seconds=result.seconds, evaluation=evaluation)
    if ctx.is_main:
        save_flow_model(out, model)
    return model


def save_flow_model(path: str | Path, model: LatticeFlowModel) -> None:
    """Atomic ``.pt``: config, action, weights, curves, restarts, timing and the final evaluation."""
    save_checkpoint(path, {
        "kind": MODEL_KIND,
        "config": model.settings.to_dict(),
        "action": model.action.to_dict(),
        "weights": {k: v.detach().cpu() for k, v in model.flow.state_dict().items()},
        "loss_steps": [int(s) for s in model.loss_steps],
        "loss_values": [float(v) for v in model.loss_values],
        "ess_values": [float(v) for v in model.ess_values],
        "log_z_values": [float(v) for v in model.log_z_values],
        "kl_values": [float(v) for v in model.kl_values],
        "restarts": [{"step": int(r["step"]), "cause": str(r["cause"]), "lr_scale": float(r["lr_scale"])}
                     for r in model.restarts],
        "train_seconds": float(model.train_seconds),
        "evaluation": {k: (int(v) if k == "samples" else float(v)) for k, v in model.evaluation.items()},
    })


def load_flow_model(path: str | Path, device: str | torch.device = "cpu") -> LatticeFlowModel:
    payload = load_checkpoint(path, MODEL_KIND)
    settings = FlowSettings(**payload["config"])
    action = Phi4Action.from_dict(payload["action"])
    flow = build_flow(settings, action.site_shape)
    flow.load_state_dict(payload["weights"])
    flow.to(resolve_device(device)).eval()
    return LatticeFlowModel(flow=flow, action=action, settings=settings,
                            loss_steps=np.asarray(payload["loss_steps"]), loss_values=np.asarray(payload["loss_values"]),
                            ess_values=np.asarray(payload["ess_values"]), log_z_values=np.asarray(payload["log_z_values"]),
                            kl_values=np.asarray(payload["kl_values"]), restarts=list(payload["restarts"]),
                            train_seconds=float(payload["train_seconds"]), evaluation=dict(payload["evaluation"]))


@dataclass
class FlowSampleResult:
    """What a sampling run measured about itself (``metropolis`` is None without the correction)."""

    configs: int
    proposals_per_second: float
    seconds: float
    metropolis: MetropolisSummary | None
    train_seconds: float
    sampler: str


def sample_lattice_flow(model_path: str | Path, out: str | Path, configs: int, metropolis: bool = True,
                        chains: int = 1, batch_size: int = 1000, seed: int = 0, device: str = "cpu",
                        progress: bool = True, checkpoint: str | Path | None = None,
                        stop_after: int | None = None) -> FlowSampleResult:
    """Draw ``configs`` proposals x ~ q with log q, correct them by independence Metropolis (exact),
    and write the HDF5 ensemble ``out``. Resumes from ``checkpoint`` (default ``OUT.ckpt.pt``)."""
    check_sampling_args(configs, chains, batch_size, metropolis)
    check_positive_int(seed, "--seed", minimum=0)
    out = check_writable(out, "ensemble")
    dev = resolve_device(device)
    model = load_flow_model(model_path, dev)
    action = model.action
    ckpt_path = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(out)
    check_writable(ckpt_path, "checkpoint")
    generator = make_generator(seed, dev)
    identity = {"model": str(Path(model_path).resolve()), "configs": configs, "batch_size": batch_size,
                "seed": seed, "device": dev.type}

    @torch.no_grad()
    def draw(n, gen):
        return model.flow.sample(n, gen)

    with threads_for(batch_size * model.settings.channels * action.volume, dev):
        phi, log_q, seconds = draw_proposals(draw, configs, batch_size, generator, ckpt_path, SAMPLING_KIND, identity,
                                             f"sampling (flow-{model.settings.coupling})", progress=progress,
                                             stop_after=stop_after)
    phi, log_q = phi.to(dev), log_q.to(dev)
    chain = np.zeros(configs, dtype=np.int32)
    summary = None
    if metropolis:
        phi, chain, summary = metropolis_correct(action, phi, log_q, generator, chains=chains)
    sampler = f"flow-{model.settings.coupling}" + ("+imh" if metropolis else "")
    result = FlowSampleResult(configs=configs, proposals_per_second=configs / max(seconds, 1e-12), seconds=seconds,
                              metropolis=summary, train_seconds=model.train_seconds, sampler=sampler)
    attrs = _attrs(model, model_path, result, seed, dict(configs=configs, metropolis=metropolis, chains=chains,
                                                         batch_size=batch_size, seed=seed))
    write_ensemble(out, Ensemble(phi=phi.cpu().numpy(), chain=chain, attrs=attrs))
    ckpt_path.unlink(missing_ok=True)
    return result


def _attrs(model: LatticeFlowModel, model_path, result: FlowSampleResult, seed: int, sample_settings: dict) -> dict:
    return ensemble_attrs(model.action, sampler=result.sampler, exact=result.metropolis is not None, seed=seed,
                          model_path=model_path, summary=result.metropolis,
                          proposals_per_second=result.proposals_per_second, seconds=result.seconds,
                          train_seconds=model.train_seconds, loss_steps=model.loss_steps,
                          loss_values=model.loss_values, flow_settings=json_dict(model.settings.to_dict()),
                          sample_settings=json_dict(sample_settings), train_restarts=len(model.restarts))


__all__ = ["FlowSettings", "LatticeFlowModel", "FlowSampleResult", "build_flow", "train_lattice_flow",
           "load_flow_model", "save_flow_model", "sample_lattice_flow", "evaluate_flow"]
