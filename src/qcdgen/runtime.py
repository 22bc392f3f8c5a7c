"""Run-time plumbing shared by every pipeline: devices, seeds and progress bars."""

from __future__ import annotations

import sys

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from qcdgen.errors import InputError


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"cpu"``/``"cuda"``/``"cuda:1"`` into a device, refusing one that is not there."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"--device must be 'cpu' or 'cuda[:N]', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was requested but no CUDA GPU is visible to torch; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"--device must be 'cpu' or 'cuda[:N]', got {device!r}")
    return dev


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    return torch.Generator(device=device).manual_seed(seed)


def progress_bar(enabled: bool = True) -> Progress:
    """A rich progress bar on stderr (silent when disabled or not attached to a terminal)."""
    from rich.console import Console

    console = Console(file=sys.stderr)
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=not enabled, transient=False,
    )


class DeferredInterrupt:
    """Context manager that turns Ctrl-C (SIGINT) into a flag checked between complete steps.

    A long loop polls :attr:`requested` after each step and stops there, so the checkpoint it
    writes is always consistent (never a half-finished trajectory). Outside the main thread,
    or where SIGINT is ignored, it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        self.requested = True

    def __enter__(self) -> "DeferredInterrupt":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
