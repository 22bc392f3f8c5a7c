"""A sampler study (:class:`~qcdgen.lattice.compare_samplers.SamplerStudy`) as one self-contained HTML page.

The table has one row per sampler × L × κ; the figures show, against L and one panel per κ, the
cost per independent configuration (log scale), τ_int(|M|), Metropolis acceptance and importance
ESS/N, and the training time. Figures are embedded base64 PNGs; the page is written atomically.
"""

from __future__ import annotations

import math
import os

import numpy as np

from qcdgen import __version__
from qcdgen.io.atomic import atomic_write_text, check_writable
from qcdgen.report.html import CSS, FAIL_ROW, escape, figure_html, format_number, status_html
from qcdgen.report.plots import new_figure

__all__ = ["render_study_html", "write_study_report"]

_MARKERS = {"hmc": "o", "hmc-fa": "s", "diffusion": "^", "flow": "D", "path": "v"}


def _value(x) -> float:
    return math.nan if x is None else float(x)


def _points(study, sampler: str, kappa: float, value, error=None):
    rows = sorted((r for r in study.rows if r.sampler == sampler and r.kappa == kappa), key=lambda r: r.size)
    sizes = np.array([r.size for r in rows], float)
    values = np.array([_value(value(r)) for r in rows], float)
    errors = np.array([_value(error(r)) for r in rows], float) if error is not None else None
    return sizes, values, errors


def _panels(study, title: str, ylabel: str, value, error=None, log_y: bool = False, samplers=None):
    """One panel per κ, one line per sampler; non-finite points are skipped."""
    kappas = study.settings.kappas
    samplers = [s for s in study.settings.samplers if samplers is None or s in samplers]
    fig = new_figure(4.2 * len(kappas) + 0.6, 3.6)
    axes = fig.subplots(1, len(kappas), squeeze=False)[0]
    for ax, kappa in zip(axes, kappas):
        drawn = False
        for sampler in samplers:
            x, y, err = _points(study, sampler, kappa, value, error)
            ok = np.isfinite(y) & ((y > 0) if log_y else True)
            if not ok.any():
                continue
            yerr = None
            if err is not None:
                yerr = np.where(np.isfinite(err[ok]), err[ok], 0.0)
                if log_y:  # keep the lower bar above zero on a log axis
                    yerr = np.vstack([np.minimum(yerr, 0.95 * y[ok]), yerr])
            ax.errorbar(x[ok], y[ok], yerr=yerr, marker=_MARKERS.get(sampler, "o"), capsize=3, label=sampler)
            drawn = True
        if log_y and drawn:
            ax.set_yscale("log")
        if not drawn:
            ax.text(0.5, 0.5, "no finite points", ha="center", va="center", transform=ax.transAxes, color="gray")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(study.settings.sizes), [str(s) for s in study.settings.sizes])
        ax.set_xlabel("L")
        ax.set_ylabel(ylabel)
        ax.set_title(f"kappa = {kappa:g}")
        if drawn:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def _figures(study) -> list[str]:
    generative = ("diffusion", "flow", "path")
    out = [
        figure_html(_panels(study, "cost per independent configuration", "seconds / independent config",
                        lambda r: r.cost, lambda r: r.cost_error, log_y=True),
                "cost per independent configuration, 2 tau_int / (configurations per second), against L"),
        figure_html(_panels(study, "integrated autocorrelation time of |M|", "tau_int(|M|) [configs of the chain]",
                        lambda r: r.tau_int, lambda r: r.tau_int_error, log_y=True),
                "tau_int(|M|) against L (HMC: trajectories; generators: Metropolis proposals)"),
        figure_html(_panels(study, "Metropolis / HMC acceptance", "acceptance",
                        lambda r: r.acceptance, lambda r: r.acceptance_error), "acceptance against L"),
    ]
    if any(r.importance_ess is not None for r in study.rows):
        out.append(figure_html(_panels(study, "importance ESS / N of the proposals", "ESS / N",
                                   lambda r: r.importance_ess, samplers=generative), "importance ESS/N against L"))
    if any(r.train_seconds is not None for r in study.rows):
        out.append(figure_html(_panels(study, "training time", "seconds",
                                   lambda r: None if r.train_seconds is None else r.train_seconds,
                                   log_y=True, samplers=generative),
                           "model training time against L (diffusion: without the HMC run of its training data)"))
    return out


