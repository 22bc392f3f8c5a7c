"""``qcdgen lattice xy-wolff / xy-train / xy-sample``, ``observe`` and ``validate`` on XY files; bad input exits 2;
an interrupted Wolff run resumes to the same ensemble."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.lattice.xy.wolff import WolffSettings, generate_wolff_ensemble


def test_wolff_observe_and_validate(tmp_path, capsys):
    ref, gen = tmp_path / "ref.h5", tmp_path / "gen.h5"
    common = ["--size", "4", "--temperature", "1.1", "--configs", "400", "--no-progress"]
    assert main(["lattice", "xy-wolff", *common, "--separation", "3", "--out", str(ref)]) == 0
    # plain Metropolis (no clusters, no over-relaxation) as the "generated" side; its tau_int(|M|) is ~15 sweeps
    # here, so the spacing comes from the pilot (a fixed 3 would leave < 50 independent samples, which validate
    # rightly refuses)
    assert main(["lattice", "xy-wolff", *common, "--clusters", "0", "--overrelax", "0", "--seed", "1",
                 "--out", str(gen)]) == 0
    capsys.readouterr()
    assert main(["lattice", "observe", str(ref), "--json"]) == 0
    obs = json.loads(capsys.readouterr().out)["observables"]
    for name in ("energy", "helicity_modulus", "vortex_density", "magnetisation"):
        assert set(obs[name]) >= {"value", "error"} and obs[name]["error"] > 0
    assert -2.0 < obs["energy"]["value"] < -1.0 and 0 < obs["helicity_modulus"]["value"] < 1.0
    code = main(["lattice", "validate", str(gen), "--reference", str(ref), "--json", "--max-pull", "4"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert {row["observable"] for row in out["rows"]} == {"energy", "magnetisation", "helicity_modulus",
                                                        "vortex_density"}
    with h5py.File(gen) as f:
        assert f.attrs["action"] == "xy" and f.attrs["sampler"] == "metropolis"


@pytest.mark.parametrize("args, message", [
    (["xy-wolff", "--size", "4", "--temperature", "0", "--configs", "10"], "--temperature must be"),
    (["xy-wolff", "--size", "4", "--temperature", "-0.5", "--configs", "10"], "--temperature must be"),
    (["xy-wolff", "--size", "5", "--temperature", "1", "--configs", "10"], "--size must be an even"),
    (["xy-train", "--size", "4", "--temperature", "1"], "smaller than the CAN's masked kernel"),
    (["xy-train", "--size", "8", "--temperature", "0"], "--temperature must be"),
    (["xy-train", "--size", "8", "--temperature", "nan"], "--temperature must be"),
    (["xy-train", "--size", "6", "--temperature", "1", "--kernel-size", "7"], "smaller than the CAN's masked kernel"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    assert main(["lattice", *args, "--out", str(tmp_path / "x.out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_interrupted_run_resumes_to_the_same_ensemble(tmp_path):
    settings = WolffSettings(size=4, temperature=0.9, configs=40, chains=2, seed=3, thermalize=30)
    generate_wolff_ensemble(tmp_path / "a.h5", settings, progress=False)
    with pytest.raises(KeyboardInterrupt):
        generate_wolff_ensemble(tmp_path / "b.h5", settings, progress=False, stop_after=50)
    generate_wolff_ensemble(tmp_path / "b.h5", settings, progress=False)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a["phi"][...], b["phi"][...])


def test_can_train_and_sample_commands(tmp_path, capsys):
    model, out = tmp_path / "can.pt", tmp_path / "can.h5"
    assert main(["lattice", "xy-train", "--size", "5", "--temperature", "1.5", "--kernel-size", "3", "--channels", "4",
                 "--depth", "2", "--steps", "5", "--batch-size", "16", "--eval-samples", "32", "--out", str(model),
                 "--no-progress"]) == 0
    assert main(["lattice", "xy-sample", str(model), "--configs", "50", "--out", str(out), "--no-progress"]) == 0
    assert "Metropolis acceptance" in capsys.readouterr().out
    with h5py.File(out) as f:
        assert f["phi"].shape == (50, 5, 5) and f.attrs["sampler"] == "xy-can+imh"
