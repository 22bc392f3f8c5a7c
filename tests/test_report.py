"""HTML/JSON reports from a hand-built ValidationResult."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import re

import numpy as np
import pytest

from qcdgen.errors import InputError
from qcdgen.report import (
    figure_to_base64_png,
    histogram_figure,
    images_figure,
    loss_curve_figure,
    render_html,
    series_figure,
    write_report,
)
from qcdgen.stats.compare import compare
from qcdgen.stats.estimate import Estimate
from qcdgen.stats.validation_result import Check, Histogram, Series, ValidationResult

IMG_PREFIX = '<img src="data:image/png;base64,'
ROW_KEYS = {"observable", "reference", "reference_error", "generated", "generated_error", "pull"}


def make_result(*, check_passes: bool = False, nan_pull: bool = False) -> ValidationResult:
    ref = {"<phi^2>": Estimate(0.50, 0.02), "chi_2": Estimate(2.0, 0.1)}
    gen = {"<phi^2>": Estimate(0.51, 0.02), "chi_2": Estimate(float("nan") if nan_pull else 2.1, 0.1)}
    rng = np.random.default_rng(0)
    x = np.arange(6.0)
    g = np.exp(-0.5 * x)
    series = [
        Series("G(r)", x, g, 0.01 * g, g * 1.02, 0.01 * g, xlabel="r", ylabel="G", log_y=True),
        # errors with a zero and a NaN, one non-finite value: plotted points are skipped, not fatal
        Series("kappa_n", x, x, np.array([0, 0.1, 0.1, np.nan, 0.1, 0.1]),
               np.array([0.0, 1.1, np.inf, 3.0, 4.1, 5.0]), np.full(6, 0.1), xlabel="n"),
    ]
    edges = np.linspace(-3, 3, 13)
    histograms = [
        Histogram("phi", edges, np.histogram(rng.normal(size=500), edges)[0],
                  np.histogram(rng.normal(size=400), edges)[0], xlabel="φ"),
        Histogram("empty generated", edges, np.arange(12), np.zeros(12), xlabel="m"),
    ]
    steps = np.arange(200)
    return ValidationResult(
        title="free field <8x8> & co",
        table=compare(ref, gen),
        info={"action": "phi^4", "file": "<ens>.h5"},
        series=series,
        histograms=histograms,
        images={"reference": rng.normal(size=(3, 8, 8)), "generated": rng.normal(size=(3, 8, 8))},
        loss_curve=(steps, 1.0 / (1 + steps) + 0.01 * rng.random(200)),
        checks=[Check("memorisation", True, "nearest-neighbour distance ok"),
                Check("ess", check_passes, "ESS/N = 0.02 < 0.1", {"ess": 0.02, "bad": float("nan")})],
    )


def without_figures(result: ValidationResult) -> ValidationResult:
    """Same tables, no plots: keeps the tests that only look at text fast."""
    return dataclasses.replace(result, series=[], histograms=[], images={}, loss_curve=None)


@pytest.fixture(scope="module")
def full_page() -> str:
    return render_html(make_result())


def _pngs(page: str) -> list[bytes]:
    return [base64.b64decode(m, validate=True)
            for m in re.findall(re.escape(IMG_PREFIX) + r'([A-Za-z0-9+/=]+)"', page)]


def test_page_is_self_contained_with_all_figures(full_page):
    result, page = make_result(), full_page
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1
    assert page.rstrip().endswith("</html>")
    expected = 1 + len(result.series) + len(result.histograms) + 1  # loss, series, hists, images grid
    assert page.count(IMG_PREFIX) == expected
    pngs = _pngs(page)
    assert len(pngs) == expected and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    assert "http://" not in page and "https://" not in page
    assert page.count('src="') == expected  # every src is an inline PNG, none points to a file
    assert len(page) < 2_000_000
    assert page.isascii()


def test_banner_and_escaping(full_page):
    failing = full_page  # one check fails
    assert '<div class="banner fail">FAIL</div>' in failing and "banner pass" not in failing
    passing = render_html(without_figures(make_result(check_passes=True)))
    assert '<div class="banner pass">PASS</div>' in passing and "banner fail" not in passing
    # user text is escaped: no raw tag from a title, info value or observable name
    assert "&lt;phi^2&gt;" in passing and "<phi^2>" not in passing
    assert "free field &lt;8x8&gt; &amp; co" in passing
    assert "&lt;ens&gt;.h5" in passing and "<ens>" not in passing


def test_nan_pull_row_is_marked_failing():
    result = without_figures(make_result(check_passes=True, nan_pull=True))
    assert math.isnan(result.table.rows[1].pull) and not result.passed
    page = render_html(result)
    assert '<div class="banner fail">FAIL</div>' in page
    row = next(r for r in page.split("<tr") if "chi_2" in r)
    assert row.startswith(' class="fail"') and "nan" in row
    ok_row = next(r for r in page.split("<tr") if "phi^2" in r and "<td" in r)
    assert not ok_row.startswith(' class="fail"')
    assert "χ²/ndf = nan/2".encode("ascii", "xmlcharrefreplace").decode() in page


def test_minimal_result_without_figures():
    table = compare({"a": Estimate(1.0, 0.1)}, {"a": Estimate(1.0, 0.1)})
    page = render_html(ValidationResult("bare", table))
    assert "banner pass" in page and IMG_PREFIX not in page and "(no figures)" in page


def test_write_report_html_and_json(tmp_path):
    result = without_figures(make_result(nan_pull=True))
    html_path, json_path = tmp_path / "r.html", tmp_path / "r.json"
    write_report(result, html_path=html_path, json_path=json_path)
    assert html_path.read_text() == render_html(result)
    text = json_path.read_text()
    assert text.endswith("\n") and "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["passed"] is False
    assert [r["observable"] for r in data["rows"]] == ["<phi^2>", "chi_2"]
    assert all(set(r) == ROW_KEYS for r in data["rows"])
    assert data["rows"][1]["generated"] is None and data["rows"][1]["pull"] is None
    assert data["checks"][1]["values"]["bad"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]  # no temp files left

    only_json = tmp_path / "only.json"
    write_report(result, json_path=only_json)
    assert json.loads(only_json.read_text())["rows"] == data["rows"]


def test_write_report_missing_directory_is_input_error(tmp_path):
    result = without_figures(make_result())
    good = tmp_path / "ok.html"
    with pytest.raises(InputError, match="does not exist"):
        write_report(result, html_path=good, json_path=tmp_path / "missing" / "r.json")
    assert not good.exists()  # both paths are checked before anything is written
    with pytest.raises(InputError):
        write_report(result, html_path=tmp_path / "missing" / "r.html")


def test_figure_functions_edge_cases():
    zero = Histogram("zero", np.array([0.0, 1.0, 2.0]), np.zeros(2), np.zeros(2))
    all_nan = Series("nan", np.arange(3.0), np.full(3, np.nan), np.full(3, np.nan),
                     np.full(3, np.nan), np.full(3, np.nan))
    figs = [
        loss_curve_figure([0, 1, 2], [0.5, -0.1, np.nan]),  # a negative loss: linear axis
        loss_curve_figure([], []),
        histogram_figure(zero),
        series_figure(all_nan),
        images_figure({"one": np.zeros((8, 8)), "many": np.ones((9, 4, 4))}),
    ]
    assert figs[0].axes[0].get_yscale() == "linear"
    assert loss_curve_figure([1, 2], [0.5, 0.25]).axes[0].get_yscale() == "log"
    assert len(images_figure({"many": np.ones((9, 4, 4))}).axes) == 6 + 1  # 6 columns + colour bar
    for fig in figs:
        png = base64.b64decode(figure_to_base64_png(fig))
        assert png.startswith(b"\x89PNG") and not fig.axes  # the figure is cleared afterwards
    with pytest.raises(ValueError, match="shape"):
        images_figure({"bad": np.zeros(4)})


def test_series_scales():
    x = np.arange(2.0, 9.0)
    y = np.array([2.5, -4.0, 30.0, 3e3, -1e5, 2e6, -1e8])
    err = np.abs(y) * 0.5
    symlog = Series("kappa_n", x, y, err, y * 1.1, err, y_scale="symlog")
    ax = series_figure(symlog).axes[0]
    assert ax.get_yscale() == "symlog" and ax.get_ylim()[0] < -1e8 and ax.get_ylim()[1] > 2e6
    assert ax.yaxis.get_transform().linthresh == 1.0  # a power of ten below the smallest point (2.5)
    assert "symlog" in ax.get_ylabel()
    assert series_figure(dataclasses.replace(symlog, linthresh=0.01)).axes[0].yaxis.get_transform().linthresh == 0.01
    old = Series("G", x, np.exp(-x), 0.1 * np.exp(-x), np.exp(-x), 0.1 * np.exp(-x), log_y=True)
    assert old.scale == "log" and series_figure(old).axes[0].get_yscale() == "log"
    assert series_figure(dataclasses.replace(old, log_y=False)).axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="y_scale"):
        Series("bad", x, y, err, y, err, y_scale="logit")
    with pytest.raises(ValueError, match="contradicts"):
        Series("bad", x, y, err, y, err, log_y=True, y_scale="symlog")


def test_histogram_from_samples_counts_every_entry():
    ref = np.array([-5.0, -np.inf, 0.1, 0.5, 0.9, 1.0, 0.0, 7.0, np.nan, np.inf])
    gen = np.linspace(0, 1, 11)
    h = Histogram.from_samples("x", ref, gen, np.linspace(0.0, 1.0, 5), xlabel="x")
    assert h.reference.sum() == 5 and (h.reference_underflow, h.reference_overflow) == (2, 3)
    assert h.total("reference") == ref.size and h.total("generated") == gen.size == h.generated.sum()
    assert (h.generated_underflow, h.generated_overflow) == (0, 0)
    labels = [t.get_text() for t in histogram_figure(h).axes[0].get_legend().get_texts()]
    assert labels == ["reference: N=10, 5 outside range (2 below, 3 above)",
                      "generated: N=11, none outside range"]
    # without the outside counts, the figure says so instead of claiming a total
    plain = Histogram("p", h.edges, h.reference, h.generated)
    assert plain.total("reference") is None and not plain.outside_recorded
    fig = histogram_figure(plain)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "reference: N=5 in range, outside range not recorded"
    assert "entries in range" in fig.axes[0].get_ylabel()
    with pytest.raises(ValueError, match="edges"):
        Histogram.from_samples("x", ref, gen, [1.0, 0.0])


def test_boolean_info_values_print_yes_no():
    result = without_figures(make_result())
    result.info.update({"exact": True, "numpy flag": np.bool_(False), "count": 1})
    page = render_html(result)
    assert "<th>exact</th><td>yes</td>" in page and "<th>numpy flag</th><td>no</td>" in page
    assert "<th>count</th><td>1</td>" in page  # a plain integer is not a boolean


def test_single_result_page_has_the_figure_grid(full_page):
    result = make_result()
    start = full_page.index('<div class="figures">')
    grid = full_page[start:full_page.index("</div>", start)]  # figures hold no div
    expected = 1 + len(result.series) + len(result.histograms) + 1
    assert grid.count("<figure") == grid.count("</figure>") == full_page.count("<figure") == expected
    assert grid.count('<figure class="wide">') == 1  # the example configurations span both columns
    assert ".figures { display: grid;" in full_page and "max-width: 1400px" in full_page
