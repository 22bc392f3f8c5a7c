"""A minibatch training loop with Adam, EMA, gradient clipping, checkpoints and resume.

The loop is model-agnostic: it takes ``loss_fn(model, batch, generator) -> scalar`` and a
dataset tensor [n, …]. Batches are drawn with replacement from a seeded generator whose
state is checkpointed, so an interrupted run resumed from its checkpoint continues
exactly as if it had never stopped (same device, same seed).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from qcdgen.train.ema import EMA
from qcdgen.errors import InputError, NaNError
from qcdgen.io import check_writable, load_matching_checkpoint, save_checkpoint
from qcdgen.runtime import CheckpointedLoop, make_generator
from qcdgen.checks import check_positive_int
from qcdgen.train.distributed import distributed_context, wrap_distributed

CHECKPOINT_KIND = "training"


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings. ``lr`` decays by a cosine to ``lr·final_lr_fraction`` after a linear warm-up."""

    steps: int = 2000
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 100
    final_lr_fraction: float = 0.05
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    log_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("batch_size", "log_every"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.steps, "steps", minimum=0)  # 0: the initial model as it is (callers' flags decide)
        check_positive_int(self.warmup, "warmup", minimum=0)
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"lr must be a positive number, got {self.lr!r}")
        if not (0 <= self.final_lr_fraction <= 1):
            raise InputError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction!r}")
        if not (self.grad_clip > 0):
            raise InputError(f"grad_clip must be > 0, got {self.grad_clip!r}")

    def learning_rate(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        floor = self.final_lr_fraction
        return self.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@dataclass
class TrainResult:
    """Loss curve (mean loss per ``log_every`` steps), EMA weights and timing."""

    steps: np.ndarray
    losses: np.ndarray
    ema_state: dict
    seconds: float
    settings: TrainSettings
    extra: dict = field(default_factory=dict)


def resume_checkpoint(checkpoint: str | Path | None, kind: str, identity: dict, model: nn.Module,
                      optimiser: torch.optim.Optimizer) -> tuple[Path | None, dict | None]:
    """The checkpoint path (refused early if unwritable) and, when the file exists, its contents.

    An existing checkpoint must be of ``kind`` with a matching ``identity``; ``model`` and
    ``optimiser`` are restored from it, the rest of the loop state is the caller's to restore.
    """
    if checkpoint is None:
        return None, None
    ckpt_path = Path(checkpoint)
    check_writable(ckpt_path, "checkpoint")
    if not ckpt_path.exists():
        return ckpt_path, None
    ckpt = load_matching_checkpoint(ckpt_path, kind, "identity", identity)
    model.load_state_dict(ckpt["model"])
    optimiser.load_state_dict(ckpt["optimiser"])
    return ckpt_path, ckpt


def train_model(model: nn.Module, loss_fn: Callable, data: torch.Tensor, settings: TrainSettings,
                checkpoint: str | Path | None = None, meta: dict | None = None, progress: bool = True,
                augment: Callable | None = None, checkpoint_seconds: float = 60.0,
                stop_after: int | None = None, description: str = "training") -> TrainResult:
    """Train ``model`` in place (weights end as the raw, not EMA, weights) and return the result.

    ``augment(batch, generator)`` may apply symmetry transformations to each batch.
    With ``checkpoint`` set, the run is saved there every ``checkpoint_seconds`` and on
    Ctrl-C, and resumed from it when present; ``meta`` (plain data) must then match.
    """
    if len(data) < 2:
        raise InputError(f"training needs at least 2 samples, got {len(data)}")
    if not torch.isfinite(data).all():
        raise InputError("training data contain NaN or inf")
    device = data.device
    ctx = distributed_context(device)
    generator = make_generator(settings.seed, device)
    trained = wrap_distributed(model, device, ctx)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    ema = EMA(model, settings.ema_decay)
    step, seconds = 0, 0.0
    curve_steps: list[int] = []
    curve_losses: list[float] = []
    window: list[float] = []  # losses since the last point of the curve
    identity = {"settings": asdict(settings), "meta": meta or {}}
    ckpt_path, ckpt = resume_checkpoint(checkpoint, CHECKPOINT_KIND, identity, model, optimiser)
    if ckpt is not None:
        ema.load_state_dict(ckpt["ema"])
        generator.set_state(ckpt["generator"])
        step, seconds = int(ckpt["step"]), float(ckpt["seconds"])
        curve_steps, curve_losses = list(ckpt["curve_steps"]), list(ckpt["curve_losses"])
        window = list(ckpt["window"])

    def save() -> None:
        if ckpt_path is not None and ctx.is_main:
            save_checkpoint(ckpt_path, {
                "kind": CHECKPOINT_KIND, "identity": identity, "model": model.state_dict(),
                "optimiser": optimiser.state_dict(), "ema": ema.state_dict(), "generator": generator.get_state(),
                "step": step, "seconds": seconds, "curve_steps": curve_steps, "curve_losses": curve_losses,
                "window": window,
            })

    model.train()
    with CheckpointedLoop(save, description, total=settings.steps, completed=step, progress=progress and ctx.is_main,
                          seconds=checkpoint_seconds, stop_after=stop_after) as loop:
        while step < settings.steps:
            t0 = time.perf_counter()
            for group in optimiser.param_groups:
                group["lr"] = settings.learning_rate(step)
            index = torch.randint(0, len(data), (ctx.world_size * settings.batch_size,), generator=generator,
                                  device=device)
            batch = data[index[ctx.rank * settings.batch_size:(ctx.rank + 1) * settings.batch_size]]
            if augment is not None:
                batch = augment(batch, generator)
            loss = loss_fn(trained, batch, generator)
            if not torch.isfinite(loss):
                raise NaNError(f"training loss became {float(loss)} at step {step}"
                               + (f"; the checkpoint {str(ckpt_path)!r} holds the last good state" if ckpt_path else "")
                               + "; try a smaller learning rate")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimiser.step()
            ema.update(model)
            step += 1
            seconds += time.perf_counter() - t0
            window.append(float(loss.detach()))
            if len(window) == settings.log_every or step == settings.steps:
                curve_steps.append(step)
                curve_losses.append(float(np.mean(window)))
                window.clear()
            loop.step(status=f"loss {curve_losses[-1]:.4g}" if curve_losses else "")
    if ckpt_path is not None and ctx.is_main:
        ckpt_path.unlink(missing_ok=True)
    model.eval()
    return TrainResult(steps=np.asarray(curve_steps), losses=np.asarray(curve_losses), ema_state=ema.shadow,
                       seconds=seconds, settings=settings)
