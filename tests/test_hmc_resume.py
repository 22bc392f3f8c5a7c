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
