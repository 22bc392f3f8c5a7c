"""Run-time plumbing shared by every pipeline: devices, seeds, CPU threads and progress reports."""

from __future__ import annotations

import contextlib
import os
import sys
import time

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from qcdgen.errors import InputError

THREADS_ENV = "QCDGEN_THREADS"
PROGRESS_SECONDS_ENV = "QCDGEN_PROGRESS_SECONDS"
#: Elements touched by one tensor operation from which a second CPU thread pays for its wake-ups.
#: Below it (an 8x8 lattice batch, a 50 x 500 kernel) one thread is as fast on an idle machine
#: and up to 30x faster on a shared one: OpenMP threads that spin while a core is taken stall
#: every small operation.
PARALLEL_WORK = 1 << 18

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


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_requested_threads: int | None = None


def set_threads(n: int | None) -> None:
    """Fix the CPU thread count of every pipeline (``qcdgen --threads N``); ``None`` = choose by workload."""
    global _requested_threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise InputError(f"--threads must be an integer >= 1, got {n!r}")
    _requested_threads = n


def requested_threads() -> int | None:
    """The thread count fixed by :func:`set_threads`, else by ``$QCDGEN_THREADS``, else ``None``."""
    if _requested_threads is not None:
        return _requested_threads
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise InputError(f"${THREADS_ENV} must be an integer >= 1, got {raw!r}")
    return n


def choose_threads(work: float) -> int:
    """CPU threads for a workload whose tensor operations touch about ``work`` elements each.

    One thread below :data:`PARALLEL_WORK`, every available core from ``4 * PARALLEL_WORK``
    on, and a linear ramp between. ``--threads`` / ``$QCDGEN_THREADS`` override the choice.
    """
    fixed = requested_threads()
    if fixed is not None:
        return fixed
    cores = cpu_cores()
    if work < PARALLEL_WORK:
        return 1
    return int(min(cores, max(1, round(work / PARALLEL_WORK))))


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` intra-op CPU threads (torch, NumPy's BLAS, scikit-learn's OpenMP), then restore.

    Small dense problems (a 50 × 500 kernel) are dominated by thread start-up and lose badly
    when the machine is shared; one thread is the right choice for them.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with _library_threads(n):
            yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def threads_for(work: float, device: str | torch.device = "cpu"):
    """:func:`torch_threads` with :func:`choose_threads` ``(work)``; on a GPU only the host side is set."""
    try:
        on_cpu = torch.device(device).type == "cpu"
    except (RuntimeError, TypeError):
        on_cpu = True  # a bad device name is reported by resolve_device
    with torch_threads(choose_threads(work) if on_cpu else 1):
        yield


def threaded(work_of):
    """Decorator: run a pipeline under :func:`threads_for` ``(work_of(arguments))``.

    ``work_of`` gets the call's bound arguments (a dict, defaults applied) and returns the
    number of elements a typical tensor operation of the run touches; the ``device``
    argument, if the pipeline has one, is honoured.
    """
    import functools
    import inspect

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            device = arguments.get("device") or getattr(arguments.get("settings"), "device", "cpu")
            try:
                work = float(work_of(arguments))
            except (AttributeError, TypeError, ValueError):
                work = 0.0  # malformed settings: the pipeline itself reports them
            with threads_for(work, device if isinstance(device, (str, torch.device)) else "cpu"):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


@contextlib.contextmanager
def _library_threads(n: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it NumPy keeps its default
        yield
        return
    with threadpool_limits(limits=n):  # BLAS under NumPy/SciPy and OpenMP pools (scikit-learn's too)
        yield


_allocator_tuned = False


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of handing it back to the kernel at once.

    By default every allocation above 32 MB is a fresh ``mmap`` that is unmapped when freed, so a
    loop that builds the same large tensors again and again (the exact log q of a lattice batch:
    V vector-Jacobian products at once) spends most of its time in page faults: measured 71 s, of
    which 48 s in the kernel, against 19 s once freed memory is kept (``mallopt``: no mmap for
    large blocks, no trimming). Peak memory is unchanged. Idempotent; a no-op off glibc.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        ok = libc.mallopt(m_mmap_max, 0) == 1 and libc.mallopt(m_trim_threshold, 1 << 30) == 1
    except (OSError, AttributeError):
        ok = False
    _allocator_tuned = ok
    return ok


def progress_bar(enabled: bool = True):
    """Progress on stderr: a rich bar on a terminal, plain log lines elsewhere, nothing if disabled.

    Off a terminal (a log file, CI, ``nohup``) a line per task is written about every
    ``$QCDGEN_PROGRESS_SECONDS`` (default 10) seconds and when a task completes, so a
    long run is never silent.
    """
    from rich.console import Console

    console = Console(file=sys.stderr)
    if enabled and not console.is_terminal:
        return LineProgress()
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, disable=not enabled, transient=False,
    )


class LineProgress:
    """The subset of :class:`rich.progress.Progress` the pipelines use, printed as log lines."""

    def __init__(self, seconds: float | None = None, file=None):
        if seconds is None:
            try:
                seconds = float(os.environ.get(PROGRESS_SECONDS_ENV, "10"))
            except ValueError:
                seconds = 10.0
        self.seconds, self.file = max(0.0, seconds), file
        self._tasks: dict[int, dict] = {}

    def __enter__(self) -> "LineProgress":
        return self

    def start(self) -> None:
        """Nothing to start: lines are printed as tasks advance (rich's Progress API)."""

    def stop(self) -> None:
        self.__exit__(None, None, None)

    def __exit__(self, *exc) -> None:
        for task in self._tasks.values():
            if not task["done"] and task["completed"] > task["printed"]:
                self._print(task)

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields) -> int:
        now = time.monotonic()
        key = len(self._tasks)
        self._tasks[key] = {"description": description, "total": total, "completed": completed,
                            "status": fields.get("status", ""), "start": now, "last": now, "printed": completed,
                            "done": False}
        return key

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def update(self, task_id: int, *, advance: float | None = None, completed: float | None = None,
               total: float | None = None, description: str | None = None, status: str | None = None,
               **_) -> None:
        task = self._tasks[task_id]
        if description is not None and description != task["description"]:
            task.update(description=description, start=time.monotonic(), done=False)
        if total is not None:
            task["total"] = total
        if completed is not None:
            task["completed"] = completed
        if advance is not None:
            task["completed"] += advance
        if status is not None:
            task["status"] = status
        now = time.monotonic()
        finished = task["total"] is not None and task["completed"] >= task["total"]
        if (finished and not task["done"]) or now - task["last"] >= self.seconds:
            task["done"] = finished
            self._print(task)

    def _print(self, task: dict) -> None:
        now = time.monotonic()
        task["last"], task["printed"] = now, task["completed"]
        elapsed = now - task["start"]
        done, total = task["completed"], task["total"]
        text = f"{task['description']}: {done:g}"
        if total:
            text += f"/{total:g} ({100 * done / total:.0f}%)"
        text += f", {elapsed:.0f} s"
        if total and 0 < done < total and elapsed > 0:
            text += f", about {elapsed * (total - done) / done:.0f} s left"
        if task["status"]:
            text += f", {task['status']}"
        print(text, file=self.file or sys.stderr, flush=True)


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
