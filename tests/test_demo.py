"""``qcdgen demo``: the whole chain on a tiny preset (fast), and the quick preset's promises (slow)."""

import json

import pytest

from qcdgen.demo import DemoPreset, run_demo
from qcdgen.lattice.diffusion_sampling import SampleSettings
from qcdgen.lattice.diffusion_training import DiffusionSettings
from qcdgen.lattice.hmc_ensemble import HMCSettings

OUTPUTS = ("reference.h5", "model.pt", "generated.h5", "validation.json", "report.html")
KEY_OBSERVABLES = ("abs_m", "chi2", "binder", "kappa2", "kappa4")

TINY = DemoPreset(
    hmc=HMCSettings(size=4, kappa=0.2, lam=0.05, configs=200, chains=2, thermalize=50, fourier_acceleration=True),
    diffusion=DiffusionSettings(channels=4, blocks=1, steps=80, batch_size=32),
    sampling=SampleSettings(configs=100, metropolis=True, ode_steps=4, divergence="exact"),
)


def test_tiny_demo_writes_every_output(tmp_path, capsys):
    result = run_demo(tmp_path / "demo", preset=TINY, progress=False)
    for name in OUTPUTS:
        assert (tmp_path / "demo" / name).is_file(), name
    printed = capsys.readouterr().out
    assert ("PASS" if result.passed else "FAIL") in printed.splitlines()[-1]
    payload = json.loads((tmp_path / "demo" / "validation.json").read_text())
    assert payload["passed"] == result.passed and len(payload["rows"]) > 20


@pytest.mark.slow
def test_quick_demo_is_exact_and_does_not_memorise(tmp_path):
    """The issue's promise: with Metropolis on, |pull| < 3 for <|M|>, chi2, U_L, kappa2, kappa4, and no copies."""
    result = run_demo(tmp_path / "demo", progress=False)
    rows = {r.observable: r for r in result.table.rows}
    for name in KEY_OBSERVABLES:
        assert abs(rows[name].pull) < 3, (name, rows[name])
    assert [c.name for c in result.checks] == ["memorisation"] and result.checks[0].passed
