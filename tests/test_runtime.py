"""Run-time policy: thread counts chosen by workload (and overridden), progress lines off a terminal."""

import io
import subprocess
import sys

import pytest
import torch

from qcdgen import runtime
from qcdgen.errors import InputError
from qcdgen.runtime import LineProgress, choose_threads, progress_bar, set_threads, threads_for


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    set_threads(None)
    yield
    set_threads(None)


def test_small_work_gets_one_thread_and_large_work_every_core(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_cores", lambda: 8)
    assert choose_threads(4 * 64) == 1                        # HMC: 4 chains of an 8x8 lattice
    assert choose_threads(128 * 16 * 64) == 1                 # the demo's CNN training step
    assert choose_threads(2 * runtime.PARALLEL_WORK) == 2
    assert choose_threads(512 * 64 * 32 * 32) == 8            # the paper preset: L = 32, 64 channels: all cores
    assert choose_threads(1e12) == 8


def test_override_by_option_then_environment(monkeypatch):
    monkeypatch.setenv(runtime.THREADS_ENV, "3")
    assert choose_threads(0) == 3 and choose_threads(1e12) == 3
    set_threads(5)
    assert choose_threads(0) == 5
    set_threads(None)
    monkeypatch.setenv(runtime.THREADS_ENV, "zero")
    with pytest.raises(InputError, match="QCDGEN_THREADS"):
        choose_threads(0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="--threads"):
            set_threads(bad)


def test_threads_for_sets_and_restores_torch_threads():
    before = torch.get_num_threads()
    set_threads(2)
    with threads_for(0):
        assert torch.get_num_threads() == 2
    set_threads(None)
    with threads_for(0):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_threads_option_either_place_and_bad_values_are_one_line(tmp_path):
    """``--threads`` works before or after the subcommand; a bad value is one line and exit 2."""
    out = tmp_path / "e.h5"
    for argv in (["--threads", "2", "lattice", "hmc"], ["lattice", "hmc", "--threads", "2"]):
        run = subprocess.run([sys.executable, "-m", "qcdgen", *argv, "--size", "4", "--kappa", "0.1", "--lam", "0",
                              "--configs", "8", "--thermalize", "10", "--out", str(out), "--no-progress"],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    run = subprocess.run([sys.executable, "-m", "qcdgen", "lattice", "hmc", "--threads", "0", "--size", "4",
                          "--kappa", "0.1", "--lam", "0", "--configs", "8", "--out", str(tmp_path / "f.h5")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "--threads" in run.stderr
    assert not (tmp_path / "f.h5").exists()


def test_line_progress_prints_at_most_one_line_per_interval_and_one_at_the_end():
    out = io.StringIO()
    with LineProgress(seconds=3600, file=out) as bar:
        task = bar.add_task("training", total=100, status="")
        for _ in range(100):
            bar.update(task, advance=1, status="loss 0.5")
    lines = out.getvalue().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("training: 100/100 (100%)") and "loss 0.5" in lines[0]
    out = io.StringIO()
    with LineProgress(seconds=0, file=out) as bar:
        task = bar.add_task("sampling", total=4)
        for _ in range(3):
            bar.advance(task)
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == [
        "sampling: 1/4 (25%)", "sampling: 2/4 (50%)", "sampling: 3/4 (75%)"]


def test_progress_off_a_terminal_is_log_lines_and_disabled_is_silent():
    assert isinstance(progress_bar(True), LineProgress)        # pytest's stderr is not a terminal
    assert not isinstance(progress_bar(False), LineProgress)


def test_keep_freed_memory_is_idempotent_and_allocations_still_work():
    assert runtime.keep_freed_memory() is runtime.keep_freed_memory()
    big = torch.ones(64, 250, 64, 16)            # 65 MB, above glibc's default mmap threshold
    assert float(big.sum()) == 64 * 250 * 64 * 16
