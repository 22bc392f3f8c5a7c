"""One self-contained HTML page (and JSON) from a :class:`ValidationResult`.

The page has no external resources: CSS is inline and figures are base64 PNGs,
so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import html
import json
import math
import os

import numpy as np

from qcdgen import __version__
from qcdgen.io.atomic import atomic_write_text, check_writable
from qcdgen.report import plots
from qcdgen.stats.compare import ValidationTable
from qcdgen.stats.validation_result import ValidationResult

__all__ = ["render_html", "render_json", "write_report"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1000px;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.3em; }
.banner { font-size: 2.2em; font-weight: bold; text-align: center; padding: 0.4em; border-radius: 6px;
          color: white; letter-spacing: 0.1em; }
.banner.pass { background: #2e7d32; }
.banner.fail { background: #c62828; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-family: ui-monospace, monospace; white-space: nowrap; }
tr.fail td { background: #fdecea; color: #b71c1c; }
span.pass { color: #2e7d32; font-weight: bold; }
span.fail { color: #c62828; font-weight: bold; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #555; text-align: center; }
footer { margin-top: 2em; font-size: 0.8em; color: #777; }
"""


_FAIL_ROW = ' class="fail"'


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float, spec: str) -> str:
    """Format a float; NaN and inf print as "nan", "inf", "-inf" whatever ``spec`` says."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, spec)


def _status(passed: bool) -> str:
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _info_table(info: dict) -> str:
    if not info:
        return "<p>(no run information)</p>"
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in info.items())
    return f"<table>{rows}</table>"


def _pull_table(table: ValidationTable) -> str:
    head = "<tr><th>observable</th><th>reference</th><th>generated</th><th>pull</th></tr>"
    rows = []
    for r in table.rows:
        bad = not abs(r.pull) < table.max_abs_pull
        rows.append(
            f"<tr{_FAIL_ROW if bad else ''}><td>{_e(r.observable)}</td>"
            f'<td class="num">{_num(r.reference, ".6g")} ± {_num(r.reference_error, ".2g")}</td>'
            f'<td class="num">{_num(r.generated, ".6g")} ± {_num(r.generated_error, ".2g")}</td>'
            f'<td class="num">{_num(r.pull, "+.2f")}</td></tr>')
    if not rows:
        rows.append('<tr class="fail"><td colspan="4">no observables compared</td></tr>')
    chi2, ndf = table.chi2()
    summary = (f"<p>χ²/ndf = {_num(chi2, '.2f')}/{ndf}; a row passes if |pull| &lt; "
               f"{_e(format(table.max_abs_pull, 'g'))}; table {_status(table.passed)}</p>")
    return f"<table>{head}{''.join(rows)}</table>{summary}"


def _checks_table(result: ValidationResult) -> str:
    if not result.checks:
        return "<p>(no extra checks)</p>"
    rows = "".join(f"<tr{'' if c.passed else _FAIL_ROW}><td>{_e(c.name)}</td>"
                   f"<td>{_status(c.passed)}</td><td>{_e(c.detail)}</td></tr>" for c in result.checks)
    return f"<table><tr><th>check</th><th>result</th><th>detail</th></tr>{rows}</table>"


def _figure(fig, caption: str) -> str:
    data = plots.figure_to_base64_png(fig)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _figures(result: ValidationResult) -> list[str]:
    out = []
    if result.loss_curve is not None:
        out.append(_figure(plots.loss_curve_figure(*result.loss_curve), "training loss"))
    out += [_figure(plots.series_figure(s), s.name) for s in result.series]
    out += [_figure(plots.histogram_figure(h), h.name) for h in result.histograms]
    if result.images:
        out.append(_figure(plots.images_figure(result.images), "example configurations"))
    return out


def render_html(result: ValidationResult) -> str:
    """A complete HTML5 document: banner, run info, pull table, checks, figures.

    The text is pure ASCII (other characters as ``&#...;`` references), so writing it
    never depends on the locale's default file encoding.
    """
    passed = result.passed
    figures = _figures(result)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(result.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(result.title)}</h1>",
        f'<div class="banner {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</div>',
        "<h2>Run</h2>", _info_table(result.info),
        "<h2>Observables: reference vs generated</h2>", _pull_table(result.table),
        "<h2>Checks</h2>", _checks_table(result),
        "<h2>Figures</h2>", "\n".join(figures) if figures else "<p>(no figures)</p>",
        f"<footer>qcdgen {_e(__version__)}</footer>",
        "</body></html>",
    ]
    # Pure ASCII (non-ASCII as character references): safe whatever the locale's file encoding.
    return ("\n".join(parts) + "\n").encode("ascii", "xmlcharrefreplace").decode("ascii")


def _strict(value):
    """Make ``value`` strict-JSON-serialisable: NumPy to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_strict(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_json(result: ValidationResult) -> str:
    """``result.to_dict()`` as indented strict JSON (NaN/inf become null), newline-terminated."""
    return json.dumps(_strict(result.to_dict()), indent=2, allow_nan=False) + "\n"


def write_report(result: ValidationResult, html_path: str | os.PathLike | None = None,
                 json_path: str | os.PathLike | None = None) -> None:
    """Write the HTML page and/or the JSON atomically; a ``None`` path is skipped.

    Both paths are checked and both texts rendered before anything is written, so a bad
    path raises :class:`~qcdgen.errors.InputError` without leaving one file of the pair.
    """
    jobs = []
    if html_path is not None:
        jobs.append((check_writable(html_path, "HTML report"), render_html))
    if json_path is not None:
        jobs.append((check_writable(json_path, "JSON report"), render_json))
    texts = [(path, render(result)) for path, render in jobs]
    for path, text in texts:
        atomic_write_text(path, text)
