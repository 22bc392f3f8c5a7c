"""Figures of a fitted potential V(r): ensemble band, the radial range the levels probe, and
(when widths were fitted) the imaginary part.  Built on the Agg canvas (no pyplot); non-finite
points are skipped, never drawn.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qcdgen.report.plots import save_figure

__all__ = ["draw_potential_panel", "potential_figure", "write_potential_plot"]


def _curve(truth, r: np.ndarray) -> np.ndarray | None:
    if truth is None:
        return None
    return np.asarray(truth(r) if callable(truth) else truth, dtype=float).reshape(-1)


def draw_potential_panel(ax, r, mid, lo, hi, probed, truth=None, label: str = "fitted V(r)", ylabel: str = "V(r)",
                         energies=None) -> None:
    """Band lo..hi, central curve, shaded probed range, optional truth curve and level lines on ``ax``."""
    r, mid, lo, hi = (np.asarray(a, dtype=float).reshape(-1) for a in (r, mid, lo, hi))
    truth = _curve(truth, r)
    ok = np.isfinite(mid) & np.isfinite(lo) & np.isfinite(hi)
    ax.axvspan(probed[0], probed[1], color="tab:green", alpha=0.08, lw=0, label="probed by the levels")
    ax.fill_between(r[ok], lo[ok], hi[ok], color="tab:orange", alpha=0.35, lw=0, label="ensemble mean ± std")
    ax.plot(r[ok], mid[ok], color="tab:orange", lw=1.5, label=label)
    if truth is not None:
        t_ok = np.isfinite(truth)
        ax.plot(r[t_ok], truth[t_ok], "k--", lw=1, label="truth")
    if energies is not None:
        for e in np.unique(np.asarray(energies, dtype=float)):
            ax.axhline(e, color="gray", lw=0.6, ls=":")
    # y range from the probed region, with some margin (the band outside it is prior only)
    inside = ok & (r >= probed[0]) & (r <= probed[1])
    if inside.any():
        ys = [lo[inside], hi[inside]] + ([truth[inside & np.isfinite(truth)]] if truth is not None else [])
        if energies is not None:
            ys.append(np.asarray(energies, dtype=float))
        y = np.concatenate(ys)
        pad = 0.15 * (y.max() - y.min() or 1.0)
        ax.set_ylim(y.min() - pad, y.max() + pad)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def potential_figure(r, V, V_lo, V_hi, *, probed: tuple[float, float], energies=None, W=None,
                     truth: Callable | np.ndarray | None = None, truth_imag: Callable | np.ndarray | None = None,
                     title: str | None = None) -> Figure:
    """V(r) band with the probed range shaded; a second panel for W = Im V when ``W`` = (W, W_lo, W_hi)."""
    r = np.asarray(r, dtype=float)
    arrs = [np.asarray(a, dtype=float).reshape(-1) for a in (V, V_lo, V_hi)]
    fig = Figure(figsize=(6.0, 6.5 if W is not None else 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 if W is not None else 1, 1, sharex=True, squeeze=False)[:, 0]
    draw_potential_panel(axes[0], r, *arrs, probed, truth, "fitted V(r)", "V(r)", energies)
    if W is not None:
        w = [np.asarray(a, dtype=float).reshape(-1) for a in W]
        draw_potential_panel(axes[1], r, *w, probed, truth_imag, "fitted Im V(r)", "Im V(r)")
    axes[-1].set_xlabel("r")
    axes[0].set_xlim(0.0, min(r.max(), 1.6 * probed[1]))
    axes[0].set_title(title or "potential from bound-state levels", fontsize=10)
    return fig


def write_potential_plot(fit, path: str | os.PathLike, *, truth=None, truth_imag=None, title: str | None = None,
                         dpi: int = 100) -> Path:
    """PNG of a :class:`~qcdgen.inverse.schrodinger.potential.PotentialFit`, written atomically."""
    fig = potential_figure(fit.r, *fit.V, probed=fit.probed, energies=fit.levels.E, W=fit.W, truth=truth,
                           truth_imag=truth_imag, title=title)
    return save_figure(fig, path, dpi=dpi)
