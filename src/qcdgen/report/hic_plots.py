"""Matplotlib figures of heavy-ion observables (an :class:`~qcdgen.hic.observables.ObservableSummary`).

Figures are built directly on the Agg canvas (no pyplot). Without centrality classes the
"vs centrality" figures show the whole sample as one point spanning 0–100 %. NaN points are
skipped (and named in the figure), never drawn as zero.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from qcdgen.errors import InputError
from qcdgen.report.plots import new_figure, save_figure

__all__ = ["flow_vs_centrality_figure", "observable_vs_centrality_figure", "pt_spectra_figure",
           "mean_pt_vs_centrality_figure", "write_observable_plots"]

#: species drawn in the per-species figures (when present in the summary)
PLOT_SPECIES = ("pi+", "pi-", "K+", "K-", "p", "pbar", "Lambda")


def _table(summary, name: str) -> dict[str, np.ndarray]:
    """Per-class table, or the whole sample as one 0–100 % point when there are no classes."""
    if summary.classes:
        return summary.table(name)
    est = summary.observables.get(name)
    value, error = (math.nan, math.nan) if est is None else (est.value, est.error)
    return {"lo": np.array([0.0]), "hi": np.array([100.0]), "center": np.array([50.0]),
            "value": np.array([value]), "error": np.array([error])}


def _draw(ax, summary, name: str, label: str, marker: str = "o", shift: float = 0.0) -> bool:
    t = _table(summary, name)
    ok = np.isfinite(t["value"])
    if not ok.any():
        return False
    err = np.where(np.isfinite(t["error"]), t["error"], 0.0)
    xerr = 0.5 * (t["hi"] - t["lo"])
    ax.errorbar(t["center"][ok] + shift, t["value"][ok], yerr=err[ok], xerr=xerr[ok], fmt=marker, ms=4,
                capsize=2, lw=1, label=label)
    return True


def _finish(ax, drawn: list[str], missing: list[str], ylabel: str, title: str) -> None:
    ax.set_xlabel("centrality (%)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    if missing:
        ax.text(0.02, 0.02, "not finite: " + ", ".join(missing), transform=ax.transAxes, fontsize=7,
                color="gray", va="bottom")


def flow_vs_centrality_figure(summary) -> Figure:
    """v_n{k} against centrality: v2{2,4,6,8}, v3{2,4} and the η-gap v_n{2}."""
    names = [n for n in summary.observables if n.startswith("v") and "{" in n]
    fig = new_figure()
    ax = fig.add_subplot()
    drawn, missing = [], []
    for i, name in enumerate(names):
        shift = (i - len(names) / 2) * 0.4
        (drawn if _draw(ax, summary, name, name, "osD^v<>p*h"[i % 10], shift) else missing).append(name)
    _finish(ax, drawn, missing, r"$v_n\{k\}$", "anisotropic flow (cumulants)")
    return fig


def observable_vs_centrality_figure(summary, name: str, ylabel: str | None = None) -> Figure:
    """One observable (e.g. ``dNch/deta``) against centrality."""
    fig = new_figure()
    ax = fig.add_subplot()
    ok = _draw(ax, summary, name, name)
    _finish(ax, [name] if ok else [], [] if ok else [name], ylabel or name, name)
    return fig


def mean_pt_vs_centrality_figure(summary) -> Figure:
    """⟨pT⟩ per species (|y| < 0.5) and of charged particles in the flow acceptance."""
    names = ["mean_pt"] + [f"mean_pt({s})" for s in PLOT_SPECIES if f"mean_pt({s})" in summary.observables]
    fig = new_figure()
    ax = fig.add_subplot()
    drawn, missing = [], []
    for i, name in enumerate(names):
        label = "charged (flow acceptance)" if name == "mean_pt" else name[len("mean_pt("):-1]
        (drawn if _draw(ax, summary, name, label, "osD^v<>p"[i % 8], (i - len(names) / 2) * 0.4)
         else missing).append(label)
    _finish(ax, drawn, missing, r"$\langle p_T \rangle$ (GeV)", "mean transverse momentum")
    return fig


def pt_spectra_figure(summary, which: str = "all") -> Figure:
    """1/N_ev d²N/(dpT dy) per species (log y) for the whole sample or one class label."""
    if which not in summary.spectra:
        raise InputError(f"no spectra for {which!r}; available: {list(summary.spectra)}")
    spectra = summary.spectra[which]
    fig = new_figure()
    ax = fig.add_subplot()
    drawn = False
    for label in ("charged",) + PLOT_SPECIES:
        sp = spectra.get(label)
        if sp is None:
            continue
        ok = np.isfinite(sp.values) & (sp.values > 0)
        if not ok.any():
            continue
        err = np.where(np.isfinite(sp.errors), sp.errors, 0.0)
        ax.errorbar(sp.centers[ok], sp.values[ok], yerr=err[ok], fmt="o" if label == "charged" else ".",
                    ms=3, lw=1, capsize=0, label=f"{label} (|{sp.variable}|<{sp.window:g})")
        drawn = True
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no entries", ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xlabel(r"$p_T$ (GeV)")
    ax.set_ylabel(r"$1/N_{ev}\; d^2N/dp_T\,dy$ (GeV$^{-1}$)")
    ax.set_title(f"transverse-momentum spectra ({which})", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def write_observable_plots(summary, out_dir: str | os.PathLike, dpi: int = 100) -> list[Path]:
    """Write the standard figures as PNGs into ``out_dir`` (created if missing); returns their paths:
    ``flow_vs_centrality.png``, ``dnch_deta_vs_centrality.png``, ``mean_pt_vs_centrality.png``,
    ``pt_spectra_all.png`` and ``pt_spectra_<class>.png`` per centrality class."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"plot directory {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        save_figure(flow_vs_centrality_figure(summary), out / "flow_vs_centrality.png", dpi),
        save_figure(observable_vs_centrality_figure(summary, "dNch/deta", r"$dN_{ch}/d\eta$ (|η|<0.5)"),
              out / "dnch_deta_vs_centrality.png", dpi),
        save_figure(mean_pt_vs_centrality_figure(summary), out / "mean_pt_vs_centrality.png", dpi),
    ]
    for which in summary.spectra:
        if summary.spectra[which]:
            safe = which.replace("%", "pct").replace("/", "_")
            paths.append(save_figure(pt_spectra_figure(summary, which), out / f"pt_spectra_{safe}.png", dpi))
    return paths
