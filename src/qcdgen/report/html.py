"""One self-contained HTML page (and JSON) from a :class:`ValidationResult`, or from several.

The page has no external resources: CSS is inline and figures are base64 PNGs,
so it can be mailed, archived or opened offline.

A page holds either one result (banner, run info, pull table, checks, figures) or several
named sections, e.g. ``[("lattice", r1), ("heavy-ion", r2)]``: then an overall banner (PASS
only if every section passed) and a summary table come first, and each section follows with
its own heading, banner, run info, pull table, checks and figures.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from qcdgen import __version__
from qcdgen.errors import InputError
from qcdgen.io.atomic import atomic_write_text, check_writable
from qcdgen.jsonutil import dumps
from qcdgen.report import plots
from qcdgen.stats.estimate import Estimate
from qcdgen.stats.compare import ValidationTable
from qcdgen.stats.validation_result import ValidationResult

__all__ = ["CSS", "DEFAULT_MULTI_TITLE", "FAIL_ROW", "Results", "escape", "figure_html", "format_number", "render_html",
           "render_json", "report_dict", "status_html", "write_report"]

#: what :func:`render_html`, :func:`render_json` and :func:`write_report` accept: one result, a
#: sequence of (section name, result) pairs, or a mapping section name -> result
Results = ValidationResult | Sequence[tuple[str, ValidationResult]] | Mapping[str, ValidationResult]

#: the page title of a multi-section page when none is given
DEFAULT_MULTI_TITLE = "qcdgen validation report"

#: a pull table longer than this is shown as two half tables side by side
SPLIT_ROWS = 14

#: resolution of the figure PNGs: a 6-inch figure is 660 px wide, about one grid cell at full width
FIGURE_DPI = 110

#: the inline style sheet of every page (also used by the sampler-study page)
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em auto; max-width: 1400px;
       padding: 0 1.5em; color: #222; }
h1 { margin-bottom: 0.3em; }
h2 { margin-top: 1.4em; border-bottom: 1px solid #ddd; padding-bottom: 0.15em; }
section.result { margin-top: 2.5em; padding-top: 0.5em; border-top: 3px solid #bbb; }
section.result > h2 { border-bottom: none; margin-top: 0.2em; font-size: 1.6em; }
.banner { font-size: 2.2em; font-weight: bold; text-align: center; padding: 0.4em; border-radius: 6px;
          color: white; letter-spacing: 0.1em; }
.banner.small { font-size: 1.3em; padding: 0.25em; }
.banner.pass { background: #2e7d32; }
.banner.fail { background: #c62828; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; }
th { background: #f0f0f0; text-align: left; }
td.obs { white-space: nowrap; }
td.num { text-align: right; font-family: ui-monospace, monospace; white-space: nowrap; }
tr.fail td { background: #fdecea; color: #b71c1c; }
tr.untested td { color: #777; }
span.pass { color: #2e7d32; font-weight: bold; }
span.fail { color: #c62828; font-weight: bold; }
p.note { color: #555; font-size: 0.95em; }
.tablecols { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 560px), 1fr));
             gap: 0 2em; align-items: start; }
.tablecols > div { overflow-x: auto; }
.tablecols table { width: 100%; }
.figures { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1.2em; align-items: start; }
@media (max-width: 900px) { .figures { grid-template-columns: minmax(0, 1fr); } }
.figures figure { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 0.4em; background: #fff; }
.figures figure img { display: block; width: 100%; height: auto; }
.figures figure.wide { grid-column: 1 / -1; }
.figures figure.wide img { width: auto; max-width: 100%; margin: 0 auto; }
figcaption { font-size: 0.9em; color: #555; text-align: center; margin-top: 0.3em; }
footer { margin-top: 2em; font-size: 0.8em; color: #777; }
"""


#: the class attribute of a failing table row
FAIL_ROW = ' class="fail"'


def escape(text) -> str:
    """``text`` as HTML text or attribute value (quotes escaped)."""
    return html.escape(str(text), quote=True)


def format_number(x: float, spec: str) -> str:
    """Format a float; NaN and inf print as "nan", "inf", "-inf" whatever ``spec`` says."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, spec)


def status_html(passed: bool) -> str:
    """A green PASS or red FAIL badge."""
    return '<span class="pass">PASS</span>' if passed else '<span class="fail">FAIL</span>'


def _banner(passed: bool, small: bool = False) -> str:
    kind = "pass" if passed else "fail"
    return f'<div class="banner{" small" if small else ""} {kind}">{"PASS" if passed else "FAIL"}</div>'


def _info_value(value) -> str:
    """A run-info value as text: booleans (Python or NumPy) as yes/no, anything else as str()."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value)


def _info_table(info: dict) -> str:
    if not info:
        return "<p>(no run information)</p>"
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(_info_value(v))}</td></tr>" for k, v in info.items())
    return f"<table>{rows}</table>"


