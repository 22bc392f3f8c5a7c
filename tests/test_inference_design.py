"""Maximin Latin hypercube designs and their CSV files (qcdgen.inference.design, qcdgen infer design)."""

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.inference.design import (
    make_design, maximin_lhs, min_distance, parse_param, phi_p, read_design, write_design)


def test_latin_property_and_space_filling_beats_random_lhs():
    n, d = 20, 3
    u = maximin_lhs(n, d, np.random.default_rng(0))
    for j in range(d):  # one point per stratum in every parameter
        assert sorted(np.floor(u[:, j] * n).astype(int)) == list(range(n))
    rng = np.random.default_rng(1)
    random_lhs = [np.stack([(rng.permutation(n) + 0.5) / n for _ in range(d)], 1) for _ in range(50)]
    assert phi_p(u) < min(phi_p(r) for r in random_lhs)
    assert min_distance(u) > np.median([min_distance(r) for r in random_lhs])


def test_csv_round_trip_keeps_ranges_and_points(tmp_path):
    design = make_design([("eta_s", 0.02, 0.30), ("T_kin", 0.07, 0.11)], 12, seed=4)
    path = write_design(tmp_path / "d.csv", design)
    text = path.read_text()
    assert "# range eta_s 0.02 0.3" in text and "eta_s,T_kin" in text
    back = read_design(path)
    assert back.names == ("eta_s", "T_kin") and np.array_equal(back.points, design.points)
    assert np.array_equal(back.box.lo, [0.02, 0.07]) and back.seed == 4
    assert np.all(design.box.inside(design.points))
    assert np.array_equal(make_design([("eta_s", 0.02, 0.30), ("T_kin", 0.07, 0.11)], 12, seed=4).points,
                          design.points)


@pytest.mark.parametrize("text, match", [
    ("# range a 0 1\n# range b 0 1\na,b\n0.5,0.5\n0.2,0.9\n", "2 points for 2 parameters"),
    ("# range a 0 1\n# range b 0 1\na,b\n0.5,0.5\n0.2,1.5\n0.1,0.1\n", r"b = 1.5 is outside the design's range \[0, 1\]"),
    ("# range a 0 1\na,b\n0.5,0.5\n0.2,0.5\n0.1,0.1\n", "no '# range b LO HI' line"),
    ("# range a 0 1\n# range b 0 1\na,b\n0.5,x\n0.2,0.5\n0.1,0.1\n", "values must be numbers"),
])
def test_bad_design_files_are_refused(tmp_path, text, match):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        read_design(path)


def test_parse_param():
    assert parse_param("eta_s=0.02:0.30") == ("eta_s", 0.02, 0.30)
    for bad in ("eta_s=0.3", "eta_s:0.1:0.2", "=0:1", "eta_s=0.3:0.1", "x=a:b"):
        with pytest.raises(InputError):
            parse_param(bad)


def test_cli_design_and_too_few_points(tmp_path, capsys):
    out = tmp_path / "design.csv"
    assert main(["infer", "design", "--param", "eta_s=0.02:0.30", "--param", "T_kin=0.07:0.11",
                 "--points", "10", "--seed", "1", "--out", str(out)]) == 0
    assert len(read_design(out)) == 10
    bad = tmp_path / "bad.csv"
    assert main(["infer", "design", "--param", "eta_s=0.02:0.30", "--param", "T_kin=0.07:0.11",
                 "--points", "2", "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "at least parameters + 1 = 3" in err[0] and not bad.exists()
