"""Training and fine-tuning of the event surrogate on top of :func:`qcdgen.train.train_model`.

The shared trainer brings Adam with warm-up and cosine decay, EMA weights, gradient clipping, the NaN
guard, periodic/Ctrl-C checkpoints with bit-identical resume, and DDP under torchrun. It samples
rows of a tensor; here the rows are event indices, and the loss function turns them into a padded
particle subsample with the provider, using the trainer's checkpointed generator, so batches,
subsamples, noise and flow-matching times all replay exactly after a resume.

All parts train jointly in one stage: the latent prior's loss −log p(z̃ | c) sees the encoder latents
detached, so it fits the current aggregate posterior without pulling the encoder; as the learning
rate decays the encoder settles and the prior converges onto it. Sampling uses the EMA weights of
all parts (encoder and prior averaged alike).

Data provider protocol: ``len(provider)`` events and ``provider.batch(index, k, generator)`` returning
an object (or dict) with x [B, k, 3], species [B, k], mask [B, k], n [B], summaries [B, S], cond [B, C]
for the events ``index`` (a LongTensor on the training device), k particles drawn per event with
``generator`` (on the training device). :class:`PaddedEvents` implements it for in-memory tensors;
its ``n_species`` attribute (or the config) gives the vocabulary size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from qcdgen.checks import check_positive_int
from qcdgen.errors import InputError, NaNError
from qcdgen.hic.surrogate.model import EventSurrogate, SurrogateConfig, build_surrogate, load_surrogate, save_surrogate
from qcdgen.io import check_writable
from qcdgen.runtime import make_generator, resolve_device
from qcdgen.train import TrainSettings, train_model
from qcdgen.train.distributed import distributed_context, local_device

TERMS = ("flow_matching", "species", "multiplicity", "kl", "prior", "harmonics")
FIELDS = ("x", "species", "mask", "n", "summaries", "cond")
PARTS = ("all", "decoder")


@dataclass
class PaddedEvents:
    """Whole events, padded: x [E, M, 3], species [E, M], mask [E, M], n [E], summaries [E, S], cond [E, C]."""

    x: torch.Tensor
    species: torch.Tensor
    mask: torch.Tensor
    n: torch.Tensor
    summaries: torch.Tensor
    cond: torch.Tensor
    n_species: int | None = None

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device: torch.device) -> "PaddedEvents":
        return replace(self, **{f: getattr(self, f).to(device) for f in FIELDS})

    def batch(self, index: torch.Tensor, k: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """k particles per event drawn uniformly without replacement among the valid ones (all if fewer)."""
        mask = self.mask[index]
        keys = torch.rand(mask.shape, generator=generator, device=mask.device)
        order = torch.where(mask, keys, 2.0).argsort(dim=1)[:, :k]  # valid particles first, in random order
        return {"x": self.x[index].gather(1, order[..., None].expand(-1, -1, 3)),
                "species": self.species[index].gather(1, order), "mask": mask.gather(1, order),
                "n": self.n[index], "summaries": self.summaries[index], "cond": self.cond[index]}


@dataclass
class SurrogateFit:
    """A trained model (EMA weights) with its loss curves (mean per logging window) and timing."""

    model: EventSurrogate
    steps: np.ndarray
    losses: np.ndarray
    terms: dict[str, np.ndarray]
    seconds: float
    path: Path | None


def _tensors(batch, device: torch.device) -> dict[str, torch.Tensor]:
    get = batch.get if isinstance(batch, dict) else (lambda f: getattr(batch, f, None))
    out = {}
    for f in FIELDS:
        value = get(f)
        if value is None:
            raise InputError(f"the data provider's batch lacks the field {f!r}; it needs {FIELDS}")
        out[f] = torch.as_tensor(value).to(device)
    return out


def _check_provider(data, device: torch.device):
    if isinstance(data, PaddedEvents):
        return data.to(device)
    if not (hasattr(data, "batch") and hasattr(data, "__len__")):
        raise InputError("data must be PaddedEvents or a provider with __len__ and batch(index, k, generator)")
    return data


def _complete_config(config, data, probe: dict[str, torch.Tensor]) -> SurrogateConfig:
    """Fill n_summaries/n_conditions from the data and n_species from the provider when not given."""
    given = config if isinstance(config, dict) else (asdict(config) if config is not None else {})
    given = dict(given)
    sizes = {"n_summaries": probe["summaries"].shape[1], "n_conditions": probe["cond"].shape[1]}
    n_species = getattr(data, "n_species", None)
    if n_species is not None:
        sizes["n_species"] = int(n_species)
    for name, value in sizes.items():
        if name in given and given[name] != value:
            raise InputError(f"config {name}={given[name]} does not match the data ({value})")
        given[name] = value
    if "n_species" not in given:
        raise InputError("the vocabulary size is unknown: set config n_species or give the provider n_species")
    try:
        return SurrogateConfig(**given)
    except TypeError as exc:
        raise InputError(f"bad surrogate config: {exc}") from None



def _run(model: EventSurrogate, data, settings: TrainSettings, *, k_particles: int, checkpoint: Path | None,
         meta: dict, progress: bool, stop_after: int | None, description: str, device: torch.device):
    """Drive :func:`train_model` with event indices as rows; returns (TrainResult, per-term curves)."""
    rows = torch.arange(len(data), device=device, dtype=torch.float64)[:, None]
    harmonic_particles = model.config.harmonic_particles  # the azimuthal term sees a bigger subsample
    window: dict[str, list[torch.Tensor]] = {t: [] for t in TERMS}
    curves: dict[str, list[float]] = {t: [] for t in TERMS}
    bad: list[str] = []

    def loss_fn(trained, idx, generator):
        batch = _tensors(data.batch(idx[:, 0].long(), max(k_particles, harmonic_particles), generator), device)
        terms = trained(**batch, generator=generator, particles=k_particles)
        bad[:] = [t for t in TERMS if not torch.isfinite(terms[t])]
        for t in TERMS:
            window[t].append(terms[t].detach())
            if len(window[t]) == settings.log_every:
                curves[t].append(float(torch.stack(window[t]).mean()))
                window[t].clear()
        return terms["loss"]

    try:
        result = train_model(model, loss_fn, rows, settings, checkpoint=checkpoint, meta=meta, progress=progress,
                             stop_after=stop_after, description=description)
    except NaNError as exc:
        raise NaNError(f"{exc}; non-finite loss term(s): {', '.join(bad) or 'total'}") from None
    for t in TERMS:
        if window[t]:
            curves[t].append(float(torch.stack(window[t]).mean()))
    return result, {t: np.asarray(v) for t, v in curves.items()}


def _steps(steps, epochs, n_events: int, batch_events: int) -> int:
    if steps is not None and epochs is not None:
        raise InputError("give steps or epochs, not both")
    if epochs is not None:
        if not (isinstance(epochs, (int, float)) and math.isfinite(epochs) and epochs > 0):
            raise InputError(f"epochs must be a number > 0, got {epochs!r}")
        return max(1, math.ceil(epochs * n_events / batch_events))
    return check_positive_int(2000 if steps is None else steps, "steps")


def _finish(model, result, curves, out, ctx, training: dict) -> SurrogateFit:
    model.load_state_dict(result.ema_state)
    model.eval()
    info = {**training, "seconds": result.seconds, "loss_steps": result.steps.tolist(),
            "loss_values": result.losses.tolist(), "terms": {t: v.tolist() for t, v in curves.items()}}
    if out is not None and ctx.is_main:
        save_surrogate(out, model, info)
    return SurrogateFit(model=model, steps=result.steps, losses=result.losses, terms=curves, seconds=result.seconds,
                        path=out)


def default_checkpoint_path(out: str | Path) -> Path:
    """MODEL.pt → MODEL.pt.ckpt.pt: the in-progress run (removed when training finishes)."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt.pt")


