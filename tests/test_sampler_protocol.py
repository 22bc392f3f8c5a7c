"""One protocol for every generative lattice sampler: a new sampler is one module plus one registration line.

The exact free-field Gaussian (:mod:`qcdgen.lattice.samplers.gaussian`) is registered here and run
through the shared pipeline: its proposals are exact, so independence Metropolis accepts all of them,
successive configurations are independent (τ_int = ½) and the shared log Z estimate is the exact one.
"""

import importlib
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import h5py
import pytest
import torch

from qcdgen.cli.main import main
from qcdgen.diffusion import StationaryGaussian
from qcdgen.errors import InputError
from qcdgen.io import load_checkpoint, save_checkpoint
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_log_partition, free_phi2
from qcdgen.lattice.samplers import (MODEL_FORMAT, SamplingSettings, get_sampler, load_sampler_model, register,
                                     registered, sample_lattice_sampler, train_lattice_sampler, unregister)
from qcdgen.lattice.samplers import gaussian as gaussian_module
from qcdgen.lattice.samplers.diffusion import DiffusionSettings, SampleSettings, build_score_model
from qcdgen.lattice.samplers.flow import FlowSettings, build_flow
from qcdgen.stats import gamma_method

pytestmark = pytest.mark.usefixtures("one_thread")
FREE = Phi4Action(size=4, kappa=0.2, lam=0.0)


@pytest.fixture(scope="module")
def gaussian():
    spec = register(gaussian_module.FreeGaussianSampler())  # the one registration line
    yield spec
    unregister(spec.name)


@pytest.fixture(scope="module")
def trained(gaussian, tmp_path_factory):
    d = tmp_path_factory.mktemp("gaussian")
    model = train_lattice_sampler("gaussian", FREE, d / "g.pt", progress=False)
    return d, model


def test_the_new_sampler_is_one_short_module():
    assert len(Path(gaussian_module.__file__).read_text().splitlines()) < 100


def test_exact_proposals_are_all_accepted_and_log_z_is_the_exact_one(trained):
    d, model = trained
    exact = free_log_partition(4, 0.2, 2)
    assert model.exact_log_z == pytest.approx(exact, abs=1e-12)
    x, log_q = model.draw(8, torch.Generator().manual_seed(0))  # the protocol's draw: log q = −S − log Z
    assert x.shape == (8, 4, 4) and torch.allclose(log_q, -FREE(x) - exact, atol=1e-9)
    result = sample_lattice_sampler(d / "g.pt", d / "g.h5", SamplingSettings(configs=2000, chains=2, batch_size=500,
                                                                               seed=1), progress=False)
    assert result.sampler == "gaussian+imh" and result.exact
    assert result.acceptance > 0.999 and result.importance_ess > 0.999
    assert result.log_z.value == pytest.approx(exact, abs=1e-6) and result.exact_log_z == pytest.approx(exact)
    # independent proposals: tau_int(|M|) = 1/2, one independent configuration per proposal
    tau = result.tau_int_abs_m
    assert abs(tau.value - 0.5) < 3 * tau.error + 0.05
    with h5py.File(d / "g.h5") as f:
        phi, chain = f["phi"][...], f["chain"][...]
        assert f.attrs["sampler"] == "gaussian+imh" and f.attrs["exact"] == 1
        assert f.attrs["log_z"] == result.log_z.value and f.attrs["acceptance"] == result.acceptance
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phi2 = gamma_method((phi ** 2).mean(axis=(1, 2)), replicas=chain)
    assert abs(phi2.value - free_phi2(4, 0.2, 2)) < 3 * phi2.error


def test_one_model_file_format(trained):
    d, model = trained
    payload = load_checkpoint(d / "g.pt", "lattice-free-gaussian")
    assert payload["format"] == MODEL_FORMAT and payload["sampler"] == "gaussian"
    assert {"config", "action", "weights", "curves", "restarts", "train_seconds", "evaluation"} <= set(payload)
    loaded = load_sampler_model(d / "g.pt")
    assert loaded.name == "gaussian" and loaded.action == FREE and loaded.settings == model.settings
    for k, v in model.module.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[k], v)
    with pytest.raises(InputError, match="not a qcdgen lattice-flow checkpoint"):
        load_sampler_model(d / "g.pt", sampler="flow")


