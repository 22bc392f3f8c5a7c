"""The checkpointed driver shared by the lattice Markov-chain generators (φ⁴/U(1) HMC, XY Wolff).

A run object walks through named phases (e.g. tuning, thermalisation, production) and exposes
``phase``, ``phase_length()``, ``done``, ``advance_phase()``, ``step_phase()``, a per-phase ``seconds``
dict and ``state_dict()``/``load_state_dict()``. :func:`drive_phases` resumes it from a matching
checkpoint, steps it to the end of its production phase with a progress bar, and checkpoints every
``checkpoint_seconds`` and on Ctrl-C (:class:`qcdgen.runtime.CheckpointedLoop`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from qcdgen.io import check_writable, load_matching_checkpoint, save_checkpoint
from qcdgen.io.checkpoint import default_checkpoint_path
from qcdgen.runtime import CheckpointedLoop

__all__ = ["checkpoint_paths", "drive_phases"]


def checkpoint_paths(out, checkpoint) -> tuple[Path, Path]:
    """(ensemble path, checkpoint path; default ``OUT.ckpt.pt``), both checked writable."""
    out = check_writable(out, "ensemble")
    ckpt_path = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(out)
    check_writable(ckpt_path, "checkpoint")
    return out, ckpt_path


def drive_phases(run, ckpt_path: Path, kind: str, settings: dict, status: Callable[[object], str], *,
                 progress: bool = True, checkpoint_seconds: float = 60.0, stop_after: int | None = None,
                 resume: bool = True) -> None:
    """Resume ``run`` from ``ckpt_path`` (if it exists, ``resume`` is set and it was written by ``kind`` with
    these ``settings``) and step it through its phases to the end of ``production``."""
    if resume and ckpt_path.exists():
        run.load_state_dict(load_matching_checkpoint(ckpt_path, kind, "settings", settings))
    loop = CheckpointedLoop(lambda: save_checkpoint(ckpt_path, run.state_dict()), run.phase,
                            total=run.phase_length(), completed=run.done, progress=progress,
                            seconds=checkpoint_seconds, stop_after=stop_after)
    with loop:
        while True:
            if run.done >= run.phase_length():
                if run.phase == "production":
                    break
                run.advance_phase()
                loop.relabel(run.phase, run.phase_length(), run.done)
                continue
            t0 = time.perf_counter()
            run.step_phase()
            run.seconds[run.phase] += time.perf_counter() - t0
            loop.step(status=status(run))
