"""Physics validation of generated heavy-ion events (qcdgen.hic.surrogate.validate / two_sample).

Samples come from the real hydro-inspired generator in peripheral classes (cheap). The tests
assert statistical facts: independent samples of one generator pass with O(1) pulls and an
AUC compatible with 1/2; different physics (η/s, centrality) fails on the right rows.
"""

from __future__ import annotations

import json
import math

import awkward as ak
import numpy as np
import pytest
from scipy.stats import chi2, norm

from qcdgen.errors import InputError
from qcdgen.hic.events import write_events
from qcdgen.hic.generation import make_generator
from qcdgen.hic.surrogate import two_sample
from qcdgen.hic.surrogate.validate import EventRow, validate_events
from qcdgen.hic.surrogate.validate_rows import ratio_with_error
from qcdgen.hic.surrogate.validate_stats import accuracy_check, chi2_test, sidak_threshold
from qcdgen.report.pipelines import validate_events as validate_and_report

CLASS = (60, 70)


def _generate(n, seed, eta_s=0.08, centrality=CLASS):
    gen = make_generator("blastwave", system="PbPb", sqrts=2760.0, centrality=centrality, eta_s=eta_s)
    events, _ = gen.generate(n, np.random.default_rng(seed))
    return events


@pytest.fixture(scope="module")
def samples():
    return {"a": _generate(400, 1), "b": _generate(400, 2), "viscous": _generate(400, 3, eta_s=0.5)}