def test_registry(gaussian):
    assert registered()[:3] == ("diffusion", "flow", "path") and "gaussian" in registered()
    with pytest.raises(ValueError, match="already registered"):
        register(gaussian_module.FreeGaussianSampler())
    with pytest.raises(InputError, match="unknown lattice sampler 'nope'; choose from diffusion, flow, path"):
        get_sampler("nope")
    with pytest.raises(InputError, match="--lam 0"):
        train_lattice_sampler("gaussian", Phi4Action(size=4, kappa=0.2, lam=0.1), "never.pt", progress=False)


def test_model_files_from_before_the_shared_format_still_load(tmp_path):
    """The layouts the flow and diffusion modules wrote before the protocol (the path layout is the shared one)."""
    flow = build_flow(FlowSettings(layers=2, channels=2, seed=5), FREE.site_shape)
    save_checkpoint(tmp_path / "flow.pt", {
        "kind": "lattice-flow", "config": FlowSettings(layers=2, channels=2, seed=5).to_dict(),
        "action": FREE.to_dict(), "weights": flow.state_dict(), "loss_steps": [10], "loss_values": [1.5],
        "ess_values": [0.5], "log_z_values": [9.0], "kl_values": [0.2], "restarts": [], "train_seconds": 1.0,
        "evaluation": {"log_z": 9.9, "log_z_error": 0.1}})
    model = load_sampler_model(tmp_path / "flow.pt")
    assert model.name == "flow" and model.ess_values.tolist() == [0.5] and model.loss_values.tolist() == [1.5]
    assert model.exact_log_z == pytest.approx(free_log_partition(4, 0.2, 2))
    assert model.log_z_pull == pytest.approx((9.9 - model.exact_log_z) / 0.1)
    settings = DiffusionSettings(channels=2, blocks=1)
    score = build_score_model(settings, FREE, StationaryGaussian(torch.rand(4, 4) + 0.5))
    save_checkpoint(tmp_path / "diffusion.pt", {
        "kind": "lattice-diffusion", "settings": asdict(settings), "action": FREE.to_dict(),
        "sde": score.sde.to_dict(), "net": score.net.state_dict(), "gaussian_power": score.gaussian.power,
        "loss_steps": [10], "loss_values": [0.3], "train_seconds": 2.0, "training_file": "ref.h5",
        "training_configs": 80})
    model = load_sampler_model(tmp_path / "diffusion.pt", sampler="diffusion")
    assert torch.equal(model.score.gaussian.power, score.gaussian.power) and model.training_configs == 80
    for k, v in score.net.state_dict().items():
        assert torch.equal(model.score.net.state_dict()[k], v)


def test_every_sampler_refuses_a_bad_seed_before_any_file(tmp_path, capsys):
    """Training and sampling, every sampler: a negative --seed is one line naming it, exit 2, nothing written."""
    missing, out = str(tmp_path / "none.pt"), str(tmp_path / "m.pt")
    action = ["--size", "4", "--kappa", "0.2", "--lam", "0", "--out", out]
    commands = [["lattice", command, missing, "--configs", "4", "--out", str(tmp_path / "g.h5")]
                for command in ("sample", "flow-sample", "path-sample")]
    commands += [["lattice", "train", str(tmp_path / "none.h5"), "--out", out], ["lattice", "flow-train", *action],
                 ["lattice", "path-train", *action]]
    for argv in commands:
        assert main(argv + ["--seed", "-1"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--seed" in err[0], (argv, err)
    assert not list(tmp_path.iterdir())
    for settings in (lambda: SamplingSettings(configs=4, seed=-1), lambda: SampleSettings(configs=4, seed=-1)):
        with pytest.raises(InputError, match="--seed"):
            settings()


def test_the_old_import_paths_re_export_the_shared_pipeline():
    from qcdgen.lattice import diffusion_sampling, diffusion_training, flow_sampler, path_sampler, samplers

    assert flow_sampler.LatticeFlowModel is samplers.flow.LatticeFlowModel
    assert path_sampler.PathSettings is samplers.path.PathSettings and path_sampler.pull is samplers.pull
    assert diffusion_training.DiffusionSettings is DiffusionSettings
    assert diffusion_sampling.SampleSettings is SampleSettings
    sys.modules.pop("qcdgen.lattice.analysis", None)
    with pytest.warns(DeprecationWarning, match="qcdgen.lattice.observe"):
        analysis = importlib.import_module("qcdgen.lattice.analysis")
    from qcdgen.lattice.observe import observe_file

    assert analysis.observe_file is observe_file
