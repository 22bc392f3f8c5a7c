"""Longer physics runs (minutes): `python -m pytest -m slow`. Excluded from the default suite."""

import pytest

from qcdgen.lattice.observe import observe_file
from qcdgen.lattice.exact import free_chi2, free_propagator
from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble
from qcdgen.stats import compare

pytestmark = pytest.mark.slow
TABLE = ["m", "abs_m", "m2", "chi2", "chi2_abs", "binder", "phi2", "action_density",
         "kappa2", "kappa4", "site_kappa2", "site_kappa4", "G_r1", "G_r4", "xi2"]


def test_plain_and_fourier_accelerated_hmc_agree_near_the_transition(tmp_path):
    """Both algorithms are exact, so on the interacting theory at κ = 0.26 every observable agrees."""
    base = dict(size=16, kappa=0.26, lam=0.022, configs=2000, chains=8, thermalize=1000)
    generate_hmc_ensemble(tmp_path / "plain.h5", HMCSettings(**base, seed=1, integrator="leapfrog"), progress=False)
    generate_hmc_ensemble(tmp_path / "fa.h5", HMCSettings(**base, seed=2, fourier_acceleration=True), progress=False)
    table = compare(observe_file(tmp_path / "plain.h5"), observe_file(tmp_path / "fa.h5"), observables=TABLE)
    print(table.format())
    assert table.passed


def test_free_field_16x16_with_fourier_acceleration(tmp_path):
    size, kappa = 16, 0.24
    generate_hmc_ensemble(tmp_path / "e.h5", HMCSettings(size=size, kappa=kappa, lam=0.0, configs=4000, chains=8,
                                                         seed=3, fourier_acceleration=True), progress=False)
    obs = observe_file(tmp_path / "e.h5")
    exact = free_propagator(size, kappa, 2)
    for r, g in enumerate(exact):
        assert abs(obs[f"G_r{r}"].value - g) < 3 * obs[f"G_r{r}"].error, r
    assert abs(obs["chi2"].value - free_chi2(size, kappa, 2)) < 3 * obs["chi2"].error
