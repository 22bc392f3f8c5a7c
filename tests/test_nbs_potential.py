"""HAL QCD potentials from NBS wave functions: the Yukawa case V = -alpha exp(-mu r)/r (mu = 1, alpha = 2, m = 3.3)
with wave functions from the radial solver, recovered by the Schroedinger residual and checked forward."""

import subprocess
import sys

import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.inverse.schrodinger.nbs import (NBSData, fit_nbs_potential, local_potential_pointwise,
                                            nbs_data_from_potential, read_nbs_csv, write_nbs_csv, yukawa)

ALPHA, MU, MASS = 2.0, 1.0, 3.3


@pytest.fixture(scope="module")
def data():
    return nbs_data_from_potential(yukawa(ALPHA, MU), mass=MASS, r_max=12.0, n_points=1200, states=4)


def _exact(r):
    return -ALPHA * np.exp(-MU * r) / r


def test_yukawa_box_has_two_bound_s_states(data):
    # 2 m alpha / mu = 13.2 lies between the Yukawa critical couplings 6.45 (2s) and 14.3 (3s): two bound states
    assert (data.energies < 0).sum() == 2
    assert np.all(np.diff(data.energies) > 0)


def test_pointwise_inversion_recovers_yukawa(data):
    v = local_potential_pointwise(data)
    inside = (data.r > 0.05) & (data.r < 6.0)
    assert np.max(np.abs(v[inside] / _exact(data.r[inside]) - 1)) < 2e-3


def test_neural_local_potential_recovers_yukawa_and_its_levels(data):
    fit = fit_nbs_potential(data, kind="local", steps=1500, seed=1)
    r = data.r
    # 1 % where V is large; 1e-3 absolute in the tail (|V| < 0.05 beyond r = 2.7), which the states barely probe
    probed = (r > 0.05) & (r < 8.0)
    assert np.all(np.abs(fit.V[probed] - _exact(r[probed])) < 0.01 * np.abs(_exact(r[probed])) + 1e-3)
    # forward check: the learned V's levels are the given energies (1 % of the ground-state binding)
    assert np.max(np.abs(fit.energy_errors)) < 0.01 * abs(data.energies[0])
    assert fit.residual < 1e-3


def test_separable_potential_reproduces_its_state(data):
    one = NBSData(r=data.r, h=data.h, energies=data.energies[:1], u=data.u[:1], mass=MASS)
    fit = fit_nbs_potential(one, kind="separable", steps=1500, seed=2)
    assert abs(fit.energy_errors[0]) < 0.01 * abs(data.energies[0])
    assert fit.omega == -1.0 and fit.residual < 1e-3


def test_wave_function_file_round_trip(data, tmp_path):
    path = tmp_path / "waves.csv"
    write_nbs_csv(data, path)
    back = read_nbs_csv(path, MASS)
    assert np.array_equal(back.u, data.u) and np.array_equal(back.energies, data.energies)
    assert back.h == pytest.approx(data.h)


def test_bad_inputs(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("state,energy,r\n1,0.1,0.5\n")
    with pytest.raises(InputError, match="state,energy,r,u"):
        read_nbs_csv(bad, MASS)
    with pytest.raises(InputError, match="mass"):
        read_nbs_csv(bad, -1.0)
    proc = subprocess.run([sys.executable, "-m", "qcdgen", "inverse", "nbs-potential", "--mass", "3.3", "--out",
                           str(tmp_path / "v.csv"), "--yukawa", "2"], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