def _chi2_text(table: ValidationTable) -> str:
    chi2, ndf = table.chi2()
    return f"{format_number(chi2, '.2f')}/{ndf}"


def _value(value: float, error: float) -> str:
    """``0.1590(73)`` (two digits of the error, :class:`~qcdgen.stats.estimate.Estimate`); exact values as they are."""
    if math.isfinite(value) and math.isfinite(error) and error > 0:
        return escape(str(Estimate(value, error)))
    return f"{format_number(value, '.6g')} ± {format_number(error, '.2g')}"


def _pull_table(table: ValidationTable) -> str:
    # rows of a table that marks some rows as shown-but-not-tested (heavy-ion) carry .tested/.flag
    notes = any(getattr(r, "flag", "") for r in table.rows)
    head = ("<tr><th>observable</th><th>reference</th><th>generated</th><th>pull</th>"
            + ("<th>note</th>" if notes else "") + "</tr>")
    rows = []
    for r in table.rows:
        tested = getattr(r, "tested", True)
        bad = tested and not abs(r.pull) < table.max_abs_pull
        css = FAIL_ROW if bad else ("" if tested else ' class="untested"')
        note = f"<td>{escape(getattr(r, 'flag', ''))}</td>" if notes else ""
        rows.append(
            f'<tr{css}><td class="obs">{escape(r.observable)}</td>'
            f'<td class="num">{_value(r.reference, r.reference_error)}</td>'
            f'<td class="num">{_value(r.generated, r.generated_error)}</td>'
            f'<td class="num">{format_number(r.pull, "+.2f")}</td>{note}</tr>')
    if not rows:
        rows.append(f'<tr class="fail"><td colspan="{5 if notes else 4}">no observables compared</td></tr>')
    summary = (f"<p>χ²/ndf = {_chi2_text(table)}; a row passes if |pull| &lt; "
               f"{escape(format(table.max_abs_pull, 'g'))}; table {status_html(table.passed)}</p>")
    if len(rows) <= SPLIT_ROWS or notes:  # a table with a note column needs the full width
        return f"<table>{head}{''.join(rows)}</table>{summary}"
    # a long table reads top to bottom in two columns side by side (one column on a narrow screen)
    half = (len(rows) + 1) // 2
    halves = "".join(f"<div><table>{head}{''.join(part)}</table></div>" for part in (rows[:half], rows[half:]))
    return f'<div class="tablecols">{halves}</div>{summary}'


def _aliases_note(result: ValidationResult) -> str:
    if not result.aliases:
        return ""
    merged = ", ".join(f"{dropped} (= {kept})" for dropped, kept in result.aliases.items())
    return (f'<p class="note">Not repeated in the table (the same estimator of the same data as the row '
            f"named in brackets, so counted once in the table and in χ²/ndf): {escape(merged)}</p>")


def _checks_table(result: ValidationResult) -> str:
    if not result.checks:
        return "<p>(no extra checks)</p>"
    rows = "".join(f"<tr{'' if c.passed else FAIL_ROW}><td>{escape(c.name)}</td>"
                   f"<td>{status_html(c.passed)}</td><td>{escape(c.detail)}</td></tr>" for c in result.checks)
    return f"<table><tr><th>check</th><th>result</th><th>detail</th></tr>{rows}</table>"


def figure_html(fig, caption: str, wide: bool = False) -> str:
    """A matplotlib figure as an inline base64 PNG ``<figure>`` with its caption (``wide``: full grid width)."""
    data = plots.figure_to_base64_png(fig, dpi=FIGURE_DPI)
    css = ' class="wide"' if wide else ""
    return (f'<figure{css}><img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _figures(result: ValidationResult) -> list[str]:
    out = []
    if result.loss_curve is not None:
        out.append(figure_html(plots.loss_curve_figure(*result.loss_curve), "training loss"))
    out += [figure_html(plots.series_figure(s), s.name) for s in result.series]
    out += [figure_html(plots.histogram_figure(h), h.name) for h in result.histograms]
    if result.images:
        out.append(figure_html(plots.images_figure(result.images), "example configurations", wide=True))
    return out


def _figure_grid(result: ValidationResult) -> str:
    figures = _figures(result)
    if not figures:
        return "<p>(no figures)</p>"
    return '<div class="figures">\n' + "\n".join(figures) + "\n</div>"


def _result_body(result: ValidationResult, h: int) -> list[str]:
    """Run info, pull table, checks and figures of one result, with headings of level ``h``."""
    return [
        f"<h{h}>Run</h{h}>", _info_table(result.info),
        f"<h{h}>Observables: reference vs generated</h{h}>", _pull_table(result.table) + _aliases_note(result),
        f"<h{h}>Checks</h{h}>", _checks_table(result),
        f"<h{h}>Figures</h{h}>", _figure_grid(result),
    ]


def _sections(results, what: str = "results") -> list[tuple[str, ValidationResult]] | None:
    """None for one result; else the checked (name, result) pairs of a multi-section page."""
    if isinstance(results, ValidationResult):
        return None
    if isinstance(results, Mapping):
        items = list(results.items())
    elif isinstance(results, Sequence) and not isinstance(results, (str, bytes)):
        items = list(results)
    else:
        raise InputError(f"{what} must be a ValidationResult or a sequence of (section name, ValidationResult) "
                         f"pairs, got {type(results).__name__}")
    if not items:
        raise InputError(f"{what}: a multi-section report needs at least one (section name, ValidationResult) pair")
    seen = set()
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], ValidationResult)):
            raise InputError(f"{what}: each section must be a (name, ValidationResult) pair, got {item!r:.80}")
        name = item[0]
        if not name.strip():
            raise InputError(f"{what}: section names must not be empty, got {name!r}")
        if name in seen:
            raise InputError(f"{what}: section name {name!r} appears twice; names must be unique")
        seen.add(name)
    return items


