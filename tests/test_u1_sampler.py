"""The U(1) flow as a registered lattice sampler: train, sample with independence Metropolis, validate.

Independence Metropolis with the flow's exact log q makes the chain exact for any trained flow, so
⟨cos θ_P⟩ and χ_t must match the exact torus values (:mod:`qcdgen.lattice.u1.exact`) within errors;
the estimated log Z must match the exact one. The CLI refuses a model for another L or β.
"""

from __future__ import annotations

import json

import pytest

from qcdgen.cli.main import main
from qcdgen.lattice.observe import observe_file
from qcdgen.lattice.samplers import sample_lattice_sampler, train_lattice_sampler
from qcdgen.lattice.u1 import U1Action, exact
from qcdgen.lattice.u1.hmc import U1HMCSettings, generate_hmc_ensemble

SETTINGS = dict(layers=8, steps=120, batch_size=64, lr=0.02, warmup=10, eval_samples=1024, seed=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("u1flow")
    models = {}
    for beta in (1.0, 3.0):
        path = d / f"flow_b{beta:g}.pt"
        models[beta] = (path, train_lattice_sampler("u1-flow", U1Action(size=4, beta=beta), path, SETTINGS,
                                                    progress=False))
    return d, models


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_flow_with_metropolis_matches_the_exact_torus(trained, beta):
    d, models = trained
    path, model = models[beta]
    assert abs(model.log_z_pull) < 4, (model.evaluation, model.exact_log_z)
    out = d / f"flow_b{beta:g}.h5"
    result = sample_lattice_sampler(path, out, dict(configs=6000, chains=2, batch_size=1000, seed=5),
                                    sampler="u1-flow", progress=False)
    assert result.exact and result.acceptance > 0.05
    est = observe_file(out)
    for name, truth in (("plaquette", exact.plaquette(beta, 4)),
                        ("topological_susceptibility", exact.topological_susceptibility(beta, 4))):
        assert abs(est[name].value - truth) < 3 * est[name].error, (name, est[name], truth)


def test_validate_flow_against_hmc_passes_with_exact_checks(trained, capsys):
    d, models = trained
    path, _ = models[1.0]
    gen, ref = d / "gen.h5", d / "ref.h5"
    sample_lattice_sampler(path, gen, dict(configs=3000, seed=6), sampler="u1-flow", progress=False)
    generate_hmc_ensemble(ref, U1HMCSettings(size=4, beta=1.0, configs=1000, chains=8, thermalize=100, seed=2),
                          progress=False)
    assert main(["lattice", "validate", str(gen), "--reference", str(ref), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["observable"] for r in report["rows"]] == ["plaquette", "topological_charge",
                                                         "topological_susceptibility"]
    names = [c["name"] for c in report["checks"]]
    assert "generated topological_susceptibility vs exact" in names and report["passed"]


def test_sample_refuses_a_model_for_another_lattice_or_coupling(trained, tmp_path, capsys):
    _, models = trained
    path, _ = models[1.0]
    for flag, value in (("--beta", "3"), ("--size", "8")):
        out = tmp_path / "x.h5"
        assert main(["lattice", "u1-sample", str(path), flag, value, "--configs", "10", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and flag in err[0] and not out.exists()


def test_train_refuses_a_checkpoint_of_another_coupling_and_odd_sizes(trained, tmp_path, capsys):
    out = tmp_path / "m.pt"
    ckpt = tmp_path / "m.ckpt.pt"
    args = ["lattice", "u1-train", "--size", "4", "--layers", "8", "--steps", "20", "--batch-size", "16",
            "--eval-samples", "64", "--out", str(out), "--checkpoint", str(ckpt), "--no-progress"]
    # interrupt a run at β = 1 after 5 steps, leaving its checkpoint
    with pytest.raises(KeyboardInterrupt):
        train_lattice_sampler("u1-flow", U1Action(size=4, beta=1.0), out,
                              dict(layers=8, steps=20, batch_size=16, eval_samples=64), checkpoint=ckpt,
                              progress=False, stop_after=5)
    assert ckpt.exists()
    assert main([*args, "--beta", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint" in err[0].lower()
    assert main(["lattice", "u1-train", "--size", "6", "--beta", "1", "--out", str(tmp_path / "y.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size" in err[0]


def test_init_starts_from_a_trained_flow_and_refuses_another_lattice_or_architecture(trained, tmp_path, capsys):
    """Annealing in β: a flow trained at β = 1 is a far better start at β = 3 than the uniform prior."""
    _, models = trained
    path, _ = models[1.0]
    few = dict(SETTINGS, steps=1, warmup=0, eval_samples=512)
    scratch = train_lattice_sampler("u1-flow", U1Action(size=4, beta=3.0), tmp_path / "a.pt", few, progress=False)
    warm = train_lattice_sampler("u1-flow", U1Action(size=4, beta=3.0), tmp_path / "b.pt", few, progress=False,
                                 init=path)
    assert warm.evaluation["kl"] < scratch.evaluation["kl"] - 5 * (warm.evaluation["kl_error"]
                                                                    + scratch.evaluation["kl_error"])
    for extra in (["--size", "8", "--layers", "8"], ["--size", "4", "--layers", "16"]):
        out = tmp_path / "c.pt"
        assert main(["lattice", "u1-train", "--beta", "3", *extra, "--init", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--init" in err[0] and not out.exists()
