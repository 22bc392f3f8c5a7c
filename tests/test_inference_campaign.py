"""Simulation campaigns of the heavy-ion generator on Dask: worker-independent results, resume,
and refused input (unknown parameter, unreachable scheduler, too small a design)."""

import json

import pytest

from qcdgen.cli.main import main
from qcdgen.inference.design import make_design, write_design


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_workers_1_and_2_give_identical_files_and_rerun_resumes(tmp_path, capsys):
    design = write_design(tmp_path / "design.csv",
                          make_design([("eta_s", 0.05, 0.25), ("y_max", 0.3, 0.5)], 3, seed=2))
    common = ["infer", "simulate", str(design), "--system", "OO", "--events", "10", "--seed", "7",
              "--centrality-classes", "0-50,50-100", "--no-progress"]
    assert main(common + ["--workers", "2", "--out", str(tmp_path / "w2")]) == 0
    assert main(common + ["--workers", "1", "--out", str(tmp_path / "w1")]) == 0
    w1, w2 = _files(tmp_path / "w1"), _files(tmp_path / "w2")
    assert set(w1) == set(w2) and len(w1) == 1 + 3 * 3           # campaign.json + events, observe, observables
    assert all(w1[k] == w2[k] for k in w1), [str(k) for k in w1 if w1[k] != w2[k]]
    record = json.loads(w1[next(k for k in w1 if k.name == "observables.json")])
    keys = {(r["observable"], r["class"]) for r in record["observables"]}
    assert {("v2{2}", "0-50%"), ("dNch/deta", "50-100%"), ("mean_pt", "all")} <= keys
    observe = json.loads((tmp_path / "w1" / "point_0000" / "observe.json").read_text())
    assert set(observe["per_class"]) == {"0-50%", "50-100%"}          # hic observe --json layout
    # resume: a finished point is skipped, an unfinished one is redone with the same seed
    (tmp_path / "w1" / "point_0001" / "observables.json").unlink()
    capsys.readouterr()
    assert main(common + ["--workers", "0", "--out", str(tmp_path / "w1")]) == 0
    assert "2 finished points skipped" in capsys.readouterr().out
    assert _files(tmp_path / "w1") == w1
    assert main(common + ["--workers", "1", "--out", str(tmp_path / "w1")]) == 0
    assert "nothing to do" in capsys.readouterr().out
    # the same directory with another seed is refused
    assert main(common[:-3] + ["--seed", "8", "--workers", "1", "--out", str(tmp_path / "w1")]) == 2


@pytest.mark.parametrize("extra, design_params, points, match", [
    (["--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1"], [("eta_s", 0.05, 0.25)], 3,
     "--scheduler 'tcp://127.0.0.1:1' is not reachable"),
    ([], [("eta_s", 0.05, 0.25), ("foo", 0.0, 1.0)], 4,
     "design parameter 'foo' is not a setting of --model blastwave; valid names: sqrts, eta_s"),
    ([], [("T_kin", 0.2, 0.3)], 3, "T_kin must be in [0.05, T_ch=0.156] GeV"),
])
def test_simulate_bad_input_is_one_line_exit_2(tmp_path, capsys, extra, design_params, points, match):
    design = write_design(tmp_path / "design.csv", make_design(design_params, points, seed=0))
    out = tmp_path / "runs"
    assert main(["infer", "simulate", str(design), "--events", "4", "--out", str(out)] + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err
    assert not out.exists()


def test_simulate_refuses_a_design_with_too_few_points(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("# range eta_s 0 1\n# range T_kin 0.07 0.1\neta_s,T_kin\n0.1,0.08\n0.2,0.09\n")
    assert main(["infer", "simulate", str(path), "--events", "4", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 points for 2 parameters" in err[0] and not (tmp_path / "runs").exists()
