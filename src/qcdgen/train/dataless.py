"""Training from a log-density alone (no dataset): reverse-KL flows, trajectory-balance path samplers.

``loss_fn(model, batch_size, generator) -> (loss, metrics)`` draws its own samples from the model
each step; ``metrics`` maps names to floats (ESS, log Z estimate …) that are averaged into curves
next to the loss. The loop adds what dataless training needs beyond :func:`train_model`:

- **NaN/inf guard with restart.** A non-finite loss or gradient is detected before the optimiser
  step; the model and optimiser are rolled back to the last good snapshot (taken every
  ``snapshot_every`` finite steps), the learning rate is halved, and training goes on with the
  random stream advanced (the same batch is not redrawn). Each restart is recorded (step, cause,
  learning-rate scale); after ``max_restarts`` a :class:`~qcdgen.errors.NaNError` says what to change.
- checkpoints and bit-identical resume (the snapshot and the restart record included), a cosine
  learning-rate schedule, gradient clipping and a progress bar showing the metrics;
- DistributedDataParallel under torchrun: every rank draws ``batch_size`` samples with its own
  random stream (seed + rank) and DDP averages the gradients; rank 0 writes.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from qcdgen.errors import NaNError
from qcdgen.io import save_checkpoint
from qcdgen.runtime import CheckpointedLoop, make_generator
from qcdgen.checks import check_positive_int
from qcdgen.train.distributed import distributed_context, wrap_distributed
from qcdgen.train.trainer import TrainSettings, resume_checkpoint

CHECKPOINT_KIND = "dataless-training"


@dataclass(frozen=True)
class DatalessSettings(TrainSettings):
    """:class:`TrainSettings` (``ema_decay`` unused) plus the NaN-restart policy."""

    max_restarts: int = 5
    snapshot_every: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.max_restarts, "max_restarts", minimum=0)
        check_positive_int(self.snapshot_every, "snapshot_every")


@dataclass
class DatalessResult:
    """Curves (means over ``log_every`` steps) of the loss and of every metric, restarts and timing."""

    steps: np.ndarray
    losses: np.ndarray
    metrics: dict[str, np.ndarray]
    restarts: list[dict]
    seconds: float
    settings: DatalessSettings
    extra: dict = field(default_factory=dict)


def _finite_grads(model: nn.Module) -> bool:
    return all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in model.parameters())


def train_dataless(model: nn.Module, loss_fn: Callable, settings: DatalessSettings,
                   checkpoint: str | Path | None = None, meta: dict | None = None, progress: bool = True,
                   checkpoint_seconds: float = 60.0, stop_after: int | None = None,
                   description: str = "training", device: torch.device | str | None = None) -> DatalessResult:
    """Train ``model`` in place by minimising ``loss_fn(model, batch_size, generator)`` (see module doc)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    ctx = distributed_context(device)
    generator = make_generator(settings.seed + ctx.rank, device)
    trained = wrap_distributed(model, device, ctx)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    state = {"step": 0, "seconds": 0.0, "lr_scale": 1.0, "curve_steps": [], "curve_losses": [],
             "curve_metrics": {}, "window": [], "window_metrics": {}, "restarts": []}
    snapshot = {"model": copy.deepcopy(model.state_dict()), "optimiser": copy.deepcopy(optimiser.state_dict())}
    identity = {"settings": asdict(settings), "meta": meta or {}, "world_size": ctx.world_size}
    ckpt_path, ckpt = resume_checkpoint(checkpoint, CHECKPOINT_KIND, identity, model, optimiser)
    if ckpt is not None:
        snapshot = ckpt["snapshot"]
        generator.set_state(ckpt["generators"][ctx.rank])
        state = ckpt["state"]

    def save() -> None:
        if ckpt_path is None:
            return
        states = [generator.get_state()]
        if ctx.active:  # every rank's stream, so that a resumed run continues exactly
            import torch.distributed as dist

            gathered = [None] * ctx.world_size
            dist.all_gather_object(gathered, generator.get_state().cpu())
            states = gathered
        if ctx.is_main:
            save_checkpoint(ckpt_path, {"kind": CHECKPOINT_KIND, "identity": identity, "model": model.state_dict(),
                                        "optimiser": optimiser.state_dict(), "snapshot": snapshot,
                                        "generators": states, "state": state})

    def restart(cause: str) -> None:
        state["restarts"].append({"step": state["step"], "cause": cause, "lr_scale": state["lr_scale"] / 2})
        if len(state["restarts"]) > settings.max_restarts:
            raise NaNError(f"training hit a non-finite {cause} at step {state['step']} after "
                           f"{settings.max_restarts} restarts from the last good state; lower the learning rate "
                           "(--lr), widen the prior, or use fewer layers")
        warnings.warn(f"non-finite {cause} at step {state['step']}: restarted from the last good state "
                      f"(step <= {state['step']}) with the learning rate halved", RuntimeWarning, stacklevel=3)
        model.load_state_dict(snapshot["model"])
        optimiser.load_state_dict(snapshot["optimiser"])
        state["lr_scale"] /= 2

    model.train()
    with CheckpointedLoop(save, description, total=settings.steps, completed=state["step"],
                          progress=progress and ctx.is_main, seconds=checkpoint_seconds,
                          stop_after=stop_after) as loop:
        while state["step"] < settings.steps:
            t0 = time.perf_counter()
            for group in optimiser.param_groups:
                group["lr"] = settings.learning_rate(state["step"]) * state["lr_scale"]
            loss, metrics = loss_fn(trained, settings.batch_size, generator)
            finite = torch.isfinite(loss.detach()).to(torch.float32)
            optimiser.zero_grad(set_to_none=True)
            if bool(finite):
                loss.backward()
                if not _finite_grads(model):
                    finite.zero_()
            if ctx.active:  # all ranks must agree to roll back together
                import torch.distributed as dist

                dist.all_reduce(finite, op=dist.ReduceOp.MIN)
            if not bool(finite):
                restart("loss or gradient")
                continue
            nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimiser.step()
            state["step"] += 1
            state["seconds"] += time.perf_counter() - t0
            if state["step"] % settings.snapshot_every == 0:
                snapshot = {"model": copy.deepcopy(model.state_dict()),
                            "optimiser": copy.deepcopy(optimiser.state_dict())}
            state["window"].append(float(loss.detach()))
            for name, value in metrics.items():
                state["window_metrics"].setdefault(name, []).append(float(value))
            if len(state["window"]) == settings.log_every or state["step"] == settings.steps:
                state["curve_steps"].append(state["step"])
                state["curve_losses"].append(float(np.mean(state["window"])))
                for name, values in state["window_metrics"].items():
                    state["curve_metrics"].setdefault(name, []).append(float(np.nanmean(values)))
                state["window"], state["window_metrics"] = [], {}
            loop.step(status=_status(state))
    if ckpt_path is not None and ctx.is_main:
        ckpt_path.unlink(missing_ok=True)
    model.eval()
    return DatalessResult(steps=np.asarray(state["curve_steps"]), losses=np.asarray(state["curve_losses"]),
                          metrics={k: np.asarray(v) for k, v in state["curve_metrics"].items()},
                          restarts=list(state["restarts"]), seconds=state["seconds"], settings=settings)


def _status(state: dict) -> str:
    if not state["curve_losses"]:
        return ""
    parts = [f"loss {state['curve_losses'][-1]:.4g}"]
    parts += [f"{k} {v[-1]:.3g}" for k, v in state["curve_metrics"].items() if v and math.isfinite(v[-1])]
    return ", ".join(parts)
