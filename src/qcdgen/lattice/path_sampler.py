"""Lattice φ⁴ with a trajectory-balance path sampler: ``qcdgen lattice path-train | path-sample``.

Training needs no ensemble: a controlled SDE (:mod:`qcdgen.diffusion.path_sampler`) is fitted to
e^{−S} alone, with periodic CNN drifts (odd in φ for the Z₂-symmetric action) plus the Langevin
term c_R(t)·(−∂S/∂φ). Sampling draws paths τ with their work W(τ) and corrects them exactly.

Exactness. The marginal density q(φ) of the endpoint x_K = φ is intractable, but independence
Metropolis–Hastings in *path* space, with target path density P_B(τ)e^{−S(x_K)}/Z and proposal
P_F(τ), has importance weight e^{−W(τ)} and leaves the x_K-marginal e^{−S}/Z invariant. It is run
through :func:`~qcdgen.lattice.metropolis.metropolis_correct` with the effective path-space density

    log q_eff(τ) = −S(x_K) + W(τ),   so that   log w = −S(x_K) − log q_eff = −W(τ);

and log Z = log⟨e^{−W}⟩ (Jarzynski) comes with its delta-method error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from qcdgen.diffusion.path_sampler import LOSSES, PathSampler, path_loss, sample_work, work_summary
from qcdgen.errors import InputError
from qcdgen.io import Ensemble, check_writable, load_checkpoint, save_checkpoint, write_ensemble
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.diffusion_sampling import json_dict
from qcdgen.lattice.metropolis import (MetropolisSummary, check_sampling_args, draw_proposals, ensemble_attrs,
                                      metropolis_correct)
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.runtime import make_generator, resolve_device, threaded, threads_for
from qcdgen.stats import Estimate
from qcdgen.stats._validate import check_positive_float, check_positive_int
from qcdgen.train import DatalessSettings, train_dataless

MODEL_KIND = "lattice-path-sampler"
CHECKPOINT_KIND = "lattice-path-sampling"
BACKWARDS = ("learned", "fixed")


@dataclass(frozen=True)
class PathSettings:
    """Sampler, network and training settings (the ``qcdgen lattice path-train`` flags, one to one)."""

    time_steps: int = 8
    sigma: float = 1.0
    sigma0: float = 0.7
    channels: int = 8
    blocks: int = 1
    z2: bool = True
    backward: str = "learned"
    grad_clip: float = 100.0
    loss: str = "tb"
    steps: int = 1000
    batch_size: int = 128
    lr: float = 3e-3
    eval_paths: int = 2048
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("time_steps", "channels", "blocks", "steps", "batch_size"):
            check_positive_int(getattr(self, name), f"--{name.replace('_', '-')}")
        check_positive_int(self.eval_paths, "--eval-paths", minimum=2)
        for name in ("sigma", "sigma0", "grad_clip", "lr"):
            check_positive_float(getattr(self, name), f"--{name.replace('_', '-')}")
        if self.loss not in LOSSES:
            raise InputError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.backward not in BACKWARDS:
            raise InputError(f"--backward must be one of {', '.join(BACKWARDS)}, got {self.backward!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"--seed must be an integer >= 0, got {self.seed!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def dataless(self) -> DatalessSettings:
        return DatalessSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                                warmup=min(100, max(1, self.steps // 10)))


def build_path_sampler(action: Phi4Action, settings: PathSettings) -> PathSampler:
    """Periodic-CNN drifts (output layer zeroed: the untrained sampler is Gaussian importance sampling).

    The initial weights are drawn from ``settings.seed`` (the global random state is left alone),
    so the same settings give the same model.
    """

    def net() -> PeriodicScoreCNN:
        cnn = PeriodicScoreCNN(dim=action.dim, channels=settings.channels, blocks=settings.blocks, odd=settings.z2)
        torch.nn.init.zeros_(cnn.out.conv.weight)
        if cnn.out.conv.bias is not None:
            torch.nn.init.zeros_(cnn.out.conv.bias)
        return cnn

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        return PathSampler(action.log_prob, action.force, action.site_shape, net(),
                           net() if settings.backward == "learned" else None, time_steps=settings.time_steps,
                           sigma=settings.sigma, sigma0=settings.sigma0, grad_clip=settings.grad_clip)


@dataclass
class LatticePathModel:
    """A trained path sampler with its action, settings, curves and a post-training evaluation."""

    sampler: PathSampler
    action: Phi4Action
    settings: PathSettings
    loss_steps: np.ndarray
    loss_values: np.ndarray
    metrics: dict[str, np.ndarray]
    restarts: list[dict]
    train_seconds: float
    evaluation: dict = field(default_factory=dict)


def default_checkpoint_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".ckpt.pt")


def save_path_model(path: str | Path, model: LatticePathModel) -> None:
    """Atomic ``.pt``: kind, config, action, weights, curves, restarts, timing, evaluation."""
    save_checkpoint(path, {
        "kind": MODEL_KIND,
        "config": model.settings.to_dict(),
        "action": model.action.to_dict(),
        "weights": {k: v.detach().cpu() for k, v in model.sampler.state_dict().items()},
        "curves": {"steps": [int(s) for s in model.loss_steps], "loss": [float(v) for v in model.loss_values],
                   **{k: [float(x) for x in v] for k, v in model.metrics.items()}},
        "restarts": [dict(r) for r in model.restarts],
        "train_seconds": float(model.train_seconds),
        "evaluation": {k: float(v) for k, v in model.evaluation.items()},
    })


def load_path_model(path: str | Path, device: str | torch.device = "cpu") -> LatticePathModel:
    payload = load_checkpoint(path, MODEL_KIND)
    settings = PathSettings(**payload["config"])
    action = Phi4Action.from_dict(payload["action"])
    sampler = build_path_sampler(action, settings)
    sampler.load_state_dict(payload["weights"])
    sampler.to(resolve_device(device)).eval()
    curves = dict(payload["curves"])
    steps, losses = curves.pop("steps"), curves.pop("loss")
    return LatticePathModel(sampler=sampler, action=action, settings=settings, loss_steps=np.asarray(steps),
                            loss_values=np.asarray(losses), metrics={k: np.asarray(v) for k, v in curves.items()},
                            restarts=list(payload["restarts"]), train_seconds=float(payload["train_seconds"]),
                            evaluation=dict(payload.get("evaluation", {})))


@threaded(lambda a: a["settings"].batch_size * a["settings"].channels * a["action"].volume)
def train_lattice_path_sampler(action: Phi4Action, out: str | Path, settings: PathSettings = PathSettings(),
                               device: str = "cpu", checkpoint: str | Path | None = None, progress: bool = True,
                               stop_after: int | None = None) -> LatticePathModel:
    """Train by trajectory balance (or log-variance) on e^{−S} alone and save to ``out``.

    Resumes from ``checkpoint`` (default ``OUT.ckpt.pt``) when a run with the same settings was
    interrupted. After training, ``settings.eval_paths`` fresh paths give log Z ± err, ⟨W⟩ ± err
    and the ESS, stored in the model file as ``evaluation``.
    """
    out = check_writable(out, "model")
    dev = resolve_device(device)
    sampler = build_path_sampler(action, settings).to(dev)
    result = train_dataless(
        sampler, lambda m, n, g: path_loss(m, n, g, settings.loss), settings.dataless(),
        checkpoint=checkpoint if checkpoint is not None else default_checkpoint_path(out),
        meta={"action": action.to_dict(), **settings.to_dict()}, progress=progress, stop_after=stop_after,
        description="training path sampler", device=dev)
    evaluation = work_summary(sample_work(sampler, settings.eval_paths, make_generator(settings.seed + 1, dev),
                                          batch_size=max(settings.batch_size, 256))[1])
    model = LatticePathModel(sampler=sampler, action=action, settings=settings, loss_steps=result.steps,
                             loss_values=result.losses, metrics=result.metrics, restarts=result.restarts,
                             train_seconds=result.seconds, evaluation=evaluation)
    save_path_model(out, model)
    return model


@dataclass
class PathSampleResult:
    """What a sampling run measured about itself (``summary`` is None without Metropolis)."""

    configs: int
    metropolis: bool
    chains: int
    seed: int
    proposals_per_second: float
    seconds: float
    summary: MetropolisSummary | None
    train_seconds: float
    mean_work: Estimate
    log_z: Estimate
    importance_ess: float
    exact: bool


def sample_lattice_path_sampler(model_path: str | Path, out: str | Path, configs: int, metropolis: bool = True,
                                chains: int = 1, batch_size: int = 500, seed: int = 0, device: str = "cpu",
                                progress: bool = True, checkpoint: str | Path | None = None,
                                stop_after: int | None = None) -> PathSampleResult:
    """Draw ``configs`` paths, correct their endpoints by path-space IMH (``metropolis``), write HDF5.

    Without ``metropolis`` the endpoints x_K are written as they are (biased, ``exact = 0``).
    Interrupted runs resume from ``checkpoint`` (default ``OUT.ckpt.pt``).
    """
    check_sampling_args(configs, chains, batch_size, metropolis)
    out = check_writable(out, "ensemble")
    dev = resolve_device(device)
    model = load_path_model(model_path, dev)
    action = model.action
    ckpt_path = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(out)
    check_writable(ckpt_path, "checkpoint")
    generator = make_generator(seed, dev)

    def draw(n: int, gen: torch.Generator):
        x, work = model.sampler.sample(n, gen)
        return x, action.log_prob(x) + work  # log q_eff = −S(x_K) + W(τ)

    identity = {"configs": configs, "batch_size": batch_size, "seed": seed,
                "model": str(Path(model_path).resolve())}
    with threads_for(batch_size * model.settings.channels * action.volume, dev):
        phi, log_q, seconds = draw_proposals(draw, configs, batch_size, generator, ckpt_path, CHECKPOINT_KIND,
                                             identity, "sampling (path)", progress=progress, stop_after=stop_after)
    work = log_q - action.log_prob(phi)
    summary_w = work_summary(work)
    chain = np.zeros(configs, dtype=np.int32)
    summary = None
    phi = phi.to(dev)
    if metropolis:
        phi, chain, summary = metropolis_correct(action, phi, log_q.to(dev), generator, chains=chains)
    result = PathSampleResult(configs=configs, metropolis=metropolis, chains=chains, seed=seed,
                              proposals_per_second=configs / max(seconds, 1e-12), seconds=seconds, summary=summary,
                              train_seconds=model.train_seconds,
                              mean_work=Estimate(summary_w["mean_work"], summary_w["mean_work_error"]),
                              log_z=Estimate(summary_w["log_z"], summary_w["log_z_error"]),
                              importance_ess=summary_w["ess"], exact=metropolis)
    write_ensemble(out, Ensemble(phi=phi.cpu().numpy(), chain=chain, attrs=_attrs(model, model_path, result)))
    ckpt_path.unlink(missing_ok=True)
    return result


def _attrs(model: LatticePathModel, model_path, result: PathSampleResult) -> dict:
    attrs = ensemble_attrs(
        model.action, sampler=f"path-{model.settings.loss}" + ("+imh" if result.metropolis else ""),
        exact=result.exact, seed=result.seed, model_path=model_path, summary=result.summary,
        proposals_per_second=result.proposals_per_second, seconds=result.seconds,
        train_seconds=model.train_seconds, loss_steps=model.loss_steps, loss_values=model.loss_values,
        path_settings=json_dict(model.settings.to_dict()),
        sample_settings=json_dict({"configs": result.configs, "metropolis": result.metropolis,
                                   "chains": result.chains, "seed": result.seed}),
        mean_work=result.mean_work.value, mean_work_error=result.mean_work.error)
    # the work-based estimates use every proposal (also without Metropolis)
    attrs.update({"importance_ess": result.importance_ess, "log_z": result.log_z.value,
                  "log_z_error": result.log_z.error})
    return attrs


def pull(value: float, error: float, exact: float) -> float:
    """(value − exact)/error, NaN when the error is zero or not finite."""
    return (value - exact) / error if error > 0 and math.isfinite(error) else math.nan
