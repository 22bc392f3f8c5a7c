"""The lattice flow pipeline against exact results: free field, two-site quadrature; resume, NaN guard, CLI."""

import json
import math
import warnings

import h5py
import numpy as np
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.errors import InputError, NaNError
from qcdgen.io import load_checkpoint
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_log_partition, free_phi2, two_site_expectation
from qcdgen.lattice.flow_sampler import (FlowSettings, load_flow_model, sample_lattice_flow, train_lattice_flow)
from qcdgen.runtime import torch_threads
from qcdgen.stats import gamma_method

pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread is fastest
FREE = Phi4Action(size=4, kappa=0.2, lam=0.0)


def chain_mean(values: np.ndarray, chain: np.ndarray):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = gamma_method(values, replicas=chain)
    return est.value, est.error


@pytest.fixture(scope="module")
def free_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("flow")
    settings = FlowSettings(layers=4, channels=4, steps=120, batch_size=128, lr=1e-2, eval_samples=4000)
    with torch_threads(1):
        model = train_lattice_flow(FREE, d / "free.pt", settings, progress=False)
    return d, model


def test_free_field_log_z_ess_and_corrected_phi2(free_model):
    d, model = free_model
    ev = model.evaluation
    exact = free_log_partition(4, 0.2, 2)
    assert abs(ev["log_z"] - exact) < 3 * ev["log_z_error"] and ev["ess"] > 0.9
    assert ev["kl"] == pytest.approx(ev["loss"] + ev["log_z"]) and ev["kl"] >= 0
    assert ev["loss"] > -exact - 3 * ev["loss_error"]  # F_q >= −log Z
    result = sample_lattice_flow(d / "free.pt", d / "free.h5", 3000, chains=2, batch_size=1000, progress=False)
    m = result.metropolis
    assert abs(m.log_z.value - exact) < 3 * m.log_z.error and m.acceptance > 0.8
    with h5py.File(d / "free.h5") as f:
        phi, chain = f["phi"][...], f["chain"][...]
        assert f.attrs["sampler"] == "flow-affine+imh" and f.attrs["exact"] == 1
        assert f.attrs["log_z"] == m.log_z.value and len(json.loads(f.attrs["loss_values"])) > 0
    value, error = chain_mean((phi ** 2).mean(axis=(1, 2)), chain)
    assert abs(value - free_phi2(4, 0.2, 2)) < 3 * error


def test_saved_model_round_trip(free_model):
    d, model = free_model
    payload = load_checkpoint(d / "free.pt", "lattice-flow")
    assert payload["action"] == FREE.to_dict() and payload["config"]["layers"] == 4 and payload["restarts"] == []
    loaded = load_flow_model(d / "free.pt")
    x = torch.randn(8, 4, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.flow.log_prob(x), model.flow.log_prob(x))


def test_spline_flow_on_two_sites_matches_quadrature(tmp_path):
    """d = 1, L = 2, κ > 0 and λ > 0 together: the interacting reference is a 2D integral."""
    action = Phi4Action(size=2, kappa=0.3, lam=0.5, dim=1)
    settings = FlowSettings(coupling="rqs", layers=4, channels=4, bins=6, bound=3.0, steps=150, batch_size=128,
                            lr=1e-2, eval_samples=2000)
    model = train_lattice_flow(action, tmp_path / "rqs.pt", settings, progress=False)
    assert model.evaluation["ess"] > 0.8
    sample_lattice_flow(tmp_path / "rqs.pt", tmp_path / "rqs.h5", 4000, chains=2, progress=False)
    with h5py.File(tmp_path / "rqs.h5") as f:
        phi, chain = f["phi"][...], f["chain"][...]
    for obs, fn in ((phi[:, 0] * phi[:, 1], lambda a, b: a * b), (phi[:, 0] ** 2, lambda a, b: a * a)):
        value, error = chain_mean(obs, chain)
        assert abs(value - two_site_expectation(0.3, 0.5, fn)) < 3 * error


def test_training_resumes_bit_identically(tmp_path):
    settings = FlowSettings(layers=2, channels=2, steps=12, batch_size=16, warmup=2, eval_samples=16)
    full = train_lattice_flow(FREE, tmp_path / "full.pt", settings, progress=False)
    with pytest.raises(KeyboardInterrupt):
        train_lattice_flow(FREE, tmp_path / "part.pt", settings, progress=False, stop_after=5)
    assert (tmp_path / "part.pt.ckpt.pt").exists() and not (tmp_path / "part.pt").exists()
    resumed = train_lattice_flow(FREE, tmp_path / "part.pt", settings, progress=False)
    assert not (tmp_path / "part.pt.ckpt.pt").exists()
    for a, b in zip(full.flow.parameters(), resumed.flow.parameters()):
        assert torch.equal(a, b)
    assert resumed.loss_values.tolist() == full.loss_values.tolist()
    # sampling resumes too
    sample_lattice_flow(tmp_path / "full.pt", tmp_path / "a.h5", 40, batch_size=10, progress=False)
    with pytest.raises(KeyboardInterrupt):
        sample_lattice_flow(tmp_path / "full.pt", tmp_path / "b.h5", 40, batch_size=10, progress=False, stop_after=2)
    sample_lattice_flow(tmp_path / "full.pt", tmp_path / "b.h5", 40, batch_size=10, progress=False)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a["phi"][...], b["phi"][...])