@pytest.fixture(scope="module")
def same(samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    res = validate_and_report(samples["a"], samples["b"], centrality_classes=[(60, 65), (65, 70)],
                              progress=False, json_path=out / "v.json")
    return res, out


# --------------------------------------------------------------------------- statistics helpers

def test_sidak_threshold_is_the_familywise_quantile():
    assert sidak_threshold(1, 2 * norm.sf(3.0)) == pytest.approx(3.0, abs=1e-9)
    z = sidak_threshold(300, 0.01)
    assert (1 - 2 * norm.sf(z)) ** 300 == pytest.approx(0.99, abs=1e-9)


def test_chi2_p_value_limits_independent_and_fully_correlated():
    pulls = np.full(10, 2.0)
    assert chi2_test(pulls, 10.0)["p"] == pytest.approx(chi2.sf(40.0, 10))
    # ten copies of one N(0,1) pull: the p-value is that of a single z = 2
    full = chi2_test(pulls, 100.0)
    assert full["dof_eff"] == pytest.approx(1.0)
    assert full["p"] == pytest.approx(2 * norm.sf(2.0))


def test_classifier_null_and_shift():
    rng = np.random.default_rng(5)
    names = [f"f{i}" for i in range(4)]
    null = two_sample.classifier_two_sample_test(rng.normal(size=(400, 4)), rng.normal(size=(400, 4)),
                                                 seed=1, feature_names=names)
    assert abs(null.z) < 3 and null.passed
    assert null.null_sigma == pytest.approx(two_sample.auc_null_sigma(200, 200))
    shifted = rng.normal(size=(400, 4))
    shifted[:, 2] += 0.8
    alt = two_sample.classifier_two_sample_test(shifted, rng.normal(size=(400, 4)), seed=1, feature_names=names)
    assert alt.auc > 0.6 and alt.z > 3 and not alt.passed
    assert alt.most_discriminating()[0] == "f2"


def test_hanley_mcneil_matches_null_sigma_at_half():
    # at AUC = 1/2 with equal samples the Hanley–McNeil variance is the Mann–Whitney null variance
    assert two_sample.hanley_mcneil_error(0.5, 500, 500) == pytest.approx(two_sample.auc_null_sigma(500, 500),
                                                                         rel=0.01)


def test_ratio_error_exact_values_and_spread_of_independent_gaussians():
    """σ(g/f) to first order for independent g, f: exact on hand-computed cases, and equal to the
    spread of G/F over draws of two Gaussians with known σ (second-order terms ~ 1e-3 here)."""
    assert ratio_with_error(3.0, 0.4, 1.0, 0.0) == (3.0, 0.4)        # exact reference: σ_g / f
    assert ratio_with_error(1.0, 0.0, 2.0, 0.2) == (0.5, 0.05)       # exact generated: r σ_f / f
    assert ratio_with_error(1.0, 0.3, 1.0, 0.4) == (1.0, 0.5)        # 3-4-5
    assert ratio_with_error(-2.0, 0.3, -1.0, 0.2) == (2.0, 0.5)      # signs: |f|
    for g, f in ((1.0, 0.0), (math.nan, 1.0), (1.0, math.inf)):
        assert all(math.isnan(x) for x in ratio_with_error(g, 0.1, f, 0.1))
    rng = np.random.default_rng(11)
    G = rng.normal(10.0, 0.1, 400_000)
    F = rng.normal(5.0, 0.1, 400_000)
    r, err = ratio_with_error(10.0, 0.1, 5.0, 0.1)
    assert r == 2.0 and err == pytest.approx(math.sqrt(0.05) / 5)
    assert np.std(G / F) == pytest.approx(err, rel=0.01)
    assert np.mean(G / F) == pytest.approx(r, abs=3 * err / math.sqrt(G.size) + 1e-3)


# --------------------------------------------------------------------------- same generator

def _ratio_row(name, ratio, error):
    return EventRow(name, 1.0, 0.0, ratio, error, (ratio - 1) / error, ratio=ratio, ratio_error=error)


def test_accuracy_rule_judges_only_what_statistics_allow():
    """Within 5 %: 1.03 ± 0.005 passes although its pull is 6; 1.08 ± 0.005 fails (6 σ beyond 5 %);
    1.30 ± 0.20 is not judged (its error exceeds 5 %); net charge is never a ratio row."""
    good = [_ratio_row("0-5% pi+ dN/dy", 1.03, 0.005), _ratio_row("0-5% v2{2}", 0.97, 0.01),
            _ratio_row("0-5% v3{2}", 1.30, 0.20), _ratio_row("0-5% net charge", 3.0, 0.01)]
    check = accuracy_check(good, 0.05, 3.0, 0.01)
    assert check.passed and check.values["rows_judged"] == 2 and check.values["rows"] == 3
    bad = good + [_ratio_row("0-5% K+ <pT>", 1.08, 0.005)]
    check = accuracy_check(bad, 0.05, 3.0, 0.01)
    assert not check.passed and check.values["rows_failing"] == 1 and "K+ <pT> 1.080" in check.detail
    # 1 σ beyond the band is not significant at the Sidak threshold of 3 rows
    assert accuracy_check(good + [_ratio_row("0-5% K+ <pT>", 1.06, 0.01)], 0.05, 3.0, 0.01).passed
    assert not accuracy_check([_ratio_row("0-5% v2{2}", 1.3, 0.2)], 0.05, 3.0, 0.01).passed  # nothing judged


def test_same_generator_passes_with_unit_pulls(same):
    res, _ = same
    assert res.passed, [c.detail for c in res.checks if not c.passed]
    pulls = np.array([r.pull for r in res.table.rows if r.tested])
    assert len(pulls) > 100 and np.isfinite(pulls).all()
    assert abs(pulls.mean()) < 0.5
    assert 0.6 < pulls.std() < 1.4
    assert np.mean(np.abs(pulls) > 2) < 0.12  # N(0,1): 4.6 %
    c2st = next(c for c in res.checks if c.name == "classifier two-sample test").values
    assert abs(c2st["auc"] - 0.5) < 3 * c2st["null_sigma"]
    assert "event field 'centrality'" in res.info["centrality from"]


def test_rows_names_ratios_and_nan_flags(same):
    res, _ = same
    names = {r.observable for r in res.table.rows}
    for expected in ("60-65% dNch/deta", "65-70% pi+ <pT>", "65-70% pi+ dN/dy", "60-65% charged <pT>",
                     "60-65% pi+ dN/dpT[0.50-0.75]", "65-70% <dpT dpT>"):
        assert expected in names
    assert any(" v2{2}" in n or " c2{2}" in n for n in names)
    for r in res.table.rows:
        assert r.tested == (r.flag == "")
        if not (math.isfinite(r.generated) and math.isfinite(r.reference)
                and math.isfinite(r.generated_error) and math.isfinite(r.reference_error)):
            assert not r.tested and r.flag
        if r.tested and r.reference != 0:
            assert r.ratio == pytest.approx(r.generated / r.reference)
            assert r.ratio_error > 0
    chi2_all, ndf = res.table.chi2()
    assert ndf == sum(r.tested for r in res.table.rows)
    assert math.isfinite(chi2_all)


def test_json_shape_like_lattice_validation(same):
    res, out = same
    text = (out / "v.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert {"passed", "rows", "checks", "info"} <= set(data)
    assert data["passed"] is True
    row = data["rows"][0]
    assert {"observable", "reference", "reference_error", "generated", "generated_error", "pull",
            "class", "group", "ratio", "ratio_error", "tested", "flag"} <= set(row)
    assert {c["name"] for c in data["checks"]} == {"pulls", "chi2", "accuracy 5%", "classifier two-sample test"}


# --------------------------------------------------------------------------- different physics

def test_different_eta_s_fails_on_flow(samples, tmp_path):
    res = validate_and_report(samples["a"], samples["viscous"], centrality_classes=[CLASS], progress=False,
                              report=tmp_path / "r.html")
    assert not res.passed
    flow = [r for r in res.table.rows if r.group == "flow" and r.tested]
    assert max(abs(r.pull) for r in flow) > 4
    assert res.table.chi2_tests["flow"]["p"] < 1e-3
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "FAIL" in html and len(html) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # atomic: no temporary left over


def test_different_centrality_fails_via_multiplicity(samples):
    central = _generate(300, 4, centrality=(50, 60))
    gen = ak.without_field(central, "centrality")
    ref = ak.without_field(samples["a"][:300], "centrality")
    res = validate_events(gen, ref, centrality_classes=[(0, 50), (50, 100)], progress=False)
    assert not res.passed
    assert "multiplicity" in res.info["centrality from"]
    dnch = [r for r in res.table.rows if r.observable.endswith("dNch/deta")]
    assert all(r.pull > 5 for r in dnch)
    c2st = next(c for c in res.checks if c.name == "classifier two-sample test")
    assert not c2st.passed and c2st.values["auc"] > 0.8


def test_identical_samples_fail_chi2_too_small(samples):
    res = validate_events(samples["a"], samples["a"], centrality_classes=[CLASS], progress=False)
    assert all(r.pull == 0 for r in res.table.rows if r.tested)
    assert all(r.ratio == 1.0 for r in res.table.rows if r.tested and r.reference != 0)  # g/g, exactly
    check = next(c for c in res.checks if c.name == "chi2")
    assert not check.passed and "too small" in check.detail
    assert not res.passed


# --------------------------------------------------------------------------- bad input

def test_missing_file_and_bad_arguments(samples, tmp_path):
    with pytest.raises(InputError, match="does not exist") as exc:
        validate_events(tmp_path / "nope.parquet", samples["a"], progress=False)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="errors"):
        validate_events(samples["a"], samples["b"], errors="sigma", progress=False)
    with pytest.raises(InputError, match="auc_threshold"):
        validate_events(samples["a"], samples["b"], auc_threshold=0.4, progress=False)
    with pytest.raises(InputError, match="tolerance"):
        validate_events(samples["a"], samples["b"], tolerance=0.0, progress=False)
    with pytest.raises(InputError, match="generated must be"):
        validate_events(42, samples["b"], progress=False)
    with pytest.raises(InputError, match="directory"):
        validate_and_report(samples["a"], samples["b"], report=tmp_path / "missing" / "r.html", progress=False)
    with pytest.raises(TypeError, match="report"):  # the domain pipeline writes nothing
        validate_events(samples["a"], samples["b"], report=tmp_path / "r.html", progress=False)


def test_no_common_class(samples, tmp_path):
    ref = tmp_path / "ref.parquet"
    write_events(ref, samples["b"][:50])
    moved = ak.with_field(samples["a"][:50], ak.full_like(samples["a"][:50].centrality, 95.0), "centrality")
    with pytest.raises(InputError, match="share no centrality class") as exc:
        validate_events(moved, ref, progress=False)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="centrality class 0-10%"):
        validate_events(samples["a"], ref, centrality_classes=[(0, 10)], progress=False)


def test_cli_validate_exit_codes(samples, tmp_path, capsys):
    """`qcdgen hic validate`: 0 for two samples of one generator, 1 for different η/s, 2 for a missing file."""
    from qcdgen.cli.main import main
    from qcdgen.hic.events import write_events

    paths = {}
    for key in ("a", "b", "viscous"):
        paths[key] = tmp_path / f"{key}.parquet"
        write_events(paths[key], samples[key])
    assert main(["hic", "validate", str(paths["a"]), "--reference", str(paths["b"]), "--no-progress",
                 "--centrality-classes", "60-65,65-70", "--report", str(tmp_path / "r.html")]) == 0
    assert "PASS" in capsys.readouterr().out and (tmp_path / "r.html").stat().st_size > 10_000
    assert main(["hic", "validate", str(paths["viscous"]), "--reference", str(paths["b"]), "--no-progress",
                 "--centrality-classes", "60-65,65-70", "--json"]) == 1
    assert '"passed": false' in capsys.readouterr().out
    assert main(["hic", "validate", str(tmp_path / "none.parquet"), "--reference", str(paths["b"])]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
