"""Checkpoint and resume: an interrupted run, resumed, gives the bit-identical ensemble."""

import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.io import read_ensemble
from qcdgen.lattice.hmc_ensemble import HMCSettings, default_checkpoint_path, generate_hmc_ensemble

SETTINGS = HMCSettings(size=6, kappa=0.24, lam=0.05, configs=30, chains=3, thermalize=40, seed=4)


@pytest.mark.parametrize("stop_at", [10, 45, 260])  # in thermalisation, in the pilot, in production
def test_interrupted_and_resumed_run_is_identical(tmp_path, stop_at):
    straight = generate_hmc_ensemble(tmp_path / "straight.h5", SETTINGS, progress=False)
    out = tmp_path / "resumed.h5"
    with pytest.raises(KeyboardInterrupt):
        generate_hmc_ensemble(out, SETTINGS, progress=False, stop_after=stop_at)
    assert default_checkpoint_path(out).exists() and not out.exists()
    resumed = generate_hmc_ensemble(out, SETTINGS, progress=False)
    assert not default_checkpoint_path(out).exists()
    a, b = read_ensemble(tmp_path / "straight.h5"), read_ensemble(out)
    np.testing.assert_array_equal(a.phi, b.phi)
    np.testing.assert_array_equal(a.chain, b.chain)
    assert straight.separation == resumed.separation
    assert straight.tau_int_abs_m.value == resumed.tau_int_abs_m.value


def test_checkpoint_from_other_settings_is_refused(tmp_path):
    out = tmp_path / "e.h5"
    with pytest.raises(KeyboardInterrupt):
        generate_hmc_ensemble(out, SETTINGS, progress=False, stop_after=5)
    other = HMCSettings(**{**SETTINGS.__dict__, "kappa": 0.2})
    with pytest.raises(InputError, match="other settings"):
        generate_hmc_ensemble(out, other, progress=False)


def test_real_ctrl_c_stops_between_trajectories_and_resumes_identically(tmp_path):
    """A real SIGINT to a running ``qcdgen lattice hmc`` leaves a consistent checkpoint and exit code 130;
    rerunning the command resumes to the bit-identical ensemble.

    The signal goes to a child process, never to pytest, and only once the child's first checkpoint
    exists (so its Ctrl-C handler is in place, 0.2 s into the run); the ~10^4 trajectories left then take far longer
    than the time the signal takes to arrive, on a quiet machine or a loaded one.
    """
    import signal
    import subprocess
    import sys
    import time

    settings = HMCSettings(size=16, kappa=0.22, lam=0.022, configs=4000, chains=4, thermalize=100,
                           separation=10, seed=8)
    generate_hmc_ensemble(tmp_path / "straight.h5", settings, progress=False)
    out = tmp_path / "interrupted.h5"
    ckpt = default_checkpoint_path(out)
    command = [sys.executable, "-m", "qcdgen", "lattice", "hmc", "--size", "16", "--kappa", "0.22", "--lam", "0.022",
               "--configs", "4000", "--chains", "4", "--thermalize", "100", "--separation", "10", "--seed", "8",
               "--out", str(out), "--checkpoint-seconds", "0.2", "--no-progress"]
    # the child gets Python's own Ctrl-C handling even if we were started with SIGINT ignored (CI background job)
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 600
        while not ckpt.exists():
            assert child.poll() is None, f"the run ended before its first checkpoint: {child.communicate()}"
            assert time.monotonic() < deadline, "no checkpoint after 600 s"
            time.sleep(0.005)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=600)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, (child.returncode, stdout, stderr)
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert ckpt.exists() and not out.exists()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert not ckpt.exists()
    np.testing.assert_array_equal(read_ensemble(tmp_path / "straight.h5").phi, read_ensemble(out).phi)
