"""The calibration pipeline of ``qcdgen infer calibrate`` and its HTML report.

:func:`run_calibration` loads the emulator and the data, samples the posterior
(:func:`qcdgen.inference.calibrate.calibrate`), and writes the posterior samples (CSV), the
HTML page (parameter table with τ_int and R̂, χ²/ndf at the MAP, corner plot, posterior
predictive against the data) and optionally a JSON summary, all atomically and only after
everything has been computed and rendered: a refused input leaves no file behind.
"""

from __future__ import annotations

import os

import numpy as np

from qcdgen.io.atomic import atomic_write_text, check_writable
from qcdgen.jsonutil import dumps
from qcdgen.report.html import _document, escape, figure_html, format_number
from qcdgen.report.plots import new_figure

__all__ = ["run_calibration", "render_calibration_html", "corner_figure", "predictive_figure"]

#: most observables shown in the posterior-predictive figure
MAX_PANELS = 12


def corner_figure(result):
    """Corner plot of the posterior samples (corner.py), truth marked when known."""
    import corner
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    d = len(result.names)
    fig = Figure(figsize=(2.2 * d + 1, 2.2 * d + 1))
    FigureCanvasAgg(fig)
    corner.corner(result.samples, labels=list(result.names), fig=fig, quantiles=[0.16, 0.5, 0.84],
                  show_titles=True, title_fmt=".3g", truths=None if result.truth is None else list(result.truth),
                  range=[(lo, hi) for lo, hi in zip(result.lo, result.hi)], bins=30, smooth=1.0)
    return fig


def predictive_figure(result):
    """Data (points) vs the emulator at posterior draws (68 %, 95 % bands) and at the MAP (line), per observable."""
    keys = result.data.keys
    names = list(dict.fromkeys(k[0] for k in keys))[:MAX_PANELS]
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = new_figure(4.2 * cols, 3.0 * rows)
    for p, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, p + 1)
        idx = [j for j, k in enumerate(keys) if k[0] == name]
        x = np.arange(len(idx))
        q = result.predictive[:, idx]
        ax.fill_between(x, q[0], q[4], color="tab:orange", alpha=0.25, step="mid", label="posterior 95%")
        ax.fill_between(x, q[1], q[3], color="tab:orange", alpha=0.45, step="mid", label="posterior 68%")
        ax.plot(x, result.map_mean[idx], color="tab:red", lw=1.2, drawstyle="steps-mid", label="MAP")
        ax.errorbar(x, result.data.values[idx], yerr=result.data.errors[idx], fmt="o", color="k", ms=3,
                    label="data")
        ax.set_xticks(x)
        ax.set_xticklabels([keys[j][1] for j in idx], rotation=45, fontsize=7)
        ax.set_title(name, fontsize=9)
        if p == 0:
            ax.legend(fontsize=7)
    return fig


