"""Training batches of the event surrogate: up to k particles per event, drawn exactly without replacement.

:func:`sample_batch` draws a :class:`Batch` from :class:`~qcdgen.hic.surrogate.data.EventTensors`;
:func:`train_test_split` splits the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from qcdgen.errors import InputError
from qcdgen.hic.surrogate.conditions import ConditionScaler

if TYPE_CHECKING:
    from qcdgen.hic.surrogate.data import EventTensors

__all__ = ["Batch", "sample_batch", "train_test_split", "check_event_idx", "VECTORISED_MAX_KEYS"]


def check_event_idx(event_idx, n_events: int) -> torch.Tensor:
    """Event indices as a 1-D int64 CPU tensor, each in [0, n_events)."""
    idx = torch.as_tensor(event_idx)
    if idx.ndim != 1 or idx.dtype.is_floating_point or idx.dtype == torch.bool:
        raise InputError(f"event_idx must be a 1-D integer array, got dtype {idx.dtype} shape {tuple(idx.shape)}")
    idx = idx.to(torch.int64).cpu()
    if len(idx) and (idx.min() < 0 or idx.max() >= n_events):
        raise InputError(f"event_idx must lie in [0, {n_events - 1}], got values from "
                         f"{int(idx.min())} to {int(idx.max())}")
    return idx


@dataclass
class Batch:
    """B events with up to k particles each (canonical frame).

    features [B, k, 3] float32 (padding 0); mask [B, k] bool (True = real particle);
    species [B, k] int64 (padding 0); particle_idx [B, k] int64 (row in the flat tensors,
    −1 = padding); n [B] int64 (the full multiplicity, not the subsample size); summaries
    [B, 4] float32; conditions [B, C] float32, standardised; event_idx [B] int64.
    """

    features: torch.Tensor
    mask: torch.Tensor
    species: torch.Tensor
    particle_idx: torch.Tensor
    n: torch.Tensor
    summaries: torch.Tensor
    conditions: torch.Tensor
    event_idx: torch.Tensor

    def to(self, device) -> "Batch":
        return Batch(**{k: v.to(device, non_blocking=True) for k, v in vars(self).items()})


def sample_batch(tensors: EventTensors, event_idx, k_particles: int, generator: torch.Generator,
                 scaler: ConditionScaler | None = None, device=None) -> Batch:
    """A :class:`Batch` of the events ``event_idx`` (repeats allowed): for each, min(N, k) of its
    particles drawn uniformly without replacement, in random order, from the CPU ``generator``.

    Two exact samplers, chosen by size (both deterministic for a seed): for
    B · N_max ≤ :data:`VECTORISED_MAX_KEYS`, i.i.d. uniform keys on the first N_max slots of every
    event (slots past its N get key 2) and the k smallest per row (``topk``); above that, one
    ``randperm(N)`` per event (≈ 0.1 ms per heavy-ion event), which is cheaper for big events.
    """
    if isinstance(k_particles, bool) or not isinstance(k_particles, (int, np.integer)) or k_particles < 1:
        raise InputError(f"k_particles must be an integer >= 1, got {k_particles!r}")
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise InputError("generator must be a CPU torch.Generator (the data live on the CPU)")
    k = int(k_particles)
    idx = check_event_idx(event_idx, tensors.n_events)
    scaler = tensors.scaler if scaler is None else scaler
    if tuple(scaler.names) != tuple(tensors.condition_names):
        raise InputError(f"scaler columns {list(scaler.names)} do not match the conditions "
                         f"{list(tensors.condition_names)}")
    n = tensors.n[idx]
    local = _subsample(n, k, generator)                                      # [B, k], -1 = padding
    mask = local >= 0
    rows = torch.where(mask, tensors.offsets[idx][:, None] + local, local)
    safe = rows.clamp(min=0).view(-1)
    features = tensors.features.index_select(0, safe).view(*rows.shape, -1) * mask[..., None]
    species = tensors.species.index_select(0, safe).view(rows.shape) * mask
    conditions = scaler.transform(tensors.conditions[idx]).to(torch.float32)
    batch = Batch(features, mask, species, rows, n, tensors.summaries[idx], conditions, idx)
    return batch if device is None else batch.to(device)


#: largest B · N_max for which :func:`sample_batch` uses the vectorised (topk) sampler
VECTORISED_MAX_KEYS = 1 << 20


def _subsample(n: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """[B, k] int64: per row, min(n_b, k) distinct uniform indices in [0, n_b), then −1 padding."""
    B = len(n)
    n_max = int(n.max()) if B else 0
    out = torch.full((B, k), -1, dtype=torch.int64)
    if n_max == 0:
        return out
    if B * n_max <= VECTORISED_MAX_KEYS:
        keys = torch.rand(B, n_max, generator=generator)
        keys.masked_fill_(torch.arange(n_max)[None, :] >= n[:, None], 2.0)
        top = keys.topk(min(k, n_max), dim=1, largest=False, sorted=True).indices
        out[:, : top.shape[1]] = top
        return out.masked_fill_(torch.arange(k)[None, :] >= n.clamp(max=k)[:, None], -1)
    for b, n_b in enumerate(n.tolist()):
        m = min(n_b, k)
        out[b, :m] = torch.randperm(n_b, generator=generator)[:m]
    return out


def train_test_split(n_events: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) event indices, sorted int64; the test set holds round(fraction · n) events
    (at least one each)."""
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 2:
        raise InputError(f"n_events must be an integer >= 2 to split, got {n_events!r}")
    if not isinstance(fraction, (float, int)) or not (0.0 < fraction < 1.0):
        raise InputError(f"the test fraction must be in (0, 1), got {fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    n_test = min(max(int(round(fraction * n_events)), 1), n_events - 1)
    perm = np.random.default_rng(int(seed)).permutation(int(n_events))
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    return torch.from_numpy(train).to(torch.int64), torch.from_numpy(test).to(torch.int64)