def _table(study) -> str:
    head = ("<tr><th>sampler</th><th>L</th><th>kappa</th><th>exact</th><th>training [s]</th>"
            "<th>configs / s</th><th>acceptance</th><th>ESS / N</th><th>tau_int(|M|)</th>"
            "<th>s / indep. config</th><th>payoff [indep. configs]</th><th>log Z</th><th>max |pull|</th>"
            "<th>validation</th><th>note</th></tr>")
    body = []
    for r in study.rows:
        failed = r.passed is False
        if r.train_seconds is None:
            train = "&ndash;"
        else:
            train = format_number(r.train_seconds, ".1f")
            if r.data_seconds:
                train += f" (+{format_number(r.data_seconds, '.1f')} data)"
        if r.payoff_configs is None:
            payoff = "&ndash;"
        elif math.isinf(r.payoff_configs):
            payoff = "never"
        else:
            payoff = format_number(r.payoff_configs, ".3g")
        log_z = ("&ndash;" if r.log_z is None
                 else f"{format_number(r.log_z, '.5g')} ± {format_number(r.log_z_error, '.2g')}")
        validation = "reference" if r.passed is None else status_html(r.passed)
        body.append(
            f"<tr{FAIL_ROW if failed else ''}><td>{escape(r.sampler)}</td><td class=\"num\">{r.size}</td>"
            f'<td class="num">{format_number(r.kappa, "g")}</td>'
            f'<td>{"yes" if r.exact else "no (Hutchinson log q)"}</td>'
            f'<td class="num">{train}</td><td class="num">{format_number(r.configs_per_second, ".4g")}</td>'
            f'<td class="num">{format_number(r.acceptance, ".3f")} ± {format_number(r.acceptance_error, ".2g")}</td>'
            f'<td class="num">{"&ndash;" if r.importance_ess is None else format_number(r.importance_ess, ".3f")}</td>'
            f'<td class="num">{format_number(r.tau_int, ".3g")} ± {format_number(r.tau_int_error, ".2g")}</td>'
            f'<td class="num">{format_number(r.cost, ".3g")} ± {format_number(r.cost_error, ".2g")}</td>'
            f'<td class="num">{payoff}</td><td class="num">{log_z}</td>'
            f'<td class="num">{"&ndash;" if r.max_abs_pull is None else format_number(r.max_abs_pull, ".2f")}</td>'
            f"<td>{validation}</td><td>{escape(r.note)}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _settings_table(study) -> str:
    s = study.settings.to_dict()
    resolved = s.pop("resolved")
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in s.items())
    rows += f"<tr><th>preset values</th><td>{escape(', '.join(f'{k}={v}' for k, v in resolved.items()))}</td></tr>"
    rows += f"<tr><th>output directory</th><td>{escape(study.out_dir)}</td></tr>"
    return f"<table>{rows}</table>"


def render_study_html(study) -> str:
    """A complete, self-contained HTML5 document (pure ASCII) for ``study``."""
    s = study.settings
    title = (f"Sampler study: phi^4, d={s.dim}, lambda={s.lam:g}, L in {{{', '.join(map(str, s.sizes))}}}, "
             f"kappa in {{{', '.join(f'{k:g}' for k in s.kappas)}}}")
    figures = _figures(study)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS} body {{ max-width: 1400px; }}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<div class="banner {"pass" if study.passed else "fail"}">'
        f'{"ALL SAMPLERS AGREE WITH HMC" if study.passed else "SOME SAMPLER DISAGREES WITH HMC"}</div>',
        "<h2>Samplers</h2>", _table(study),
        "<p>Configurations per second count every chain (HMC trajectories) or proposal (generators) of the batch; "
        "tau_int(|M|) is in those configurations; cost per independent configuration = 2 tau_int / "
        "(configurations per second), its error from that of tau_int. Training time is shown apart; the payoff is "
        "the number of independent configurations after which training (plus, for diffusion, the HMC run of its "
        "training data) has paid off against the cheaper HMC, 'never' when the sampler's cost is not lower. "
        "Each ensemble is validated against plain HMC with all observables of the pull table "
        f"(|pull| &lt; {escape(format(s.max_abs_pull, 'g'))}).</p>",
        "<h2>Figures</h2>", "\n".join(figures),
        "<h2>Settings</h2>", _settings_table(study),
        f"<footer>qcdgen {escape(__version__)}</footer>",
        "</body></html>",
    ]
    return ("\n".join(parts) + "\n").encode("ascii", "xmlcharrefreplace").decode("ascii")


def write_study_report(study, html_path: str | os.PathLike) -> None:
    """Render ``study`` and write it to ``html_path`` atomically."""
    path = check_writable(html_path, "HTML report")
    atomic_write_text(path, render_study_html(study))
