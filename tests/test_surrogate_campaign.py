"""``qcdgen infer simulate --model surrogate``: a trained event surrogate as the campaign's simulator.

A tiny surrogate (O–O blast-wave events, conditioned on eta_s and centrality) runs a 3-point
campaign; its rows are the generator campaign's rows (same observables, same classes), its events
carry the design value and a centrality drawn inside the training range, the per-point seeds make
a rerun bit-identical, and design parameters the surrogate cannot take are refused in one line.
"""

import json

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.hic.events import read_events, write_events
from qcdgen.hic.generation import make_generator
from qcdgen.inference.design import make_design, write_design

pytestmark = pytest.mark.usefixtures("one_thread")

CLASSES = ["--centrality-classes", "0-50,50-100"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("surrogate_campaign")
    files = []
    for eta_s, seed in ((0.05, 1), (0.2, 2)):
        gen = make_generator("blastwave", system="OO", sqrts=2760.0, eta_s=eta_s)
        events, _ = gen.generate(24, np.random.default_rng(seed))
        files.append(root / f"train_{eta_s}.parquet")
        write_events(files[-1], events)
    model = root / "s.pt"
    assert main(["hic", "train", *map(str, files), "--condition", "eta_s,centrality", "--out", str(model),
                 "--steps", "10", "--batch-events", "8", "--k-particles", "64", "--no-progress"]) == 0
    design = write_design(root / "design.csv", make_design([("eta_s", 0.08, 0.18)], 3, seed=3))
    return {"root": root, "model": model, "design": design}


def _simulate(setup, out, *extra):
    return main(["infer", "simulate", str(setup["design"]), "--events", "10", "--seed", "5", *CLASSES,
                 "--workers", "0", "--out", str(out), "--no-progress", *extra])


def _keys(point):
    record = json.loads((point / "observables.json").read_text())
    return {(r["observable"], r["class"]) for r in record["observables"]}


def test_surrogate_campaign_rows_match_generator_campaign(setup, tmp_path, capsys):
    sur, gen = tmp_path / "sur", tmp_path / "gen"
    assert _simulate(setup, sur, "--model", "surrogate", "--surrogate", str(setup["model"])) == 0
    assert _simulate(setup, gen, "--system", "OO", "--model", "blastwave") == 0
    for i in range(3):
        point = f"point_{i:04d}"
        assert _keys(sur / point) == _keys(gen / point)
        assert {("v2{2}", "0-50%"), ("dNch/deta", "50-100%")} <= _keys(sur / point)
        # the design value is the events' eta_s; centrality is drawn inside the training range [0, 100]
        params = json.loads((sur / point / "observables.json").read_text())["params"]
        events = read_events(sur / point / "events.parquet")
        assert len(events) == 10 and np.all(np.asarray(events.eta_s) == params["eta_s"])
        cent = np.asarray(events.centrality)
        assert np.all((cent >= 0) & (cent <= 100)) and np.unique(cent).size == 10
    # per-point seeds: a fresh run is bit-identical; a rerun resumes (nothing to do)
    again = tmp_path / "again"
    assert _simulate(setup, again, "--model", "surrogate", "--surrogate", str(setup["model"])) == 0
    for i in range(3):
        point = f"point_{i:04d}"
        for name in ("observables.json", "observe.json"):
            assert (again / point / name).read_bytes() == (sur / point / name).read_bytes()
    capsys.readouterr()
    assert _simulate(setup, sur, "--model", "surrogate", "--surrogate", str(setup["model"])) == 0
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize("param,message", [
    ("T_kin=0.08:0.10", "'T_kin' is not a condition of the surrogate"),
    ("eta_s=0.02:0.30", "outside the surrogate's training range 0.05:0.2"),
])
def test_surrogate_refuses_what_it_was_not_trained_on(setup, tmp_path, capsys, param, message):
    name, rng = param.split("=")
    lo, hi = map(float, rng.split(":"))
    design = write_design(tmp_path / "d.csv", make_design([(name, lo, hi)], 3, seed=1))
    out = tmp_path / "out"
    rc = main(["infer", "simulate", str(design), "--model", "surrogate", "--surrogate", str(setup["model"]),
               "--workers", "0", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_surrogate_option_goes_with_model_surrogate(setup, tmp_path, capsys):
    rc = main(["infer", "simulate", str(setup["design"]), "--model", "surrogate", "--workers", "0",
               "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "--surrogate" in err and len(err.strip().splitlines()) == 1, err