def _document(title: str, body: list[str]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        *body,
        f"<footer>qcdgen {escape(__version__)}</footer>",
        "</body></html>",
    ]
    # Pure ASCII (non-ASCII as character references): safe whatever the locale's file encoding.
    return ("\n".join(parts) + "\n").encode("ascii", "xmlcharrefreplace").decode("ascii")


def _row_count(table: ValidationTable) -> str:
    """Number of rows, and of tested rows where a table shows some rows without testing them."""
    tested = getattr(table, "tested_rows", table.rows)
    return f"{len(table.rows)}" + ("" if len(tested) == len(table.rows) else f" ({len(tested)} tested)")


def _summary_table(sections: list[tuple[str, ValidationResult]]) -> str:
    rows = "".join(
        f'<tr{"" if r.passed else FAIL_ROW}><td><a href="#section-{i}">{escape(name)}</a></td>'
        f'<td>{status_html(r.passed)}</td>'
        f'<td class="num">{_row_count(r.table)}</td><td class="num">{_chi2_text(r.table)}</td></tr>'
        for i, (name, r) in enumerate(sections, 1))
    return (f'<table class="summary"><tr><th>section</th><th>result</th><th>rows</th><th>χ²/ndf</th></tr>'
            f"{rows}</table>")


def render_html(results: Results, title: str | None = None) -> str:
    """A complete HTML5 document.

    One :class:`ValidationResult`: banner, run info, pull table, checks, figures (page title:
    ``title`` or ``result.title``). A sequence of (section name, result) pairs, or a mapping:
    an overall banner (PASS iff every section passed), a summary table (section, PASS/FAIL,
    rows, χ²/ndf), then one section per result with its own heading, banner and body (page
    title: ``title`` or :data:`DEFAULT_MULTI_TITLE`).

    The text is pure ASCII (other characters as ``&#...;`` references), so writing it
    never depends on the locale's default file encoding.
    """
    sections = _sections(results)
    if sections is None:
        result = results
        return _document(result.title if title is None else title,
                         [_banner(result.passed), *_result_body(result, 2)])
    body = [_banner(all(r.passed for _, r in sections)), "<h2>Summary</h2>", _summary_table(sections)]
    for i, (name, result) in enumerate(sections, 1):
        body += [f'<section class="result" id="section-{i}">', f"<h2>{escape(name)}</h2>"]
        if result.title and result.title != name:
            body.append(f'<p class="note">{escape(result.title)}</p>')
        body += [_banner(result.passed, small=True), *_result_body(result, 3), "</section>"]
    return _document(DEFAULT_MULTI_TITLE if title is None else title, body)


def report_dict(results: Results) -> dict:
    """``result.to_dict()`` for one result; ``{"passed": <all passed>, "sections": {name: to_dict()}}`` for several."""
    sections = _sections(results)
    if sections is None:
        return results.to_dict()
    return {"passed": all(r.passed for _, r in sections), "sections": {name: r.to_dict() for name, r in sections}}


def render_json(results: Results) -> str:
    """:func:`report_dict` as indented strict JSON (NaN/inf become null), newline-terminated."""
    return dumps(report_dict(results))


def write_report(results: Results, html_path: str | os.PathLike | None = None,
                 json_path: str | os.PathLike | None = None, title: str | None = None) -> None:
    """Write the HTML page and/or the JSON atomically; a ``None`` path is skipped.

    ``results``: one :class:`ValidationResult` or several sections (see :func:`render_html`);
    ``title`` is the page title (the JSON has none). Both paths are checked and both texts
    rendered before anything is written, so a bad path raises
    :class:`~qcdgen.errors.InputError` without leaving one file of the pair.
    """
    _sections(results)  # refuse a malformed section list before touching any path
    jobs = []
    if html_path is not None:
        jobs.append((check_writable(html_path, "HTML report"), lambda r: render_html(r, title=title)))
    if json_path is not None:
        jobs.append((check_writable(json_path, "JSON report"), render_json))
    texts = [(path, render(results)) for path, render in jobs]
    for path, text in texts:
        atomic_write_text(path, text)