def _parameter_table(result) -> str:
    has_truth = result.truth is not None
    head = ("<tr><th>parameter</th><th>range</th><th>median</th><th>68% interval</th><th>95% interval</th>"
            "<th>MAP</th><th>&tau;<sub>int</sub> (steps)</th><th>R&#770;</th>" + ("<th>truth</th>" if has_truth else "")
            + "</tr>")
    rows = []
    for r in result.summary():
        f = lambda x: format_number(x, ".4g")
        truth = ""
        if has_truth:
            css = "pass" if r["truth_in_95"] else "fail"
            truth = f'<td class="num"><span class="{css}">{f(r["truth"])}</span></td>'
        rows.append(f'<tr><td class="obs">{escape(r["parameter"])}</td><td class="num">[{f(r["range"][0])}, '
                    f'{f(r["range"][1])}]</td><td class="num">{f(r["median"])}</td>'
                    f'<td class="num">[{f(r["lo68"])}, {f(r["hi68"])}]</td>'
                    f'<td class="num">[{f(r["lo95"])}, {f(r["hi95"])}]</td><td class="num">{f(r["map"])}</td>'
                    f'<td class="num">{format_number(r["tau_int"], ".1f")}</td>'
                    f'<td class="num">{format_number(r["rhat"], ".3f")}</td>{truth}</tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _mcmc_table(result, extra: dict) -> str:
    m = result.mcmc
    info = {"walkers": m.walkers, "steps": m.steps, "burn-in (2 max τ)": m.burn, "thinning (½ min τ)": m.thin,
            "kept samples": len(m.samples), "effective samples (≈)": f"{m.effective_samples:.0f}",
            "acceptance fraction": f"{m.acceptance:.3f}",
            "converged (N > 50 τ, τ stable)": "yes" if m.converged else "NO: raise --max-steps",
            "max R̂ (split, over walkers)": format_number(float(np.nanmax(m.rhat)), ".3f"),
            "χ²/ndf at the MAP": (f"{result.chi2_map:.2f}/{result.ndf}" if result.ndf > 0
                                  else f"{result.chi2_map:.2f}/{result.ndf} (no degrees of freedom)"),
            "data points": len(result.data)} | extra
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in info.items())
    return f"<table>{rows}</table>"


def render_calibration_html(result, title: str = "qcdgen posterior", extra: dict | None = None) -> str:
    """The self-contained HTML page of a :class:`~qcdgen.inference.calibrate.CalibrationResult`."""
    figures = [figure_html(corner_figure(result), "posterior (corner plot; lines: 16/50/84 % quantiles)", wide=True),
               figure_html(predictive_figure(result), "posterior predictive: emulator at posterior draws vs data",
                           wide=True)]
    body = ["<h2>Parameters</h2>", _parameter_table(result),
            '<p class="note">Intervals are central credible intervals of the posterior samples; MAP is the '
            "maximum of the posterior (uniform prior on the design's box). Likelihood: Gaussian with covariance "
            "data + emulator.</p>",
            "<h2>Sampler</h2>", _mcmc_table(result, extra or {}),
            "<h2>Figures</h2>", '<div class="figures">\n' + "\n".join(figures) + "\n</div>"]
    return _document(title, body)


def run_calibration(emulator_path: str | os.PathLike, data_path: str | os.PathLike, out: str | os.PathLike, *,
                    report: str | os.PathLike | None = None, json_path: str | os.PathLike | None = None,
                    truth: str | None = None, walkers: int | None = None, max_steps: int = 20000, seed: int = 0,
                    progress: bool = True):
    """``qcdgen infer calibrate``: posterior samples to ``out`` (CSV), HTML to ``report``, JSON to ``json_path``."""
    from qcdgen.inference.calibrate import calibrate, posterior_csv_text
    from qcdgen.inference.data import read_data
    from qcdgen.inference.emulator import load_emulator

    paths = [check_writable(out, "posterior")]
    if report is not None:
        paths.append(check_writable(report, "HTML report"))
    if json_path is not None:
        paths.append(check_writable(json_path, "JSON summary"))
    emu = load_emulator(emulator_path)
    data = read_data(data_path)
    emu.index(data.keys)  # an observable the runs do not have: refused before sampling
    theta_true = emu.box.parse_point(truth, "--truth") if truth else None
    result = calibrate(emu, data, walkers=walkers, max_steps=max_steps, seed=seed, truth=theta_true,
                       progress=progress)
    extra = {"emulator": str(emulator_path), "data": str(data_path)}
    validation = emu.info.get("validation")
    if isinstance(validation, dict) and "rms_z" in validation:
        extra["emulator validation RMS z (leave-points-out)"] = f"{validation['rms_z']:.2f}"
    texts = [(paths[0], posterior_csv_text(result))]
    if report is not None:
        texts.append((paths[1], render_calibration_html(result, extra=extra)))
    if json_path is not None:
        texts.append((paths[-1], dumps(result.to_json_dict())))
    for path, text in texts:
        atomic_write_text(path, text)
    return result
