"""Run-time plumbing shared by every pipeline: devices, seeds and progress bars."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` intra-op CPU threads, then restore the previous setting.

    Small dense problems (a 50 × 500 kernel) are dominated by thread start-up and lose badly
    when the machine is shared; one thread is the right choice for them.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def progress_bar(enabled: bool = True) -> Progress:
    """A rich progress bar on stderr (silent when disabled or not attached to a terminal)."""
    from rich.console import Console

    console = Console(file=sys.stderr)
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=not enabled or not console.is_terminal, transient=False,
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


class CheckpointedLoop:
    """A long loop's plumbing: progress bar, Ctrl-C deferred to a step boundary, periodic checkpoints.

    Usage::

        with CheckpointedLoop(save, "training", total=n, completed=k, progress=True) as loop:
            while ...:
                do_one_step()
                loop.step(status="loss 0.12")

    ``save()`` is called every ``seconds`` and when the loop is interrupted (Ctrl-C, or after
    ``stop_after`` steps as the resume tests do); the KeyboardInterrupt then propagates.
    """

    def __init__(self, save, description: str, total: int, completed: int = 0, progress: bool = True,
                 seconds: float = 60.0, stop_after: int | None = None):
        import time

        self._time = time.monotonic
        self.save, self.seconds, self.stop_after = save, float(seconds), stop_after
        self.description, self.total, self.completed = description, total, completed
        self.steps_taken = 0
        self._bar = progress_bar(progress)
        self._interrupt = DeferredInterrupt()
        self._last_save = self._time()

    def __enter__(self) -> "CheckpointedLoop":
        self._bar.__enter__()
        self._interrupt.__enter__()
        self._task = self._bar.add_task(self.description, total=self.total, completed=self.completed, status="")
        return self

    def relabel(self, description: str, total: int, completed: int) -> None:
        self._bar.update(self._task, description=description, total=total, completed=completed)

    def step(self, status: str = "") -> None:
        self.steps_taken += 1
        self._bar.update(self._task, advance=1, status=status)
        if self._interrupt.requested or (self.stop_after is not None and self.steps_taken >= self.stop_after):
            raise KeyboardInterrupt  # only ever between complete steps
        if self._time() - self._last_save > self.seconds:
            self.save()
            self._last_save = self._time()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is KeyboardInterrupt:
                self.save()
        finally:
            self._interrupt.__exit__(exc_type, exc, tb)
            self._bar.__exit__(exc_type, exc, tb)
