"""Train a diffusion model on a lattice ensemble: the pipeline behind ``qcdgen lattice train``.

Set-up after Wang, Aarts & Zhou, JHEP 05 (2024) 060 (VE SDE, g(t) = σ^t, σ = 25, T = 1,
periodic CNN score network), with three additions that matter on small budgets:

- the score is the exact score of a stationary Gaussian fitted to the data (the free-field
  part, diagonal in momentum space) plus a network for the non-Gaussian remainder;
- the network is exactly odd in φ (Z₂) when the action is;
- every batch is transformed by a random lattice symmetry (translation, point group, φ → −φ).

The last ``heldout_fraction`` of each Markov chain is not trained on: the memorisation check
compares generated configurations with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from qcdgen.diffusion import SDE, VESDE, VPSDE, ScoreModel, StationaryGaussian, dsm_loss, sde_from_dict
from qcdgen.errors import InputError
from qcdgen.io import atomic_write_text, check_writable, load_checkpoint, read_ensemble, save_checkpoint
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.symmetries import random_symmetry
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.runtime import resolve_device, threads_for
from qcdgen.train import TrainSettings, train_model
from qcdgen.train.distributed import distributed_context, local_device

MODEL_KIND = "lattice-diffusion"


@dataclass(frozen=True)
class DiffusionSettings:
    """Model, SDE and training settings (the ``qcdgen lattice train`` flags, one to one)."""

    sde: str = "ve"
    sigma: float = 25.0
    beta_min: float = 0.1
    beta_max: float = 20.0
    eps: float = 1e-3
    channels: int = 16
    blocks: int = 2
    odd: bool = True
    gaussian: bool = True
    steps: int = 2000
    batch_size: int = 128
    lr: float = 3e-3
    ema_decay: float = 0.999
    weighting: str = "sigma2"
    augment: bool = True
    heldout_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sde not in ("ve", "vp"):
            raise InputError(f"--sde must be 've' or 'vp', got {self.sde!r}")
        if not (0 <= self.heldout_fraction < 1):
            raise InputError(f"--heldout-fraction must be in [0, 1), got {self.heldout_fraction!r}")
        self.make_sde()
        self.train_settings()

    def make_sde(self) -> SDE:
        if self.sde == "ve":
            return VESDE(sigma=self.sigma, eps=self.eps)
        return VPSDE(beta_min=self.beta_min, beta_max=self.beta_max, eps=self.eps)

    def train_settings(self) -> TrainSettings:
        return TrainSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                             ema_decay=self.ema_decay, seed=self.seed)


# Paper set-up for a GPU: 32×32 lattices, 5120 configurations, σ = 25; a wider, deeper net and long training.
PAPER_DIFFUSION = DiffusionSettings(channels=64, blocks=6, steps=100_000, batch_size=64, lr=1e-3, ema_decay=0.9999)


def split_heldout(chain: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of held-out configurations: the last ``fraction`` of every chain (MC order)."""
    mask = np.zeros(len(chain), dtype=bool)
    if fraction <= 0:
        return mask
    for c in np.unique(chain):
        where = np.flatnonzero(chain == c)
        n_out = int(math.floor(fraction * len(where)))
        if n_out:
            mask[where[-n_out:]] = True
    return mask


