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
    """A SIGINT at an arbitrary moment must leave a consistent checkpoint (never half a trajectory)."""
    import os
    import signal
    import threading

    settings = HMCSettings(size=16, kappa=0.22, lam=0.022, configs=800, chains=4, thermalize=100,
                           separation=10, seed=8)
    generate_hmc_ensemble(tmp_path / "straight.h5", settings, progress=False)
    out = tmp_path / "interrupted.h5"
    # CI may start us with SIGINT ignored (background job); restore Python's default handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            generate_hmc_ensemble(out, settings, progress=False)
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert default_checkpoint_path(out).exists()
    generate_hmc_ensemble(out, settings, progress=False)
    np.testing.assert_array_equal(read_ensemble(tmp_path / "straight.h5").phi, read_ensemble(out).phi)