def _nan_on_calls(monkeypatch, bad_calls):
    original = Phi4Action.log_prob
    calls = {"n": 0}

    def log_prob(self, phi):
        calls["n"] += 1
        out = original(self, phi)
        return out * math.nan if bad_calls(calls["n"]) else out

    monkeypatch.setattr(Phi4Action, "log_prob", log_prob)


def test_nan_guard_through_the_pipeline(tmp_path, monkeypatch):
    settings = FlowSettings(layers=2, channels=2, steps=20, batch_size=16, eval_samples=16)
    _nan_on_calls(monkeypatch, lambda n: n == 7)
    with pytest.warns(RuntimeWarning, match="restarted from the last good state"):
        train_lattice_flow(FREE, tmp_path / "m.pt", settings, progress=False)
    restarts = load_checkpoint(tmp_path / "m.pt", "lattice-flow")["restarts"]
    assert len(restarts) == 1 and restarts[0]["lr_scale"] == 0.5
    _nan_on_calls(monkeypatch, lambda n: True)
    with pytest.warns(RuntimeWarning), pytest.raises(NaNError, match="lower the learning rate"):
        train_lattice_flow(FREE, tmp_path / "bad.pt", settings, progress=False)
    with pytest.raises(NaNError):  # NaN log-weights are refused by the Metropolis step, never averaged
        sample_lattice_flow(tmp_path / "m.pt", tmp_path / "g.h5", 20, progress=False)
    assert not (tmp_path / "g.h5").exists()


def test_settings_name_the_flag():
    for kwargs, flag in ((dict(coupling="maf"), "--coupling"), (dict(layers=1), "--layers"),
                         (dict(kernel_size=4), "--kernel-size"), (dict(lr=-1.0), "--lr"),
                         (dict(bins=1), "--bins"), (dict(batch_size=1), "--batch-size"), (dict(z2="yes"), "z2")):
        with pytest.raises(InputError, match=flag):
            FlowSettings(**kwargs)
    with pytest.raises(InputError, match="--dim"):
        FlowSettings().check_lattice(Phi4Action(size=4, kappa=0.1, lam=0.1, dim=4))


def test_cli_train_sample_validate(tmp_path, capsys):
    d = tmp_path
    assert main(["lattice", "hmc", "-L", "4", "--kappa", "0.2", "--lam", "0.05", "--configs", "400", "--chains", "2",
                 "--thermalize", "100", "--out", str(d / "ref.h5"), "--seed", "1", "--no-progress"]) == 0
    assert main(["lattice", "flow-train", "-L", "4", "--kappa", "0.2", "--lam", "0.05", "--out", str(d / "f.pt"),
                 "--layers", "4", "--channels", "4", "--steps", "80", "--batch-size", "64", "--lr", "1e-2",
                 "--path-gradient", "--eval-samples", "1000", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "KL = F_q + log Z" in out and "restarts" in out and "log Z =" in out
    assert main(["lattice", "flow-sample", str(d / "f.pt"), "--configs", "600", "--out", str(d / "g.h5"),
                 "--chains", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Metropolis acceptance" in out and "tau_int" in out and "log Z" in out
    assert main(["lattice", "validate", str(d / "g.h5"), "--reference", str(d / "ref.h5")]) == 0
    assert "PASS" in capsys.readouterr().out


def test_cli_user_mistakes_are_one_line(tmp_path, capsys):
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    train = ["lattice", "flow-train", "-L", "4", "--kappa", "0.2", "--lam", "0", "--out", str(tmp_path / "m.pt")]
    cases = [
        (train + ["--layers", "1"], "--layers"),
        (train + ["--lr", "0"], "--lr"),
        (train + ["--kernel-size", "2"], "--kernel-size"),
        (["lattice", "flow-train", "-L", "4", "--kappa", "0.3", "--lam", "0", "--out", str(tmp_path / "m.pt")],
         "kappa"),
        (train + ["--device", "tpu"], "--device"),
        (["lattice", "flow-sample", str(tmp_path / "corrupt.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5")],
         "not a readable qcdgen checkpoint"),
        (["lattice", "flow-sample", str(tmp_path / "none.pt"), "--configs", "4", "--out", str(tmp_path / "g.h5")],
         "does not exist"),
        (["lattice", "flow-sample", str(tmp_path / "none.pt"), "--configs", "1", "--out", str(tmp_path / "g.h5")],
         "--configs"),
        (["lattice", "flow-sample", str(tmp_path / "none.pt"), "--configs", "4", "--chains", "3",
          "--out", str(tmp_path / "g.h5")], "--configs"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
