"""The lattice diffusion pipeline end to end on tiny lattices, and its checks."""

import json

import h5py
import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.lattice.memorisation import memorisation_check, nearest_training_distance
from qcdgen.lattice.symmetries import random_symmetry

HMC = ["lattice", "hmc", "--size", "4", "--kappa", "0.2", "--lam", "0.05", "--configs", "80",
       "--chains", "2", "--thermalize", "50", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("dm")
    assert main(HMC + ["--out", str(d / "ref.h5"), "--seed", "1"]) == 0
    assert main(["lattice", "train", str(d / "ref.h5"), "--out", str(d / "model.pt"), "--steps", "60",
                 "--channels", "4", "--blocks", "1", "--no-progress"]) == 0
    return d


def test_train_sample_metropolis_validate(trained, capsys):
    d = trained
    lines = (d / "model.loss.csv").read_text().splitlines()
    assert lines[0] == "step,loss" and lines[-1].startswith("60,") and len(lines) == 7
    assert main(["lattice", "sample", str(d / "model.pt"), "--configs", "60", "--out", str(d / "gen.h5"),
                 "--metropolis", "--chains", "2", "--ode-steps", "4", "--mala-steps", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Metropolis acceptance" in out and "MALA acceptance" in out
    with h5py.File(d / "gen.h5") as f:
        assert f["phi"].shape == (60, 4, 4)
        assert f.attrs["sampler"] == "diffusion-ode+imh+mala2" and f.attrs["exact"] == 1
        assert 0 <= f.attrs["acceptance"] <= 1 and f.attrs["divergence"] == "exact"
        assert sorted(set(f["chain"][...])) == [0, 1]
    code = main(["lattice", "validate", str(d / "gen.h5"), "--reference", str(d / "ref.h5"),
                 "--report", str(d / "r.html"), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == (0 if payload["passed"] else 1)
    for key in ("abs_m", "chi2", "binder", "kappa4"):
        assert key in {r["observable"] for r in payload["rows"]}
    # kappa2 = V(<M^2> - <M>^2) is chi2 itself: compared once, named as an alias
    assert "kappa2" not in {r["observable"] for r in payload["rows"]} and payload["aliases"]["kappa2"] == "chi2"
    assert set(payload["rows"][0]) == {"observable", "reference", "reference_error", "generated",
                                       "generated_error", "pull"}
    assert [c["name"] for c in payload["checks"]] == ["memorisation"]
    html = (d / "r.html").read_text()
    assert html.count("data:image/png;base64,") >= 5 and "memorisation" in html


def test_sde_and_pc_samplers_and_resume(trained, tmp_path):
    d = trained
    for sampler in ("sde", "pc"):
        assert main(["lattice", "sample", str(d / "model.pt"), "--configs", "10", "--out",
                     str(tmp_path / f"{sampler}.h5"), "--sampler", sampler, "--sde-steps", "20",
                     "--no-progress"]) == 0
    from qcdgen.lattice.diffusion_sampling import SampleSettings, sample_lattice_diffusion
    settings = SampleSettings(configs=30, metropolis=True, ode_steps=3, batch_size=10, seed=4)
    sample_lattice_diffusion(d / "model.pt", tmp_path / "full.h5", settings, progress=False)
    with pytest.raises(KeyboardInterrupt):
        sample_lattice_diffusion(d / "model.pt", tmp_path / "part.h5", settings, progress=False, stop_after=1)
    assert (tmp_path / "part.h5.ckpt.pt").exists() and not (tmp_path / "part.h5").exists()
    sample_lattice_diffusion(d / "model.pt", tmp_path / "part.h5", settings, progress=False)
    with h5py.File(tmp_path / "full.h5") as a, h5py.File(tmp_path / "part.h5") as b:
        np.testing.assert_array_equal(a["phi"][...], b["phi"][...])


def test_user_mistakes_are_one_line(trained, tmp_path, capsys):
    d = trained
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "corrupt.h5").write_bytes(b"not hdf5")
    cases = [
        (["lattice", "sample", str(tmp_path / "corrupt.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5")],
         "not a readable qcdgen checkpoint"),
        (["lattice", "train", str(tmp_path / "corrupt.h5"), "--out", str(tmp_path / "m.pt")], "not a readable HDF5"),
        (["lattice", "sample", str(d / "model.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5"),
          "--mala-steps", "1", "--mala-step-size", "-1"], "--mala-step-size"),
        (["lattice", "validate", str(d / "ref.h5"), "--reference", str(d / "ref.h5"), "--report",
          str(tmp_path / "no" / "r.html")], "does not exist"),
        (["lattice", "sample", str(tmp_path / "none.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5")],
         "does not exist"),
        (["lattice", "sample", str(d / "ref.h5"), "--configs", "4", "--out", str(tmp_path / "g.h5")],
         "checkpoint"),
        (["lattice", "sample", str(d / "model.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5"),
          "--metropolis", "--sampler", "sde"], "--metropolis"),
        (["lattice", "train", str(d / "ref.h5"), "--out", str(tmp_path / "m.pt"), "--heldout-fraction", "1.5"],
         "--heldout-fraction"),
        (["lattice", "train", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "m.pt")], "does not exist"),
        (["lattice", "validate", str(d / "ref.h5"), "--reference", str(tmp_path / "missing.h5")], "does not exist"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err


def test_memorisation_check_catches_copies_and_passes_fresh_samples():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(200, 6, 6, generator=g, dtype=torch.float64)
    heldout = torch.randn(100, 6, 6, generator=g, dtype=torch.float64)
    fresh = torch.randn(100, 6, 6, generator=g, dtype=torch.float64)
    assert memorisation_check(fresh, heldout, train).passed
    copies = -torch.roll(train[:100], (1, 3), (1, 2)) + 1e-3 * torch.randn(100, 6, 6, generator=g, dtype=torch.float64)
    check = memorisation_check(copies, heldout, train)
    assert not check.passed and check.values["ratio"] < 0.01
    # the distance is minimised over translations and the sign flip
    assert nearest_training_distance(-torch.roll(train[:3], (2, 2), (1, 2)), train).max() < 1e-6


def test_random_symmetry_preserves_the_action():
    from qcdgen.lattice.actions import Phi4Action
    action = Phi4Action(size=6, kappa=0.25, lam=0.1, dim=2)
    phi = torch.randn(8, 6, 6, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        assert torch.allclose(action(random_symmetry(phi, g)), action(phi))


def test_distributed_data_parallel_training_with_torchrun(trained, tmp_path):
    """Two CPU processes (gloo) train one model with DDP; rank 0 writes it and it samples."""
    import os
    import subprocess
    import sys

    model = tmp_path / "ddp.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "qcdgen",
           "lattice", "train", str(trained / "ref.h5"), "--out", str(model), "--steps", "20", "--channels", "4",
           "--blocks", "1", "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    from qcdgen.lattice.diffusion_training import load_model
    loaded = load_model(model)
    assert len(loaded.loss_values) == 2 and np.isfinite(loaded.loss_values).all()
    assert not (tmp_path / "ddp.pt.ckpt.pt").exists()
