"""Validation tables: pulls, pass logic and serialisation."""

import json
import math

import pytest

from qcdgen.errors import InputError
from qcdgen.stats import ComparisonRow, Estimate, ValidationTable, compare


def test_pulls_and_pass():
    ref = {"plaq": Estimate(0.5, 0.03), "chi": Estimate(2.0, 0.1), "only_ref": Estimate(1, 1)}
    gen = {"chi": Estimate(2.5, 0.1), "plaq": Estimate(0.54, 0.04), "only_gen": Estimate(0, 1)}
    t = compare(ref, gen)
    assert [r.observable for r in t.rows] == ["plaq", "chi"]
    assert t.rows[0].pull == pytest.approx(0.04 / 0.05)
    assert t.rows[1].pull == pytest.approx(0.5 / math.sqrt(0.02))  # 3.54
    assert not t.passed
    chi2, ndf = t.chi2()
    assert ndf == 2 and chi2 == pytest.approx(0.8**2 + 12.5)
    assert compare(ref, gen, observables=["plaq"]).passed
    assert compare(ref, gen, max_abs_pull=4.0).passed
    text = t.format()
    lines = text.splitlines()
    assert "observable" in lines[0] and "pull" in lines[0]
    chi_line = next(l for l in lines if l.startswith("chi "))
    plaq_line = next(l for l in lines if l.startswith("plaq"))
    assert chi_line.rstrip().endswith("!") and not plaq_line.rstrip().endswith("!")


def test_missing_observable_raises():
    ref = {"a": Estimate(1, 0.1)}
    gen = {"a": Estimate(1, 0.1), "b": Estimate(1, 0.1)}
    with pytest.raises(InputError, match="'b'.*reference"):
        compare(ref, gen, observables=["a", "b"])
    with pytest.raises(InputError, match="share no observable"):
        compare({"x": Estimate(1, 1)}, {"y": Estimate(1, 1)})
    with pytest.raises(InputError, match="max_abs_pull"):
        compare(ref, gen, max_abs_pull=-1)


def test_zero_errors_and_json():
    ref = {"a": Estimate(1.0, 0.0), "b": Estimate(1.0, 0.0), "c": Estimate(1.0, 0.1)}
    gen = {"a": Estimate(1.0, 0.0), "b": Estimate(2.0, 0.0), "c": Estimate(float("nan"), 0.1)}
    t = compare(ref, gen)
    assert t.rows[0].pull == 0.0
    assert t.rows[1].pull == math.inf
    assert math.isnan(t.rows[2].pull)
    assert not t.passed
    assert not compare(ref, gen, observables=["c"]).passed  # NaN pull fails
    assert compare(ref, gen, observables=["a"]).passed
    d = t.to_dict()
    assert set(d) == {"passed", "rows"} and d["passed"] is False
    assert list(d["rows"][0]) == ["observable", "reference", "reference_error",
                                  "generated", "generated_error", "pull"]
    assert d["rows"][1]["pull"] is None and d["rows"][2]["generated"] is None
    s = json.dumps(d, allow_nan=False)
    assert json.loads(s)["rows"][0]["pull"] == 0.0


def test_row_and_empty_table():
    row = ComparisonRow("x", 1.0, 0.1, 1.1, 0.1, 0.7)
    assert row.to_dict()["pull"] == 0.7
    assert ValidationTable(rows=[row]).passed
    assert not ValidationTable(rows=[]).passed
    assert ValidationTable(rows=[row], max_abs_pull=0.5).passed is False
