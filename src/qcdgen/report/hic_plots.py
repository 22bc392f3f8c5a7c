"""Matplotlib figures of heavy-ion observables (an :class:`~qcdgen.hic.observables.ObservableSummary`).

Figures are built directly on the Agg canvas (no pyplot). Without centrality classes the
"vs centrality" figures show the whole sample as one point spanning 0–100 %; with classes the
centrality axis spans the classes that hold events. Nothing missing is dropped silently:

- a value without an error (NaN error) is drawn as a hollow marker without a bar, and the
  legend has a "hollow: error n/a" entry;
- a value reported as n/a (undefined, or nulled as unreliable: see
  :mod:`qcdgen.hic.observables.quality`) is not drawn, and a note in the figure counts the
  missing points per series;
- on the log axis of the spectra the lower end of an error bar is clipped at
  :data:`LOG_CLIP` times the value (a bar reaching zero has no end on a log axis), the axis
  limits come from the values, not from the bar ends, and a note counts clipped bars, empty
  bins and points without an error.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from qcdgen.errors import InputError
from qcdgen.hic.observables.summary import class_label
from qcdgen.io.atomic import check_writable_dir, os_error_reason
from qcdgen.report.plots import new_figure, save_figure

__all__ = ["check_plot_dir", "flow_vs_centrality_figure", "observable_vs_centrality_figure", "pt_spectra_figure",
           "mean_pt_vs_centrality_figure", "write_observable_plots"]

#: species drawn in the per-species figures (when present in the summary)
PLOT_SPECIES = ("pi+", "pi-", "K+", "K-", "p", "pbar", "Lambda")
#: on a log axis the lower end of an error bar is drawn no lower than LOG_CLIP × value
LOG_CLIP = 0.1
MARKERS = "osD^v<>p*h"


def check_plot_dir(path: str | os.PathLike, what: str = "plot directory") -> Path:
    """Refuse a plot directory that cannot be used, before any computation (creates nothing)."""
    return check_writable_dir(path, what)


def _table(summary, name: str) -> dict[str, np.ndarray]:
    """Per-class table, or the whole sample as one 0–100 % point when there are no classes."""
    if summary.classes:
        return summary.table(name)
    est = summary.observables.get(name)
    value, error = (math.nan, math.nan) if est is None else (est.value, est.error)
    return {"lo": np.array([0.0]), "hi": np.array([100.0]), "center": np.array([50.0]),
            "value": np.array([value]), "error": np.array([error]), "n_events": np.array([summary.n_events])}


def _draw(ax, summary, name: str, label: str, marker: str, color: str, shift: float = 0.0) -> tuple[int, int, int]:
    """Draw one series; returns (points drawn, points without an error, points n/a)."""
    t = _table(summary, name)
    populated = t["n_events"] >= 2
    ok = np.isfinite(t["value"]) & populated
    with_err = ok & np.isfinite(t["error"])
    no_err = ok & ~np.isfinite(t["error"])
    xerr = 0.5 * (t["hi"] - t["lo"])
    x = t["center"] + shift
    if with_err.any():
        ax.errorbar(x[with_err], t["value"][with_err], yerr=t["error"][with_err], xerr=xerr[with_err], fmt=marker,
                    ms=4, capsize=2, lw=1, color=color, label=label)
    if no_err.any():
        ax.errorbar(x[no_err], t["value"][no_err], xerr=xerr[no_err], fmt=marker, ms=5, mfc="white", mew=1.2,
                    lw=1, color=color, label=None if with_err.any() else label)
    return int(ok.sum()), int(no_err.sum()), int((populated & ~np.isfinite(t["value"])).sum())


def _x_range(summary) -> tuple[float, float]:
    """Centrality axis: the classes that hold events (0–100 % without classes)."""
    spans = [(lo, hi) for lo, hi in summary.classes if summary.class_events.get(class_label(lo, hi), 0) >= 2]
    if not spans:
        return 0.0, 100.0
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    pad = 0.02 * (hi - lo)
    return max(lo - pad, 0.0), min(hi + pad, 100.0)


def _finish(ax, summary, n_drawn: int, no_err: int, missing: dict[str, int], ylabel: str, title: str,
            legend: str = "inside") -> None:
    """Axis labels and limits; the legend ("inside", "right" or "below" the axes) also names the
    points without an error and the values reported as n/a."""
    ax.set_xlabel("centrality (%)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(*_x_range(summary))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if no_err:
        handles.append(Line2D([], [], ls="none", marker="o", mfc="white", mec="0.3", color="0.3"))
        labels.append("hollow: error n/a")
    missing = {k: v for k, v in missing.items() if v}
    if missing:  # values reported as n/a: named in the legend, never dropped silently
        handles.append(Line2D([], [], ls="none", marker="x", color="0.5"))
        labels.append(textwrap.fill("n/a, not drawn: " + ", ".join(f"{k} ×{v}" for k, v in missing.items()), 42))
    if handles:
        if legend == "right":
            ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        elif legend == "below":
            ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2,
                      borderaxespad=0)
        else:
            ax.legend(handles, labels, fontsize=7)
    if not n_drawn:
        ax.text(0.5, 0.5, "no finite points", ha="center", va="center", transform=ax.transAxes, color="gray")


def _series_panel(ax, summary, names: list[tuple[str, str]], ylabel: str, title: str,
                  legend: str = "inside") -> None:
    n_drawn = no_err = 0
    missing: dict[str, int] = {}
    for i, (name, label) in enumerate(names):
        shift = (i - (len(names) - 1) / 2) * 0.35
        d, ne, miss = _draw(ax, summary, name, label, MARKERS[i % len(MARKERS)], f"C{i % 10}", shift)
        n_drawn, no_err, missing[label] = n_drawn + d, no_err + ne, miss
    _finish(ax, summary, n_drawn, no_err, missing, ylabel, title, legend)


def flow_vs_centrality_figure(summary) -> Figure:
    """v_n{k} against centrality, one panel per harmonic: v_n{2,4,6,8} and the η-gap v_n{2}."""
    names = [n for n in summary.observables if n.startswith("v") and "{" in n]
    harmonics = sorted({n[1:n.index("{")] for n in names}, key=int)
    fig = new_figure(4.2 * max(len(harmonics), 1), 4.6)
    axes = fig.subplots(1, max(len(harmonics), 1), squeeze=False)[0]
    for ax, h in zip(axes, harmonics):
        own = [(n, n) for n in names if n[1:n.index("{")] == h]
        _series_panel(ax, summary, own, rf"$v_{h}\{{k\}}$", f"$v_{h}$ from cumulants", legend="below")
    return fig


def observable_vs_centrality_figure(summary, name: str, ylabel: str | None = None, title: str | None = None) -> Figure:
    """One observable (e.g. ``dNch/deta``) against centrality."""
    fig = new_figure()
    ax = fig.add_subplot()
    _series_panel(ax, summary, [(name, name)], ylabel or name, title or name)
    return fig


def mean_pt_vs_centrality_figure(summary) -> Figure:
    """⟨pT⟩ per species (|y| < 0.5) and of charged particles in the flow acceptance."""
    names = ["mean_pt"] + [f"mean_pt({s})" for s in PLOT_SPECIES if f"mean_pt({s})" in summary.observables]
    labels = [(n, "charged (flow acceptance)" if n == "mean_pt" else n[len("mean_pt("):-1]) for n in names]
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    _series_panel(ax, summary, labels, r"$\langle p_T \rangle$ (GeV)", "mean transverse momentum", legend="right")
    return fig


def pt_spectra_figure(summary, which: str = "all") -> Figure:
    """1/N_ev d²N/(dpT dy) per species (log y) for the whole sample or one class label."""
    if which not in summary.spectra:
        raise InputError(f"no spectra for {which!r}; available: {list(summary.spectra)}")
    spectra = summary.spectra[which]
    fig = new_figure()
    ax = fig.add_subplot()
    drawn: list[np.ndarray] = []
    clipped = no_err = empty = 0
    for i, label in enumerate(("charged",) + PLOT_SPECIES):
        sp = spectra.get(label)
        if sp is None:
            continue
        color, marker = f"C{i % 10}", "o" if label == "charged" else MARKERS[i % len(MARKERS)]
        ok = np.isfinite(sp.values) & (sp.values > 0)
        empty += int((np.isfinite(sp.values) & (sp.values <= 0)).sum())
        if not ok.any():
            continue
        x, y, e = sp.centers[ok], sp.values[ok], sp.errors[ok]
        has_err = np.isfinite(e)
        lower = np.minimum(e, (1 - LOG_CLIP) * y)
        clipped += int((has_err & (e > (1 - LOG_CLIP) * y)).sum())
        name = f"{label} (|{sp.variable}|<{sp.window:g})"
        if has_err.any():
            ax.errorbar(x[has_err], y[has_err], yerr=[lower[has_err], e[has_err]], fmt=marker, ms=3, lw=0.8,
                        capsize=0, color=color, label=name)
        if (~has_err).any():
            ax.plot(x[~has_err], y[~has_err], ls="none", marker=marker, ms=4, mfc="white", color=color,
                    label=None if has_err.any() else name)
            no_err += int((~has_err).sum())
        drawn.append(y)
    if drawn:
        values = np.concatenate(drawn)
        ax.set_yscale("log")
        ax.set_ylim(values.min() / 3, values.max() * 3)
        handles, labels = ax.get_legend_handles_labels()
        if no_err:
            handles.append(Line2D([], [], ls="none", marker="o", mfc="white", mec="0.3", color="0.3"))
            labels.append("hollow: error n/a")
        ax.legend(handles, labels, fontsize=6.5, ncol=2)
        notes = []
        if clipped:
            notes.append(f"{clipped} lower error bars clipped at {LOG_CLIP:g}×value")
        if no_err:
            notes.append(f"{no_err} points without error (hollow)")
        if empty:
            notes.append(f"{empty} empty bins not drawn")
        if notes:
            ax.text(0.01, 0.01, "; ".join(notes), transform=ax.transAxes, fontsize=6.5, color="0.35", va="bottom")
    else:
        ax.text(0.5, 0.5, "no entries", ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xlabel(r"$p_T$ (GeV)")
    ax.set_ylabel(r"$1/N_{ev}\; d^2N/dp_T\,dy$ (GeV$^{-1}$)")
    n_ev = summary.n_events if which == "all" else summary.class_events.get(which, 0)
    ax.set_title(f"transverse-momentum spectra ({which}, {n_ev} events)", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def write_observable_plots(summary, out_dir: str | os.PathLike, dpi: int = 100) -> list[Path]:
    """Write the standard figures as PNGs into ``out_dir`` (created if missing); returns their paths:
    ``flow_vs_centrality.png``, ``dnch_deta_vs_centrality.png``, ``mean_pt_vs_centrality.png``,
    ``pt_spectra_all.png`` and ``pt_spectra_<class>.png`` per centrality class with events."""
    out = check_plot_dir(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"plot directory {str(out)!r}: cannot create it, {os_error_reason(exc)}") from None
    paths = [
        save_figure(flow_vs_centrality_figure(summary), out / "flow_vs_centrality.png", dpi),
        save_figure(observable_vs_centrality_figure(summary, "dNch/deta", r"$dN_{ch}/d\eta$ (|η|<0.5)",
                                                    "charged-particle density at mid-rapidity"),
                    out / "dnch_deta_vs_centrality.png", dpi),
        save_figure(mean_pt_vs_centrality_figure(summary), out / "mean_pt_vs_centrality.png", dpi),
    ]
    for which in summary.spectra:
        if summary.spectra[which]:
            safe = which.replace("%", "pct").replace("/", "_")
            paths.append(save_figure(pt_spectra_figure(summary, which), out / f"pt_spectra_{safe}.png", dpi))
    return paths