def train_surrogate(data, config: SurrogateConfig | dict | None = None, *, steps: int | None = None,
                    epochs: float | None = None, batch_events: int = 32, k_particles: int = 256, lr: float = 1e-3,
                    out: str | Path | None = None, resume: bool = True, seed: int = 0, device: str = "cpu",
                    progress: bool = True, ema_decay: float = 0.999, warmup: int | None = None,
                    stop_after: int | None = None, metadata: dict | None = None) -> SurrogateFit:
    """Train an :class:`EventSurrogate` from scratch and save it (EMA weights) to ``out``.

    ``data``: :class:`PaddedEvents` or a provider (see the module docstring). Each step draws
    ``batch_events`` events (with replacement) and ``k_particles`` particles per event. The
    standardisation of log pT, η and the summaries is fitted on a seeded random probe of ≤ 1024 events.
    With ``out`` set the run checkpoints to ``OUT.ckpt.pt`` (weights, optimiser, EMA, generator, step)
    and, when ``resume``, continues an interrupted run bit-identically (same device and arguments);
    ``stop_after`` interrupts after that many steps (as Ctrl-C would). Under torchrun it trains
    data-parallel (:mod:`qcdgen.train.distributed`). ``metadata`` (plain JSON-like facts such as the
    vocabulary and the condition scaler) is stored in the saved model under ``training["data"]``.
    """
    dev = resolve_device(device)
    ctx = distributed_context(dev)
    dev = local_device(dev, ctx)
    make_generator(seed, dev)  # validates seed
    batch_events, k_particles = check_positive_int(batch_events, "batch_events"), check_positive_int(k_particles, "k_particles")
    data = _check_provider(data, dev)
    if len(data) < 2:
        raise InputError(f"training needs at least 2 events, got {len(data)}")
    n_steps = _steps(steps, epochs, len(data), batch_events)
    probe_gen = make_generator(seed + 1, dev)
    probe_idx = torch.randperm(len(data), generator=probe_gen, device=dev)[:1024]
    probe = _tensors(data.batch(probe_idx, k_particles, probe_gen), dev)
    cfg = _complete_config(config, data, probe)
    model = build_surrogate(cfg, seed, dev)
    model.check_batch(**probe)
    model.fit_standardisation(probe["x"], probe["mask"], probe["n"], probe["summaries"])
    settings = TrainSettings(steps=n_steps, batch_size=batch_events, lr=lr, ema_decay=ema_decay, seed=seed,
                             warmup=min(100, n_steps // 10) if warmup is None else warmup,
                             log_every=min(10, n_steps))
    ckpt = _checkpoint(out, resume)
    meta = {"task": "train", "config": asdict(cfg), "events": len(data), "k_particles": k_particles}
    result, curves = _run(model, data, settings, k_particles=k_particles, checkpoint=ckpt, meta=meta,
                          progress=progress, stop_after=stop_after, description="surrogate", device=dev)
    return _finish(model, result, curves, None if out is None else Path(out), ctx,
                   {"task": "train", "steps": n_steps, "events": len(data), "k_particles": k_particles,
                    "batch_events": batch_events, "lr": lr, "seed": seed, "data": metadata or {}})


def _checkpoint(out, resume: bool) -> Path | None:
    if out is None:
        return None
    check_writable(out, "model")
    ckpt = default_checkpoint_path(out)
    if not resume:
        ckpt.unlink(missing_ok=True)
    return ckpt


def finetune_surrogate(checkpoint: str | Path | EventSurrogate, data, *, steps: int = 500, lr: float = 1e-4,
                       parts: str = "all", batch_events: int = 32, k_particles: int = 256,
                       out: str | Path | None = None, resume: bool = True, seed: int = 0, device: str = "cpu",
                       progress: bool = True, ema_decay: float = 0.999, stop_after: int | None = None,
                       metadata: dict | None = None) -> SurrogateFit:
    """Continue training a saved surrogate on new data (e.g. another system or generator) at a small ``lr``.

    ``parts="all"`` adapts everything; ``parts="decoder"`` freezes the encoder, so z keeps its meaning and
    only the momentum decoder, the species and multiplicity heads and the prior adapt (safer with
    little data). The standardisation of the original model is kept (the networks' inputs keep their
    scale), and the conditions must have the original meaning and standardisation. Warm-up is 10%
    of the steps; optimiser state starts fresh.
    """
    if parts not in PARTS:
        raise InputError(f"parts must be one of {PARTS}, got {parts!r}")
    dev = resolve_device(device)
    ctx = distributed_context(dev)
    dev = local_device(dev, ctx)
    make_generator(seed, dev)
    batch_events, k_particles = check_positive_int(batch_events, "batch_events"), check_positive_int(k_particles, "k_particles")
    steps = check_positive_int(steps, "steps")
    if isinstance(checkpoint, EventSurrogate):
        model, source = checkpoint.to(dev), "in-memory model"
    else:
        model, source = load_surrogate(checkpoint, dev), str(Path(checkpoint).resolve())
    data = _check_provider(data, dev)
    if len(data) < 2:
        raise InputError(f"fine-tuning needs at least 2 events, got {len(data)}")
    n_species = getattr(data, "n_species", None)
    if n_species is not None and int(n_species) != model.config.n_species:
        raise InputError(f"the data have {n_species} species classes, the model {model.config.n_species}")
    for p in model.encoder.parameters():
        p.requires_grad_(parts == "all")
    settings = TrainSettings(steps=steps, batch_size=batch_events, lr=lr, ema_decay=ema_decay, seed=seed,
                             warmup=steps // 10, log_every=min(10, steps))
    meta = {"task": "finetune", "source": source, "parts": parts, "config": asdict(model.config),
            "events": len(data), "k_particles": k_particles}
    try:
        result, curves = _run(model, data, settings, k_particles=k_particles, checkpoint=_checkpoint(out, resume),
                              meta=meta, progress=progress, stop_after=stop_after, description="fine-tuning",
                              device=dev)
    finally:
        for p in model.encoder.parameters():
            p.requires_grad_(True)
    return _finish(model, result, curves, None if out is None else Path(out), ctx,
                   {"task": "finetune", "source": source, "parts": parts, "steps": steps, "events": len(data),
                    "k_particles": k_particles, "batch_events": batch_events, "lr": lr, "seed": seed,
                    "data": metadata if metadata is not None else getattr(model, "training_info", {}).get("data", {})})