def build_score_model(settings: DiffusionSettings, action: Phi4Action,
                      gaussian: StationaryGaussian | None) -> ScoreModel:
    """The score model; its initial weights depend only on ``settings.seed`` (not on torch's global state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        net = PeriodicScoreCNN(dim=action.dim, channels=settings.channels, blocks=settings.blocks,
                               odd=settings.odd)
    return ScoreModel(net, settings.make_sde(), gaussian)


@dataclass
class LatticeDiffusionModel:
    """A trained model with everything needed to sample and to judge it."""

    score: ScoreModel
    action: Phi4Action
    settings: DiffusionSettings
    loss_steps: np.ndarray
    loss_values: np.ndarray
    train_seconds: float
    training_file: str
    training_configs: int

    @property
    def sde(self) -> SDE:
        return self.score.sde


def save_model(path: str | Path, model: LatticeDiffusionModel) -> None:
    """Atomic ``.pt`` with EMA weights, settings, action, loss curve and provenance."""
    gaussian = model.score.gaussian
    save_checkpoint(path, {
        "kind": MODEL_KIND,
        "settings": asdict(model.settings),
        "action": model.action.to_dict(),
        "sde": model.sde.to_dict(),
        "net": model.score.net.state_dict(),
        "gaussian_power": gaussian.power.cpu() if gaussian is not None else None,
        "loss_steps": [int(s) for s in model.loss_steps],
        "loss_values": [float(v) for v in model.loss_values],
        "train_seconds": float(model.train_seconds),
        "training_file": model.training_file,
        "training_configs": int(model.training_configs),
    })


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LatticeDiffusionModel:
    payload = load_checkpoint(path, MODEL_KIND)
    settings = DiffusionSettings(**payload["settings"])
    action = Phi4Action.from_dict(payload["action"])
    power = payload["gaussian_power"]
    gaussian = StationaryGaussian(power) if power is not None else None
    score = build_score_model(settings, action, gaussian)
    score.sde = sde_from_dict(payload["sde"])
    score.net.load_state_dict(payload["net"])
    score.to(resolve_device(device)).eval()
    return LatticeDiffusionModel(score=score, action=action, settings=settings,
                                 loss_steps=np.asarray(payload["loss_steps"]),
                                 loss_values=np.asarray(payload["loss_values"]),
                                 train_seconds=payload["train_seconds"], training_file=payload["training_file"],
                                 training_configs=payload["training_configs"])


def default_checkpoint_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".ckpt.pt")


def train_lattice_diffusion(ensemble: str | Path, out: str | Path, settings: DiffusionSettings = DiffusionSettings(),
                            device: str = "cpu", progress: bool = True, checkpoint: str | Path | None = None,
                            stop_after: int | None = None) -> LatticeDiffusionModel:
    """Train on the HMC configurations in ``ensemble`` (minus the held-out part) and save to ``out``.

    Resumes from ``checkpoint`` (default ``OUT.ckpt.pt``) if a run with the same settings was interrupted.
    Launched with torchrun, trains data-parallel over the processes (see :mod:`qcdgen.train.distributed`).
    """
    out = check_writable(out, "model")
    dev = resolve_device(device)
    ctx = distributed_context(dev)  # torchrun: one process per GPU, DDP inside train_model
    dev = local_device(dev, ctx)
    ens = read_ensemble(ensemble)
    action = Phi4Action.from_dict(ens.attrs)
    heldout = split_heldout(ens.chain, settings.heldout_fraction)
    train_phi = ens.phi[~heldout]
    if len(train_phi) < 8:
        raise InputError(f"{str(ensemble)!r} leaves {len(train_phi)} training configurations after holding out "
                         f"{settings.heldout_fraction:.0%}; generate at least 10 configurations")
    data = torch.as_tensor(train_phi, dtype=torch.float32, device=dev)
    gaussian = None
    if settings.gaussian:
        gaussian = StationaryGaussian.fit(torch.cat([data, -data]) if settings.odd else data).to(dev)
    score = build_score_model(settings, action, gaussian).to(dev)
    augment = (lambda b, g: random_symmetry(b, g, z2=settings.odd)) if settings.augment else None
    with threads_for(settings.batch_size * settings.channels * action.volume, dev):
        result = train_model(
            score, lambda m, b, g: dsm_loss(m, b, g, settings.weighting), data, settings.train_settings(),
            checkpoint=checkpoint if checkpoint is not None else default_checkpoint_path(out),
            meta={"ensemble": str(Path(ensemble).resolve()), "configs": len(train_phi), **asdict(settings)},
            progress=progress, augment=augment, stop_after=stop_after, description="training")
    score.load_state_dict(result.ema_state)
    score.eval()
    model = LatticeDiffusionModel(score=score, action=action, settings=settings, loss_steps=result.steps,
                                  loss_values=result.losses, train_seconds=result.seconds,
                                  training_file=str(Path(ensemble).resolve()), training_configs=len(train_phi))
    if ctx.is_main:
        save_model(out, model)
        atomic_write_text(loss_curve_path(out), "step,loss\n" + "".join(
            f"{int(k)},{float(v):.6g}\n" for k, v in zip(model.loss_steps, model.loss_values)))
    return model


def loss_curve_path(model_path: str | Path) -> Path:
    """MODEL.pt -> MODEL.loss.csv (columns step,loss: mean loss over each logging window)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".loss.csv")


def with_overrides(settings: DiffusionSettings, **overrides) -> DiffusionSettings:
    """``settings`` with the non-None overrides applied (CLI flags that were given)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
