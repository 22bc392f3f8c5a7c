"""The ``qcdgen hic generate`` pipeline: run a generator in chunks into one Parquet file, resumably.

Chunk i is generated with its own seed ``SeedSequence([seed, i])``, so the file depends only
on (model, settings, seed, chunk size) and not on where a run was interrupted. Finished
chunks are kept in ``OUT.parts/`` (with a manifest of the settings); rerunning the same
command skips them, and the final file is assembled atomically when all chunks exist.
Generators with a ``sidecar`` method (``hydro``) also write per-event arrays (the initial
entropy profiles) to ``OUT-stem.profiles.h5``, keyed by ``event_id`` = the event's row in OUT.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from qcdgen.checks import check_positive_int
from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.hic.events import EventWriter, iter_events, write_events
from qcdgen.io.atomic import atomic_write_text, check_writable
from qcdgen.runtime import CheckpointedLoop

__all__ = ["MODELS", "make_generator", "generate_to_file", "GenerationSummary"]

MODELS = ("hydro", "blastwave", "angantyr")


def make_generator(model: str, **settings):
    """A generator object with ``.generate(n, rng) -> (events, states)`` and ``.settings``
    (``"hydro"``: real (2+1)D viscous hydro; ``"blastwave"``: the hydro-inspired blast wave)."""
    if model == "blastwave":
        from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator

        return HydroInspiredGenerator(**settings)
    if model == "hydro":
        from qcdgen.hic.generators.hydro import HydroGenerator

        return HydroGenerator(**settings)
    if model == "angantyr":
        from qcdgen.hic.generators.angantyr import AngantyrGenerator

        allowed = {"system", "sqrts", "centrality", "b_range"}
        ignored = sorted(k for k, v in settings.items() if k not in allowed and v is not None)
        if ignored:
            raise InputError(f"--model angantyr has no {', '.join('--' + k.replace('_', '-') for k in ignored)} "
                             "(Angantyr has no hydrodynamic stage); drop those options")
        return AngantyrGenerator(**{k: v for k, v in settings.items() if k in allowed})
    raise InputError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")


@dataclass
class GenerationSummary:
    path: Path
    n_events: int
    seconds: float
    mean_multiplicity: float
    resumed_chunks: int
    sidecar: Path | None = None

    @property
    def events_per_second(self) -> float:
        return self.n_events / self.seconds if self.seconds > 0 else float("inf")


def _settings_dict(gen) -> dict:
    return json.loads(json.dumps(gen.settings.to_dict(), default=str))


def sidecar_path(out: str | Path) -> Path:
    """The HDF5 file beside ``out`` holding per-event arrays keyed by event id (E.parquet -> E.profiles.h5)."""
    out = Path(out)
    return out.with_name(out.stem + ".profiles.h5")


def generate_to_file(out: str | Path, model: str = "blastwave", n_events: int = 1000, seed: int = 0,
                     chunk_events: int = 100, progress: bool = True, stop_after: int | None = None,
                     **settings) -> GenerationSummary:
    """Generate ``n_events`` events with ``model`` into the Parquet file ``out`` (resumable)."""
    n_events = check_positive_int(n_events, "--events")
    chunk_events = check_positive_int(chunk_events, "--chunk-events")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    out = check_writable(out, "event")
    gen = make_generator(model, **settings)
    manifest = {"model": model, "settings": _settings_dict(gen), "seed": int(seed),
                "chunk_events": chunk_events, "n_events": n_events, "qcdgen_version": __version__}
    parts = out.with_name(out.name + ".parts")
    _prepare_parts(parts, manifest)
    n_chunks = -(-n_events // chunk_events)
    done = {i for i in range(n_chunks) if (parts / f"{i:06d}.parquet").exists()}
    start = time.perf_counter()
    mult_sum, made = 0, 0
    with CheckpointedLoop(lambda: None, f"{model} events", total=n_chunks, completed=len(done),
                          progress=progress, stop_after=stop_after) as loop:
        for i in range(n_chunks):
            if i in done:
                continue
            size = min(chunk_events, n_events - i * chunk_events)
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
            events, states = gen.generate(size, rng)
            if getattr(gen, "writes_sidecar", False):
                _write_sidecar(parts / f"{i:06d}.h5", gen.sidecar(states), i * chunk_events)
            write_events(parts / f"{i:06d}.parquet", events, row_group_events=chunk_events)
            made += size
            mult_sum += int(ak.sum(ak.num(events.particles)))
            loop.step(status=f"{made + len(done) * chunk_events} events")
    seconds = time.perf_counter() - start
    metadata = {"generator": model, "settings": manifest["settings"], "seed": int(seed),
                "chunk_events": chunk_events}
    with EventWriter(out, metadata) as writer:
        for i in range(n_chunks):
            for chunk in iter_events(parts / f"{i:06d}.parquet"):
                writer.write(chunk)
    side = None
    if getattr(gen, "writes_sidecar", False):
        side = sidecar_path(out)
        _merge_sidecars([parts / f"{i:06d}.h5" for i in range(n_chunks)], side)
    shutil.rmtree(parts)
    return GenerationSummary(out, writer.n_events, seconds, mult_sum / made if made else float("nan"), len(done),
                             side)


def _write_sidecar(path: Path, side: dict, first_id: int) -> None:
    """Per-event arrays of one chunk (event ids first_id, first_id + 1, ...), written atomically."""
    import h5py

    from qcdgen.io.atomic import atomic_path

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        n = None
        for name, arr in side["arrays"].items():
            f.create_dataset(name, data=arr)
            n = len(arr)
        f.create_dataset("event_id", data=np.arange(first_id, first_id + (n or 0), dtype=np.int64))
        for key, value in side.get("attrs", {}).items():
            f.attrs[key] = value


def _merge_sidecars(paths: list[Path], out: Path) -> None:
    """One HDF5 file: every dataset concatenated over chunks; ``event_id`` is the event's row in the Parquet file."""
    import h5py

    from qcdgen.io.atomic import atomic_path

    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        parts = [h5py.File(p, "r") for p in paths]
        try:
            for name in parts[0]:
                f.create_dataset(name, data=np.concatenate([p[name][()] for p in parts]), compression="gzip")
            for key, value in parts[0].attrs.items():
                f.attrs[key] = value
        finally:
            for p in parts:
                p.close()


def _prepare_parts(parts: Path, manifest: dict) -> None:
    path = parts / "manifest.json"
    if parts.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old != manifest:
            raise InputError(f"{str(parts)!r} holds a partial run with different options; "
                             "rerun with the same options to resume, or delete that directory")
        return
    parts.mkdir()
    atomic_write_text(path, json.dumps(manifest, indent=1))
