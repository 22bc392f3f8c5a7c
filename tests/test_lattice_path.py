"""The lattice path sampler end to end: free-field exactness, resume, CLI round trip, user mistakes."""

import json
import math

import h5py
import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.errors import InputError, NaNError
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_log_partition, free_phi2
from qcdgen.lattice.observables import measure
from qcdgen.lattice.path_sampler import (PathSettings, load_path_model, sample_lattice_path_sampler,
                                         save_path_model, train_lattice_path_sampler)
from qcdgen.io import read_ensemble

pytestmark = pytest.mark.usefixtures("one_thread")

L, KAPPA = 4, 0.2
FREE = Phi4Action(size=L, kappa=KAPPA, lam=0.0, dim=2)
QUICK = dict(time_steps=8, sigma=1.0, sigma0=0.7, backward="fixed", blocks=1, channels=8)


@pytest.fixture(scope="module")
def free_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("path")
    model = train_lattice_path_sampler(FREE, d / "free.pt", PathSettings(steps=150, eval_paths=512, **QUICK), progress=False)
    return d, model


def test_free_field_log_z_and_phi2_are_exact(free_model):
    d, model = free_model
    assert model.restarts == [] and not (d / "free.pt.ckpt.pt").exists()
    result = sample_lattice_path_sampler(d / "free.pt", d / "free.h5", configs=3000, chains=2, progress=False, seed=1)
    exact = free_log_partition(L, KAPPA, 2)
    assert result.importance_ess > 0.05  # the delta-method error of log Z is trustworthy
    assert abs(result.log_z.value - exact) < 3 * result.log_z.error, (result.log_z, exact)
    assert result.summary.acceptance > 0.1
    # <W> = KL − log Z >= −log Z
    assert result.mean_work.value > -exact - 3 * result.mean_work.error
    ens = read_ensemble(d / "free.h5")
    phi2 = measure(torch.as_tensor(ens.phi), FREE, chains=ens.chain)["phi2"]
    assert abs(phi2.value - free_phi2(L, KAPPA, 2)) < 3 * phi2.error, (phi2, free_phi2(L, KAPPA, 2))
    assert ens.attrs["sampler"] == "path-tb+imh" and ens.attrs["exact"] == 1
    assert ens.attrs["log_z"] == pytest.approx(result.log_z.value)
    # the evaluation written at training time agrees with the exact value too
    ev = model.evaluation
    assert abs(ev["log_z"] - exact) < 3 * ev["log_z_error"]


def test_model_file_round_trip(free_model, tmp_path):
    d, model = free_model
    loaded = load_path_model(d / "free.pt")
    assert loaded.settings == model.settings and loaded.action == FREE
    assert loaded.restarts == [] and loaded.train_seconds == pytest.approx(model.train_seconds)
    for k, v in model.sampler.state_dict().items():
        torch.testing.assert_close(loaded.sampler.state_dict()[k], v)
    assert set(loaded.metrics) == {"ess", "log_z", "log_z_tb", "mean_work"}


def test_training_and_sampling_resume_after_interruption(tmp_path):
    settings = PathSettings(steps=8, batch_size=16, eval_paths=16, **{**QUICK, "backward": "learned"})
    full = train_lattice_path_sampler(FREE, tmp_path / "full.pt", settings, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train_lattice_path_sampler(FREE, tmp_path / "part.pt", settings, progress=False, stop_after=3)
    assert (tmp_path / "part.pt.ckpt.pt").exists() and not (tmp_path / "part.pt").exists()
    part = train_lattice_path_sampler(FREE, tmp_path / "part.pt", settings, progress=False)
    for k, v in full.sampler.state_dict().items():
        assert torch.equal(part.sampler.state_dict()[k], v), k
    assert part.loss_values.tolist() == full.loss_values.tolist()
    kw = dict(configs=30, batch_size=10, seed=3, progress=False)
    sample_lattice_path_sampler(tmp_path / "full.pt", tmp_path / "a.h5", **kw)
    with pytest.raises(KeyboardInterrupt):
        sample_lattice_path_sampler(tmp_path / "full.pt", tmp_path / "b.h5", stop_after=1, **kw)
    assert (tmp_path / "b.h5.ckpt.pt").exists() and not (tmp_path / "b.h5").exists()
    sample_lattice_path_sampler(tmp_path / "full.pt", tmp_path / "b.h5", **kw)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a["phi"][...], b["phi"][...])
    assert not (tmp_path / "b.h5.ckpt.pt").exists()


