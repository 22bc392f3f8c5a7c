"""Closure of the whole engine on a cheap fake simulator, and the calibrate/emulate CLI with bad input.

Fake simulator: two parameters (a, b) in [0, 1]², two observables in six "classes", smooth
in (a, b), with Gaussian noise of 0.005. Not the heavy-ion generator.
"""

import json

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.inference.calibrate import calibrate
from qcdgen.inference.campaign import run_campaign
from qcdgen.inference.data import ExperimentalData, data_csv_text, read_data
from qcdgen.inference.design import make_design, write_design
from qcdgen.inference.emulator import Emulator

CLASSES = [f"{10 * c}-{10 * c + 10}%" for c in range(6)]
KEYS = [(o, c) for o in ("f", "g") for c in CLASSES]
TRUTH = np.array([0.37, 0.61])
NOISE = 0.005


def model(theta, shift=(0.0, 0.0)):
    a, b = (np.atleast_2d(theta) + np.asarray(shift)).T
    c = np.arange(6)[None, :]
    f = a[:, None] * (1 + c / 5) + b[:, None] ** 2 * np.sin(c + 1) + 0.5 * (a * b)[:, None]
    g = np.exp(-a[:, None] * (c + 1) / 5) + 0.3 * b[:, None] * c / 5
    return np.concatenate([f, g], axis=1)


class FakeSimulator:
    """The campaign protocol: (params, seed, point_dir) -> rows."""

    def describe(self):
        return {"simulator": "fake"}

    def __call__(self, params, seed, point_dir):
        y = model([params["a"], params["b"]])[0] + NOISE * np.random.default_rng(seed).normal(size=12)
        (point_dir / "note.txt").write_text("fake\n")
        return [{"observable": o, "class": c, "value": v, "error": NOISE} for (o, c), v in zip(KEYS, y)]


def pseudo_data(seed=11, err=0.02):
    rng = np.random.default_rng(seed)
    return model(TRUTH)[0] + err * rng.normal(size=12), np.full(12, err)


def emulator(shift=(0.0, 0.0)):
    design = make_design([("a", 0, 1), ("b", 0, 1)], 24, seed=3)
    assert not np.any(np.all(np.isclose(design.points, TRUTH), axis=1))   # truth is not a design point
    Y = model(design.points, shift) + NOISE * np.random.default_rng(0).normal(size=(24, 12))
    return Emulator.fit(design.points, Y, design.box, KEYS, restarts=1)


def test_closure_recovers_the_truth_and_a_wrong_emulator_fails_it():
    y, err = pseudo_data()
    data = ExperimentalData(KEYS, y, err)
    good = calibrate(emulator(), data, seed=1, truth=TRUTH, max_steps=8000)
    assert good.mcmc.converged and np.all(good.mcmc.rhat < 1.1)
    assert np.all(good.truth_inside(0.95)), good.summary()
    assert good.chi2_map / good.ndf < 3
    # an emulator of a shifted simulator (a → a + 0.1) puts the posterior away from the truth
    bad = calibrate(emulator(shift=(0.1, 0.0)), data, seed=1, truth=TRUTH, max_steps=3000)
    assert not np.all(bad.truth_inside(0.95)), bad.summary()
    assert abs(np.median(bad.samples[:, 0]) - (TRUTH[0] - 0.1)) < 0.03


@pytest.fixture(scope="module")
def fake_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    design = make_design([("a", 0, 1), ("b", 0, 1)], 20, seed=5)
    write_design(root / "design.csv", design)
    summary = run_campaign(design, FakeSimulator(), root / "runs", seed=2, workers=0, progress=False)
    assert summary.ran == 20 and (root / "runs" / "point_0019" / "note.txt").is_file()
    again = run_campaign(design, FakeSimulator(), root / "runs", seed=2, workers=0, progress=False)
    assert again.ran == 0 and again.skipped == 20
    assert main(["infer", "emulate", str(root / "runs"), "--out", str(root / "emu.pt"), "--folds", "4",
                 "--restarts", "1"]) == 0
    return root


