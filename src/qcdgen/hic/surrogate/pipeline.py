"""Pipelines behind ``qcdgen hic train | sample | finetune``: event files in, a model or event files out.

- :func:`train_pipeline` reads one or more event files (any simulator qcdgen reads, converted
  to Parquet), trains an :class:`~qcdgen.hic.surrogate.model.EventSurrogate` conditioned on the
  chosen event fields and saves it with its species vocabulary and condition scaler.
- :func:`sample_pipeline` generates events at fixed conditions (``eta_s=0.1,b=8``) or event by
  event like a reference file (``like``), so a validation compares like with like; the
  reference's ``centrality`` is copied too, so both files fall into the same classes.
- :func:`finetune_pipeline` adapts a trained model to a small new dataset, keeping its
  vocabulary and condition standardisation (the conditions keep their meaning).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.hic.events import EventWriter, read_events
from qcdgen.hic.surrogate.data import ConditionScaler, EventTensors, load_event_tensors, sample_batch, tensors_to_events
from qcdgen.hic.surrogate.model import load_surrogate, sample_events
from qcdgen.hic.surrogate.train import finetune_surrogate, train_surrogate
from qcdgen.hic.surrogate.vocabulary import SpeciesVocabulary
from qcdgen.io.atomic import check_writable
from qcdgen.runtime import progress_bar, threaded


class TensorProvider:
    """The trainer's data interface over :class:`EventTensors`: ``batch(index, k, generator)``.

    Conditions are standardised with ``scaler`` (the model's own when fine-tuning). Particle
    subsampling runs on the CPU; a device generator seeds a CPU one (deterministic).
    """

    def __init__(self, tensors: EventTensors, scaler: ConditionScaler | None = None):
        self.tensors = tensors
        self.scaler = tensors.scaler if scaler is None else scaler
        self.n_species = len(tensors.vocabulary)

    def __len__(self) -> int:
        return self.tensors.n_events

    def batch(self, index: torch.Tensor, k: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        if generator.device.type != "cpu":
            seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator, device=generator.device))
            generator = torch.Generator().manual_seed(seed)
        b = sample_batch(self.tensors, index.cpu(), k, generator, scaler=self.scaler)
        dev = index.device
        return {"x": b.features.to(dev), "species": b.species.to(dev), "mask": b.mask.to(dev),
                "n": b.n.to(dev), "summaries": b.summaries.to(dev), "cond": b.conditions.to(dev)}


def _data_metadata(tensors: EventTensors, scaler: ConditionScaler, files: Sequence[str]) -> dict:
    return {"vocabulary": tensors.vocabulary.to_dict(), "scaler": scaler.to_dict(),
            "conditions": list(tensors.condition_names), "eta_max": tensors.eta_max,
            "files": [str(Path(f).resolve()) for f in files], "events": tensors.n_events,
            "mean_multiplicity": float(tensors.n.double().mean()),
            "condition_ranges": {n: [float(c.min()), float(c.max())] for n, c in
                                 zip(tensors.condition_names, tensors.conditions.double().T) if len(c)}}


def _files(files) -> list[str]:
    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not files:
        raise InputError("give at least one event file")
    return [str(f) for f in files]


# one step: batch_events x k_particles particles through 128-wide layers
@threaded(lambda a: a["batch_events"] * a["k_particles"] * 128)
def train_pipeline(files, *, conditions: Sequence[str] | str, out: str | os.PathLike, steps: int | None = None,
                   batch_events: int = 32, k_particles: int = 256, lr: float = 1e-3, eta_max: float | None = None,
                   max_events: int | None = None, config: dict | None = None, seed: int = 0, device: str = "cpu",
                   progress: bool = True, resume: bool = True):
    """Train a surrogate on ``files`` conditioned on the event fields ``conditions`` and save it to ``out``."""
    files = _files(files)
    check_writable(out, "--out")
    tensors = load_event_tensors(files, conditions, eta_max=eta_max, max_events=max_events, progress=progress)
    provider = TensorProvider(tensors)
    return train_surrogate(provider, config, steps=steps, batch_events=batch_events, k_particles=k_particles, lr=lr,
                           out=out, resume=resume, seed=seed, device=device, progress=progress,
                           metadata=_data_metadata(tensors, provider.scaler, files))


@dataclass
class LoadedSurrogate:
    """A saved model with the data facts it needs to read and write events."""

    model: object
    vocabulary: SpeciesVocabulary
    scaler: ConditionScaler
    conditions: list[str]
    eta_max: float | None


def load_pipeline_model(path: str | os.PathLike, device: str = "cpu") -> LoadedSurrogate:
    model = load_surrogate(path, device)
    data = getattr(model, "training_info", {}).get("data") or {}
    if "vocabulary" not in data or "scaler" not in data:
        raise InputError(f"{str(path)!r} was not written by qcdgen hic train (no vocabulary/scaler stored)")
    return LoadedSurrogate(model=model, vocabulary=SpeciesVocabulary.from_dict(data["vocabulary"]),
                           scaler=ConditionScaler.from_dict(data["scaler"]), conditions=list(data["conditions"]),
                           eta_max=data.get("eta_max"))


@threaded(lambda a: a["batch_events"] * a["k_particles"] * 128)
def finetune_pipeline(model_path: str | os.PathLike, files, *, out: str | os.PathLike, steps: int = 500,
                      lr: float = 1e-4, parts: str = "all", batch_events: int = 32, k_particles: int = 256,
                      max_events: int | None = None, seed: int = 0, device: str = "cpu", progress: bool = True,
                      resume: bool = True):
    """Adapt the model in ``model_path`` to ``files`` (same conditions, vocabulary and scaler)."""
    files = _files(files)
    check_writable(out, "--out")
    loaded = load_pipeline_model(model_path, device)
    tensors = load_event_tensors(files, loaded.conditions, vocabulary=loaded.vocabulary, eta_max=loaded.eta_max,
                                 max_events=max_events, progress=progress)
    provider = TensorProvider(tensors, scaler=loaded.scaler)
    meta = _data_metadata(tensors, loaded.scaler, files) | {"finetuned_from": str(Path(model_path).resolve())}
    return finetune_surrogate(loaded.model, provider, steps=steps, lr=lr, parts=parts, batch_events=batch_events,
                              k_particles=k_particles, out=out, resume=resume, seed=seed, device=device,
                              progress=progress, metadata=meta)


def parse_conditions(text: str | dict, names: Sequence[str]) -> dict[str, float]:
    """``"eta_s=0.1,b=8"`` → {name: value}; every model condition must be given exactly once."""
    if isinstance(text, dict):
        given = {str(k): v for k, v in text.items()}
    else:
        given = {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(f"--condition entries look like name=value, got {part.strip()!r}")
            key, value = (s.strip() for s in part.split("=", 1))
            try:
                given[key] = float(value)
            except ValueError:
                raise InputError(f"--condition {key} must be a number, got {value!r}") from None
    unknown = sorted(set(given) - set(names))
    missing = [n for n in names if n not in given]
    if unknown or missing:
        raise InputError(f"--condition must set exactly the model's conditions {','.join(names) or '(none)'}; "
                         + (f"unknown: {','.join(unknown)}" if unknown else f"missing: {','.join(missing)}"))
    for k, v in given.items():
        if not math.isfinite(float(v)):
            raise InputError(f"--condition {k} must be finite, got {v!r}")
    return {n: float(given[n]) for n in names}


def _like_conditions(path, names: Sequence[str], n_events: int | None) -> tuple[dict[str, np.ndarray], int]:
    """Event-by-event conditions (and centrality, when present) of a reference file."""
    events = read_events(path, max_events=n_events)
    fields = set(events.fields)
    missing = [n for n in names if n not in fields]
    if missing:
        raise InputError(f"--like file {str(path)!r} lacks the condition field(s) {','.join(missing)}")
    out = {n: np.asarray(events[n], dtype=np.float64) for n in names}
    if "centrality" in fields and "centrality" not in out:
        out["centrality"] = np.asarray(events["centrality"], dtype=np.float64)
    for n, v in out.items():
        if not np.isfinite(v).all():
            raise InputError(f"--like file {str(path)!r}: field {n!r} has NaN in {int((~np.isfinite(v)).sum())} events")
    return out, len(events)


@dataclass
class SampleSummary:
    path: Path
    n_events: int
    mean_multiplicity: float
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.n_events / self.seconds if self.seconds > 0 else math.inf


# decoding: cache-sized chunks of 2048 particles through 128-wide layers
@threaded(lambda a: 2048 * 128)
def sample_pipeline(model_path: str | os.PathLike, *, out: str | os.PathLike, events: int | None = None,
                    condition: str | dict | None = None, like: str | os.PathLike | None = None,
                    n_steps: int = 8, solver: str = "heun", chunk_events: int = 100, seed: int = 0,
                    device: str = "cpu", progress: bool = True) -> SampleSummary:
    """Generate events with a trained surrogate into a Parquet event file (written atomically, in chunks).

    Exactly one of ``condition`` (the same values for all ``events``) or ``like`` (conditions copied
    event by event from a reference file; ``events`` defaults to all of its events).
    """
    if (condition is None) == (like is None):
        raise InputError("give exactly one of --condition name=value,... or --like REF.parquet")
    if chunk_events < 1:
        raise InputError(f"--chunk-events must be >= 1, got {chunk_events}")
    check_writable(out, "--out")
    loaded = load_pipeline_model(model_path, device)
    if like is not None:
        if events is not None and events < 1:
            raise InputError(f"--events must be >= 1, got {events}")
        fields, n_events = _like_conditions(like, loaded.conditions, events)
    else:
        if events is None or isinstance(events, bool) or events < 1:
            raise InputError(f"--events must be an integer >= 1, got {events!r}")
        values = parse_conditions(condition, loaded.conditions)
        n_events = int(events)
        fields = {n: np.full(n_events, v) for n, v in values.items()}
    raw = np.stack([fields[n] for n in loaded.conditions], axis=1) if loaded.conditions else np.zeros((n_events, 0))
    cond = torch.as_tensor(loaded.scaler.transform(raw), dtype=torch.float32)

    start, total = time.perf_counter(), 0
    seeds = np.random.SeedSequence(seed).spawn(math.ceil(n_events / chunk_events))
    with EventWriter(out, metadata={"generator": "qcdgen surrogate", "model": str(Path(model_path).resolve()),
                                    "seed": seed, "n_steps": n_steps, "solver": solver}) as writer, \
            progress_bar(progress) as bar:
        task = bar.add_task("sampling", total=n_events, status="")
        for c, lo in enumerate(range(0, n_events, chunk_events)):
            hi = min(n_events, lo + chunk_events)
            chunk_seed = int(seeds[c].generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
            n, species, x = sample_events(loaded.model, cond[lo:hi], n_steps=n_steps, solver=solver,
                                          seed=chunk_seed, device=device)
            evs = tensors_to_events(n, species, x[:, 0], x[:, 1], x[:, 2],
                                    {k: v[lo:hi] for k, v in fields.items()}, loaded.vocabulary)
            writer.write(evs)
            total += int(n.sum())
            bar.update(task, advance=hi - lo)
    return SampleSummary(path=Path(out), n_events=n_events, mean_multiplicity=total / n_events,
                         seconds=time.perf_counter() - start)
