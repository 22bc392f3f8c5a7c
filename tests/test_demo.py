"""``qcdgen demo``: every part on a tiny preset (fast), the quick preset's promises (slow)."""

import json
import math

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.demo import DemoPreset, run_demo
from qcdgen.demo.hic import HicDemo
from qcdgen.demo.inverse import InverseDemo, spectral_features
from qcdgen.demo.lattice import LatticeDemo
from qcdgen.lattice.diffusion_sampling import SampleSettings
from qcdgen.lattice.diffusion_training import DiffusionSettings
from qcdgen.lattice.hmc_ensemble import HMCSettings

pytestmark = pytest.mark.usefixtures("one_thread")

LATTICE_OUTPUTS = ("reference.h5", "model.pt", "generated.h5")
KEY_OBSERVABLES = ("abs_m", "chi2", "binder", "kappa4")

TINY_LATTICE = LatticeDemo(
    hmc=HMCSettings(size=4, kappa=0.2, lam=0.05, configs=200, chains=2, thermalize=50, fourier_acceleration=True),
    diffusion=DiffusionSettings(channels=4, blocks=1, steps=80, batch_size=32),
    sampling=SampleSettings(configs=100, metropolis=True, ode_steps=4, divergence="exact"),
)


@pytest.fixture(scope="module")
def tiny_surrogate(tmp_path_factory):
    """A 15-step surrogate of peripheral events, conditioned on b as the shipped one is."""
    out = tmp_path_factory.mktemp("demo_surrogate")
    assert main(["hic", "generate", "--events", "30", "--centrality", "60-70", "--seed", "5", "--out",
                 str(out / "train.parquet"), "--no-progress"]) == 0
    assert main(["hic", "train", str(out / "train.parquet"), "--condition", "b", "--out", str(out / "s.pt"),
                 "--steps", "15", "--batch-events", "8", "--k-particles", "64", "--no-progress"]) == 0
    return out / "s.pt"


def test_tiny_demo_runs_every_part_into_one_report(tmp_path, tiny_surrogate):
    preset = DemoPreset(lattice=TINY_LATTICE,
                        hic=HicDemo(events=40, centrality=(60.0, 70.0), classes=((60.0, 70.0),), model=str(tiny_surrogate)),
                        inverse=InverseDemo(ensemble=2))
    lines = []
    result = run_demo(tmp_path / "demo", preset=preset, progress=False, log=lines.append)
    for name in (*LATTICE_OUTPUTS, "hic_reference.parquet", "hic_surrogate.parquet", "spectral.csv",
                 "validation.json", "report.html"):
        assert (tmp_path / "demo" / name).is_file(), name
    assert list(result.sections) == ["lattice", "hic", "inverse"]
    assert [line for line in lines if line.startswith("[")] == [
        "[1/3] lattice sampler: phi^4 diffusion model + Metropolis vs HMC",
        "[2/3] heavy-ion surrogate vs event generator", "[3/3] spectral reconstruction: closure test"]
    payload = json.loads((tmp_path / "demo" / "validation.json").read_text())
    assert payload["passed"] == result.passed == all(s.passed for s in result.sections.values())
    assert set(payload["sections"]) == {"lattice", "hic", "inverse"}
    assert len(payload["sections"]["lattice"]["rows"]) > 20 and len(payload["sections"]["inverse"]["rows"]) == 4
    # the reference side of the closure test is the true Breit-Wigner: its features, exact on the grid
    # maximum of 4AGw/((a - w^2)^2 + 4G^2 w^2), a = M^2 + G^2: 3u^2 - (2a - 4G^2)u - a^2 = 0 for u = w^2
    truth = {r["observable"]: r["reference"] for r in payload["sections"]["inverse"]["rows"]}
    a, b = 2.0 ** 2 + 0.5 ** 2, 2 * (2.0 ** 2 + 0.5 ** 2) - 4 * 0.5 ** 2
    assert truth["peak_omega"] == pytest.approx(math.sqrt((b + math.sqrt(b * b + 12 * a * a)) / 6), abs=0.02)
    html = (tmp_path / "demo" / "report.html").read_text()
    assert html.count('class="result"') == 3


def test_only_runs_one_part(tmp_path):
    result = run_demo(tmp_path / "demo", preset=DemoPreset(lattice=TINY_LATTICE, inverse=InverseDemo(ensemble=2)),
                      only="inverse", progress=False)
    assert list(result.sections) == ["inverse"]
    assert not (tmp_path / "demo" / "reference.h5").exists()
    payload = json.loads((tmp_path / "demo" / "validation.json").read_text())
    assert set(payload["sections"]) == {"inverse"}


def test_spectral_features_of_a_gaussian_peak_are_exact():
    """∫ρ = A√(2π)w, ⟨ω⟩ = M, maximum at M of height A, for a peak far from the grid's ends."""
    omega = np.linspace(0.0, 20.0, 4001)
    A, M, w = 0.7, 6.0, 0.4
    rho = A * np.exp(-0.5 * ((omega - M) / w) ** 2)
    f = spectral_features(omega, rho)
    assert f["integral"] == pytest.approx(A * math.sqrt(2 * math.pi) * w, rel=1e-9)
    assert f["mean_omega"] == pytest.approx(M, rel=1e-9)
    assert f["peak_omega"] == pytest.approx(M) and f["peak_height"] == pytest.approx(A)


@pytest.mark.parametrize("argv,message", [
    (["demo", "--only", "nope"], "invalid choice"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--kappa", "-0.1"], "kappa"),
])
def test_bad_demo_input_is_one_line_and_exit_2_before_any_file(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) if message == "invalid choice" else _no_exit():
        code = main([*argv, "--out", str(out)])
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not out.exists()


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.slow
def test_quick_demo_is_exact_and_does_not_memorise(tmp_path):
    """The promise: with Metropolis on, |pull| < 3 for <|M|>, chi2, U_L, kappa4, and no copies; every part passes."""
    result = run_demo(tmp_path / "demo", progress=False)
    lattice = result.sections["lattice"]
    for name in KEY_OBSERVABLES:
        assert abs(lattice.row(name).pull) < 3, (name, lattice.row(name))
    assert [c.name for c in lattice.checks] == ["memorisation"] and lattice.checks[0].passed
    assert result.passed, {k: s.passed for k, s in result.sections.items()}


def test_the_shipped_surrogate_is_installed_small_and_conditioned_on_b():
    from qcdgen.demo.hic import shipped_surrogate
    from qcdgen.hic.surrogate.pipeline import load_pipeline_model

    path = shipped_surrogate()
    assert path.stat().st_size < 2_000_000
    assert load_pipeline_model(path).conditions == ["b"]
