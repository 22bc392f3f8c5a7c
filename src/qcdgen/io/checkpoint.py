"""Checkpoints as ``.pt`` files: tensors, plain config and the package version.

Saved atomically and loaded with ``weights_only=True`` (no arbitrary pickles executed).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import torch

from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.io.atomic import atomic_path


def default_checkpoint_path(out: str | Path) -> Path:
    """Where a long run writing ``out`` keeps its checkpoint: ``OUT.ckpt.pt`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt.pt")


def save_checkpoint(path: str | Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save({"qcdgen_version": __version__, **payload}, tmp)


def plain_values(value, arrays_as_tensors: bool = True):
    """Nested dicts/lists with NumPy values made loadable with ``weights_only=True``: arrays become tensors
    (or lists), NumPy scalars Python scalars, keys strings."""
    if isinstance(value, dict):
        return {str(k): plain_values(v, arrays_as_tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(v, arrays_as_tensors) for v in value]
    if isinstance(value, np.ndarray):
        return torch.as_tensor(value) if arrays_as_tensors and value.dtype.kind in "fiub" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_checkpoint(path: str | Path, kind: str | Collection[str]) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` whose ``kind`` field matches (one of) ``kind``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"checkpoint {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign or corrupt files
        raise InputError(f"{str(path)!r} is not a readable qcdgen checkpoint ({type(exc).__name__})") from None
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    if not isinstance(payload, dict) or payload.get("kind") not in kinds:
        raise InputError(f"{str(path)!r} is not a qcdgen {' or '.join(kinds)} checkpoint")
    return payload


def load_matching_checkpoint(path: str | Path, kind: str, key: str, expected) -> dict:
    """Load a checkpoint to resume from, refusing one whose ``payload[key]`` differs from ``expected``
    (a run with other settings or inputs must not be continued silently)."""
    payload = load_checkpoint(path, kind)
    if payload.get(key) != expected:
        raise InputError(f"checkpoint {str(path)!r} belongs to a {kind} run with other settings or inputs; "
                         "delete it or rerun with the same parameters")
    return payload
