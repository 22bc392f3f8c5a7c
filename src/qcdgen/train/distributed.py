"""Multi-process data-parallel training with torch's DistributedDataParallel, launched by torchrun.

    torchrun --nproc_per_node=4 -m qcdgen lattice train ens.h5 --out model.pt --device cuda

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; each process then trains on its own slice of
every global batch (global batch = WORLD_SIZE × --batch-size) and DDP averages the gradients.
All processes share one random stream, so they draw the same global batch and stay in
lock-step; only rank 0 writes checkpoints and outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from qcdgen.errors import InputError


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def distributed_context(device: torch.device) -> DistributedContext:
    """Join the process group torchrun set up (if any); single-process runs get a trivial context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext()
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            if local >= torch.cuda.device_count():
                raise InputError(f"torchrun started {world} processes but only {torch.cuda.device_count()} "
                                 "GPUs are visible; lower --nproc_per_node")
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistributedContext(rank=rank, world_size=world, local_rank=local)


def wrap_distributed(model: torch.nn.Module, device: torch.device, ctx: DistributedContext) -> torch.nn.Module:
    """``model`` wrapped in DistributedDataParallel under torchrun (gradients averaged over the ranks);
    ``model`` itself in a single process. The optimiser keeps stepping ``model``'s parameters."""
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def local_device(device: torch.device, ctx: DistributedContext) -> torch.device:
    """cuda → cuda:LOCAL_RANK under torchrun; cpu stays cpu."""
    if ctx.active and device.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return device