def test_cli_emulate_and_calibrate_end_to_end(fake_runs, tmp_path, capsys):
    root = fake_runs
    capsys.readouterr()
    assert (root / "emu.validation.csv").read_text().startswith("point,fold,observable,class")
    y, err = pseudo_data()
    (tmp_path / "data.csv").write_text(data_csv_text(KEYS, y, err))
    out, html, js = tmp_path / "posterior.csv", tmp_path / "calib.html", tmp_path / "summary.json"
    assert main(["infer", "calibrate", str(root / "emu.pt"), str(tmp_path / "data.csv"), "--out", str(out),
                 "--report", str(html), "--json", str(js), "--truth", "a=0.37,b=0.61", "--max-steps", "3000",
                 "--seed", "4", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "chi2/ndf at the MAP" in printed and "tau_int" in printed
    header = out.read_text().splitlines()[0]
    assert header == "a,b,log_posterior" and len(out.read_text().splitlines()) > 500
    page = html.read_text()
    assert page.count("<img") == 2 and "corner plot" in page and "R&#770;" in page
    summary = json.loads(js.read_text())
    assert all(p["truth_in_95"] for p in summary["parameters"])
    assert summary["mcmc"]["max_rhat"] < 1.1 and summary["ndf"] == 10


def _data_file(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case, match", [
    ("missing_column", "has no column 'error'"),
    ("nan", "column 'value' is 'nan'; only finite numbers"),
    ("unknown_observable", "observable 'h' is not in the runs; they have: f, g"),
    ("unknown_class", "observable 'f' has no class '90-100%' in the runs"),
    ("truth_outside", "--truth b = 1.5 is outside the design's range [0, 1]"),
    ("corrupt_emulator", "is not a readable qcdgen emulator file"),
])
def test_calibrate_bad_input_is_one_line_exit_2_and_no_output(fake_runs, tmp_path, capsys, case, match):
    good = "observable,class,value,error\nf,0-10%,0.5,0.02\ng,0-10%,0.9,0.02\n"
    data = {"missing_column": "observable,class,value\nf,0-10%,0.5\n",
            "nan": "observable,class,value,error\nf,0-10%,nan,0.02\n",
            "unknown_observable": good + "h,0-10%,1.0,0.1\n",
            "unknown_class": good + "f,90-100%,1.0,0.1\n"}.get(case, good)
    emu = str(fake_runs / "emu.pt")
    if case == "corrupt_emulator":
        emu = str(tmp_path / "corrupt.pt")
        (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04 not really a zip")
    args = ["infer", "calibrate", emu, _data_file(tmp_path / "d.csv", data), "--out", str(tmp_path / "p.csv"),
            "--report", str(tmp_path / "r.html"), "--max-steps", "100"]
    if case == "truth_outside":
        args += ["--truth", "a=0.5,b=1.5"]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "r.html").exists()


def test_data_file_errors_combined_in_quadrature(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('observable,class,value,error_stat,error_sys\n"v2{2,|deta|>1}",20-30%,0.1,0.003,0.004\n')
    d = read_data(path)
    assert d.keys == [("v2{2,|deta|>1}", "20-30%")] and np.isclose(d.errors[0], 0.005)
    path.write_text("observable,class,value,error\nf,0-10%,0.1,0.01\nf,0-10%,0.2,0.01\n")
    with pytest.raises(InputError, match="appears twice"):
        read_data(path)


def test_emulate_refuses_too_few_points_and_unknown_observable(fake_runs, tmp_path, capsys):
    design = make_design([("a", 0, 1), ("b", 0, 1)], 3, seed=1)
    run_campaign(design, FakeSimulator(), tmp_path / "few", seed=0, workers=0, progress=False)
    # remove one finished point: 2 points for 2 parameters
    (tmp_path / "few" / "point_0002" / "observables.json").unlink()
    capsys.readouterr()
    assert main(["infer", "emulate", str(tmp_path / "few"), "--out", str(tmp_path / "e.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 points for 2 parameters" in err[0] and not (tmp_path / "e.pt").exists()
    assert main(["infer", "emulate", str(fake_runs / "runs"), "--out", str(tmp_path / "e.pt"),
                 "--observables", "f,h"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "observable 'h' is not in the runs" in err[0]
