"""A real small lattice validation drawn as a report: one row per quantity, honest histogram
totals, yes/no booleans, a visible κ_n plot, the figure grid, and multi-section pages."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil

import h5py
import numpy as np
import pytest
import torch
from matplotlib.container import ErrorbarContainer

from qcdgen.errors import InputError
from qcdgen.io import read_ensemble
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble
from qcdgen.lattice.observables import measure
from qcdgen.lattice.validation import ALIASES, validate_ensembles
from qcdgen.report import render_html, render_json, series_figure, write_report
from qcdgen.report.html import report_dict
from qcdgen.report.plots import histogram_figure
from qcdgen.stats.compare import ValidationTable, compare
from qcdgen.stats.estimate import Estimate
from qcdgen.stats.validation_result import Check, ValidationResult

SIZE, CONFIGS = 4, 200
SETTINGS = dict(size=SIZE, kappa=0.2, lam=0.05, configs=CONFIGS, chains=2, thermalize=50,
                fourier_acceleration=True)


@pytest.fixture(scope="module")
def ensembles(tmp_path_factory):
    d = tmp_path_factory.mktemp("layout")
    generate_hmc_ensemble(d / "ref.h5", HMCSettings(**SETTINGS, seed=1), progress=False)
    generate_hmc_ensemble(d / "gen.h5", HMCSettings(**SETTINGS, seed=2), progress=False)
    # the generated file of an exact generative sampler stores exact = 1 (an HDF5 integer)
    shutil.copy(d / "gen.h5", d / "exact.h5")
    with h5py.File(d / "exact.h5", "r+") as f:
        f.attrs["exact"] = np.int64(1)
    return d


@pytest.fixture(scope="module")
def result(ensembles):
    return validate_ensembles(ensembles / "exact.h5", ensembles / "ref.h5")


@pytest.fixture(scope="module")
def page(result):
    return render_html(result)


def test_each_quantity_is_one_row_and_counts_once_in_chi2(result, ensembles):
    rows = result.table.rows
    names = [r.observable for r in rows]
    assert len(names) == len(set(names))
    for a, b in itertools.combinations(rows, 2):  # no two rows are the same number with the same error
        same = all(math.isclose(getattr(a, f), getattr(b, f), rel_tol=1e-12, abs_tol=0.0)
                   for f in ("reference", "reference_error", "generated", "generated_error"))
        assert not same, (a.observable, b.observable)
    assert {"chi2", "phi2", "G_r0"} <= set(names)
    assert not {"kappa2", "site_kappa2"} & set(names)
    assert result.aliases == ALIASES == {"kappa2": "chi2", "site_kappa2": "G_r0"}
    assert result.table.chi2()[1] == len(rows)
    assert result.row("kappa2") is result.row("chi2")
    # the measurement itself keeps every name, and the aliases really are the same numbers there
    ens = read_ensemble(ensembles / "ref.h5")
    obs = measure(torch.as_tensor(ens.phi), Phi4Action.from_dict(ens.attrs), chains=ens.chain)
    assert {"kappa2", "site_kappa2"} <= set(obs) and len(obs) == len(rows) + len(ALIASES)
    for dropped, kept in ALIASES.items():
        assert obs[dropped].value == pytest.approx(obs[kept].value, rel=1e-12)
    # the JSON and the page say which names were merged
    data = json.loads(render_json(result))
    assert data["aliases"] == ALIASES and "kappa2" not in {r["observable"] for r in data["rows"]}


def test_the_kappa_n_series_still_has_kappa2(result):
    kappa = next(s for s in result.series if s.name.startswith("cumulants"))
    assert list(kappa.x) == list(range(2, 9))
    assert kappa.reference[0] == pytest.approx(result.row("chi2").reference, rel=1e-12)


def test_histogram_totals_include_the_entries_outside_the_range(result):
    magnetisation, site = result.histograms
    volume = SIZE ** 2
    for hist, n in ((magnetisation, CONFIGS), (site, CONFIGS * volume)):
        for side in ("reference", "generated"):
            counts = getattr(hist, side)
            under, over = getattr(hist, f"{side}_underflow"), getattr(hist, f"{side}_overflow")
            assert int(counts.sum()) + under + over == n == hist.total(side)
    # the quantile edges leave a few of the 2 x 3200 site values out, and the legend says how many
    assert sum(getattr(site, f"{s}_{w}flow") for s in ("reference", "generated") for w in ("under", "over")) > 0
    fig = histogram_figure(site)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for label, side in zip(labels, ("reference", "generated")):
        under, over = getattr(site, f"{side}_underflow"), getattr(site, f"{side}_overflow")
        assert label.startswith(f"{side}: N={CONFIGS * volume}, ")
        assert label.endswith(f"{under + over} outside range ({under} below, {over} above)" if under + over
                              else "none outside range")
    assert "all N entries" in fig.axes[0].get_ylabel()
    # normalised to all entries: the area inside the range is the fraction in range, not 1
    steps = [p for p in fig.axes[0].patches]
    heights = steps[0].get_data().values
    area = float(np.sum(heights * np.diff(site.edges)))
    assert area == pytest.approx(site.reference.sum() / (CONFIGS * volume), rel=1e-9) and area < 1


def test_exact_attribute_prints_as_yes(result, page):
    assert result.info["exact (Metropolis with exact log q)"] == "yes"
    assert "<th>exact (Metropolis with exact log q)</th><td>yes</td>" in page


def test_kappa_n_axis_is_symlog_and_every_order_is_off_the_zero_line(result):
    kappa = next(s for s in result.series if s.name.startswith("cumulants"))
    assert kappa.scale == "symlog"
    fig = series_figure(kappa)
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog"
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2 and all(c.has_yerr for c in bars)
    lo, hi = ax.get_ylim()
    zero = ax.transData.transform((0, 0))[1]
    height = ax.bbox.height
    values = np.concatenate([kappa.reference, kappa.generated])
    errors = np.concatenate([kappa.reference_error, kappa.generated_error])
    assert abs(values[0]) > errors[0]  # kappa_2 is always significant
    for y, e in zip(values, errors):
        assert lo <= y - e and y + e <= hi
        # on the old linear axis (scaled by the largest |kappa_8|) kappa_2 sat within a pixel of 0
        if abs(y) > e:
            assert abs(ax.transData.transform((0, y))[1] - zero) > 0.01 * height, y


def test_figures_sit_in_the_grid(page, result):
    assert ".figures { display: grid;" in page and "@media (max-width: 900px)" in page
    assert "max-width: 1400px" in page
    grid = re.search(r'<div class="figures">(.*?)\n</div>', page, re.S)
    assert grid is not None
    n_figures = 1 + len(result.series) + len(result.histograms)  # + the example configurations
    assert grid.group(1).count("<figure") == page.count("<figure") == n_figures
    assert '<figure class="wide">' in grid.group(1)  # the configurations span both columns
    assert "Not repeated in the table" in page and "kappa2 (= chi2)" in page


def _bare(title: str, passed: bool, rows: int = 2) -> ValidationResult:
    ref = {f"o{i}": Estimate(1.0, 0.1) for i in range(rows)}
    gen = {f"o{i}": Estimate(1.05 if passed else 2.0, 0.1) for i in range(rows)}
    return ValidationResult(title, compare(ref, gen), info={"flag": True, "other": np.bool_(False)})


def test_multi_section_json_and_page(result, tmp_path):
    good, bad = _bare("a", True), _bare("b", False, rows=3)
    sections = [("lattice", result), ("toy pass", good), ("toy fail", bad)]
    data = json.loads(render_json(sections))
    assert set(data) == {"passed", "sections"}
    assert list(data["sections"]) == ["lattice", "toy pass", "toy fail"]
    assert data["passed"] is False and not bad.passed
    assert data["sections"]["toy fail"] == json.loads(render_json(bad))
    assert report_dict([("lattice", result), ("toy pass", good)])["passed"] is result.passed
    assert report_dict({"one": good, "two": _bare("c", True)})["passed"] is True  # a mapping works too

    html_path, json_path = tmp_path / "m.html", tmp_path / "m.json"
    write_report(sections, html_path=html_path, json_path=json_path, title="three products")
    page = html_path.read_text()
    assert json.loads(json_path.read_text()) == data
    assert "<title>three products</title>" in page and page.isascii()
    # overall banner first, then one small banner per section
    assert page.index('<div class="banner fail">FAIL</div>') < page.index("<h2>Summary</h2>")
    assert page.count('<div class="banner small pass">PASS</div>') == 1 + result.passed
    assert page.count('<div class="banner small fail">FAIL</div>') == 1 + (not result.passed)
    summary = page[page.index('<table class="summary">'):]
    summary = summary[:summary.index("</table>")]
    assert summary.count("<tr") == 4 and '<a href="#section-3">toy fail</a>' in summary
    chi2, ndf = bad.table.chi2()
    assert f"{chi2:.2f}/{ndf}" in summary and f'<td class="num">{len(result.table.rows)}</td>' in summary
    for i in (1, 2, 3):
        assert page.count(f'id="section-{i}"') == 1
    assert page.count('<div class="figures">') == 1  # only the lattice section has figures
    assert "<td>yes</td>" in page and "<td>no</td>" in page  # Python and NumPy booleans


def test_single_result_keeps_its_shape_and_title_override(tmp_path):
    one = _bare("toy", True)
    assert json.loads(render_json(one)).keys() == {"passed", "rows", "checks", "info"}
    page = render_html(one)
    assert "<title>toy</title>" in page and "<section" not in page and "Summary" not in page
    assert "<title>other</title>" in render_html(one, title="other")
    write_report(one, html_path=tmp_path / "a.html", title="other")
    assert "<title>other</title>" in (tmp_path / "a.html").read_text()


@pytest.mark.parametrize("bad, match", [
    ([], "at least one"),
    ([("x", None)], "pair"),
    ([("x",)], "pair"),
    ([("same", "r"), ("same", "r")], "twice"),
    ([(" ", "r")], "empty"),
    (42, "ValidationResult"),
])
def test_malformed_sections_are_refused_before_writing(bad, match, tmp_path):
    one = _bare("toy", True)
    bad = [tuple(one if v == "r" else v for v in item) if isinstance(item, tuple) else item
           for item in bad] if isinstance(bad, list) else bad
    with pytest.raises(InputError, match=match):
        write_report(bad, html_path=tmp_path / "x.html")
    assert not list(tmp_path.iterdir())


def test_heavy_ion_table_renders_in_a_section():
    """EventValidationTable: flagged rows are shown grey, not failed, and left out of χ²/ndf."""
    from qcdgen.hic.surrogate.validate import EventRow, EventValidationTable

    rows = [EventRow("0-5% dNch/deta", 100.0, 2.0, 101.0, 2.0, 0.35, centrality_class="0-5%", group="yields"),
            EventRow("0-5% v2{4}", 0.05, 0.01, math.nan, math.nan, math.nan, centrality_class="0-5%",
                     group="flow", flag="not tested: c2{4} within 3 sigma of 0")]
    hic = ValidationResult("heavy-ion events", EventValidationTable(rows=rows, max_abs_pull=3.5),
                           checks=[Check("pulls", True, "ok")])
    assert hic.passed and hic.table.chi2()[1] == 1
    page = render_html([("lattice", _bare("toy", True)), ("heavy-ion", hic)])
    section = page[page.index('id="section-2"'):]
    assert "<th>note</th>" in section and "not tested: c2{4} within 3 sigma of 0" in section
    flagged = next(r for r in section.split("<tr") if "v2{4}" in r)
    assert flagged.startswith(' class="untested"')
    assert '<div class="banner pass">PASS</div>' in page
    summary = page[page.index('<table class="summary">'):page.index("</table>", page.index('class="summary"'))]
    assert "0.12/1" in summary and "2 (1 tested)" in summary  # χ² = 0.35² over the one tested row
    data = json.loads(render_json([("heavy-ion", hic)]))
    assert data["sections"]["heavy-ion"]["rows"][1]["flag"].startswith("not tested")


def test_an_alias_that_disagrees_is_not_merged():
    """Merging is checked on the data: a real difference between two names is never hidden."""
    from qcdgen.lattice.validation import merge_aliases

    ref = {"chi2": Estimate(2.0, 0.1), "kappa2": Estimate(2.0, 0.1), "G_r0": Estimate(0.5, 0.01),
           "site_kappa2": Estimate(0.5, 0.01)}
    gen = dict(ref, kappa2=Estimate(2.5, 0.1))
    r, g, merged = merge_aliases(ref, gen)
    assert merged == {"site_kappa2": "G_r0"} and "kappa2" in r and "kappa2" in g and "site_kappa2" not in g


def test_empty_table_section_still_renders():
    empty = ValidationResult("nothing", ValidationTable(rows=[]))
    page = render_html([("empty", empty)])
    assert "no observables compared" in page and '<div class="banner fail">FAIL</div>' in page