def test_a_nan_work_raises_instead_of_being_averaged(free_model, tmp_path):
    d, model = free_model
    with torch.no_grad():
        broken = load_path_model(d / "free.pt")
        broken.sampler.forward_net.out.conv.weight.fill_(math.nan)
    save_path_model(tmp_path / "nan.pt", broken)
    with pytest.raises(NaNError, match="non-finite work"):
        sample_lattice_path_sampler(tmp_path / "nan.pt", tmp_path / "g.h5", configs=10, progress=False)
    assert not (tmp_path / "g.h5").exists()


def test_cli_train_sample_validate(tmp_path, capsys):
    d = tmp_path
    argv = ["lattice", "path-train", "--size", "4", "--kappa", "0.2", "--lam", "0.05", "--out", str(d / "p.pt"),
            "--steps", "60", "--time-steps", "6", "--backward", "fixed", "--blocks", "1", "--eval-paths", "256",
            "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "log Z =" in out and "restarts: 0" in out and "exact log Z" not in out  # lam > 0: no exact value
    assert main(["lattice", "path-sample", str(d / "p.pt"), "--configs", "400", "--out", str(d / "g.h5"),
                 "--chains", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Metropolis acceptance" in out and "log Z =" in out
    with h5py.File(d / "g.h5") as f:
        assert f["phi"].shape == (400, 4, 4) and f.attrs["sampler"] == "path-tb+imh"
        assert 0 < f.attrs["acceptance"] <= 1 and sorted(set(f["chain"][...])) == [0, 1]
    assert main(["lattice", "hmc", "--size", "4", "--kappa", "0.2", "--lam", "0.05", "--configs", "200",
                 "--chains", "2", "--thermalize", "50", "--out", str(d / "ref.h5"), "--no-progress"]) == 0
    capsys.readouterr()
    code = main(["lattice", "validate", str(d / "g.h5"), "--reference", str(d / "ref.h5"), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["passed"], payload
    assert {"abs_m", "chi2", "phi2"} <= {r["observable"] for r in payload["rows"]}


def test_cli_free_field_prints_the_exact_log_z(tmp_path, capsys):
    assert main(["lattice", "path-train", "--size", "2", "--kappa", "0.1", "--lam", "0", "--dim", "1",
                 "--out", str(tmp_path / "p.pt"), "--steps", "5", "--time-steps", "2", "--eval-paths", "64",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "exact log Z (free field)" in out and "pull" in out


def test_user_mistakes_are_one_line(free_model, tmp_path, capsys):
    d, _ = free_model
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    train = ["lattice", "path-train", "--size", "4", "--kappa", "0.2", "--lam", "0", "--out", str(tmp_path / "m.pt")]
    sample = ["lattice", "path-sample", str(d / "free.pt"), "--out", str(tmp_path / "g.h5")]
    cases = [
        (train + ["--time-steps", "0"], "--time-steps"),
        (train + ["--sigma", "-1"], "--sigma"),
        (train + ["--lr", "nan"], "--lr"),
        (train + ["--batch-size", "0"], "--batch-size"),
        (train + ["--loss", "kl"], "--loss"),
        (train + ["--seed", "-2"], "--seed"),
        (["lattice", "path-train", "--size", "4", "--kappa", "0.3", "--lam", "0", "--out", str(tmp_path / "m.pt")],
         "kappa"),
        (train[:-1] + [str(tmp_path / "no" / "m.pt")], "does not exist"),
        (sample + ["--configs", "1"], "--configs"),
        (sample + ["--configs", "4", "--chains", "3"], "--configs"),
        (["lattice", "path-sample", str(tmp_path / "corrupt.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5")],
         "not a readable qcdgen checkpoint"),
        (["lattice", "path-sample", str(tmp_path / "none.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5")],
         "does not exist"),
    ]
    for argv, needle in cases:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses a bad choice itself, also in one line
            code = exc.code
        assert code == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (argv, err)
    with pytest.raises(InputError, match="--backward"):
        PathSettings(backward="bridge")
