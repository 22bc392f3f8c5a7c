"""Matplotlib figures for validation reports.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot, so no
global figure registry and no backend switch) and renders it with the Agg canvas.
Non-finite points are skipped, never drawn and never fatal.
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qcdgen.stats.validation_result import Histogram, Series

__all__ = ["figure_to_base64_png", "new_figure", "save_figure", "histogram_figure", "images_figure", "loss_curve_figure",
           "series_figure"]

REF_STYLE = {"color": "tab:blue", "label": "reference"}
GEN_STYLE = {"color": "tab:orange", "label": "generated"}


def new_figure(width: float = 6.0, height: float = 4.0) -> Figure:
    """A pyplot-free figure with an Agg canvas and constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


_new_figure = new_figure


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG atomically (a crash never leaves half an image); the figure is cleared."""
    from qcdgen.io.atomic import atomic_path

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        fig.clear()
    return Path(path)


def _arr(values, what: str, n: int | None = None) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    if n is not None and a.size != n:
        raise ValueError(f"{what} has {a.size} entries, expected {n}")
    return a


def _no_data(ax, text: str = "no finite points") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")


def figure_to_base64_png(fig: Figure, dpi: int = 90) -> str:
    """PNG of ``fig`` as an ASCII base64 string; the figure is cleared afterwards."""
    try:
        if not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return base64.b64encode(buf.getvalue()).decode("ascii")
    finally:
        fig.clear()


def loss_curve_figure(steps, losses) -> Figure:
    """Training loss against step; log y axis if every finite loss is > 0."""
    losses = _arr(losses, "losses")
    steps = _arr(steps, "steps", losses.size)
    ok = np.isfinite(steps) & np.isfinite(losses)
    fig = _new_figure(6.0, 3.5)
    ax = fig.add_subplot()
    x, y = steps[ok], losses[ok]
    if x.size:
        ax.plot(x, y, color="tab:gray", lw=0.8, alpha=0.6 if x.size >= 100 else 1.0, label="loss")
        if x.size >= 100:  # running mean so the trend is readable through the noise
            w = max(2, x.size // 50)
            ax.plot(x[w - 1:], np.convolve(y, np.ones(w) / w, mode="valid"), color="black", lw=1.5,
                    label=f"running mean ({w} points)")
            ax.legend(fontsize=8)
        if np.all(y > 0):
            ax.set_yscale("log")
    else:
        _no_data(ax)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title("training loss", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def _auto_linthresh(values, errors) -> float:
    """A power of ten at or below the smallest point scale max(|y|, σ): every point sits at or
    beyond the linear region of a symlog axis, so each order of magnitude gets its own decade."""
    scales = []
    for y, e in zip(values, errors):
        s = np.maximum(np.abs(y), np.abs(e))
        scales.append(s[np.isfinite(s) & (s > 0)])
    s = np.concatenate(scales) if scales else np.zeros(0)
    return float(10.0 ** np.floor(np.log10(s.min()))) if s.size else 1.0


def _symlog_ticks(linthresh: float, reach: float, most: int = 6) -> list[float]:
    """0 and ±10^k from ``linthresh`` up to ``reach``, every few decades so that at most ``most``
    ticks fall on each side (a label per decade is unreadable over 8+ decades)."""
    lo = math.floor(math.log10(linthresh))
    hi = max(lo, math.ceil(math.log10(reach))) if reach > 0 and math.isfinite(reach) else lo
    step = max(1, math.ceil((hi - lo + 1) / most))
    powers = [10.0 ** k for k in range(hi, lo - 1, -step)]
    return sorted([0.0] + powers + [-p for p in powers])


def series_figure(series: Series) -> Figure:
    """Reference and generated with error bars, and their pull per point in a lower panel.

    The value axis follows ``series.scale``: linear, log (points <= 0 skipped) or symlog
    (``series.linthresh``, or a power of ten below the smallest point, as linear half-width).
    """
    ref = _arr(series.reference, f"series {series.name!r} reference")
    n = ref.size
    x = _arr(series.x, f"series {series.name!r} x", n)
    ref_err = _arr(series.reference_error, f"series {series.name!r} reference_error", n)
    gen = _arr(series.generated, f"series {series.name!r} generated", n)
    gen_err = _arr(series.generated_error, f"series {series.name!r} generated_error", n)
    scale = series.scale

    fig = _new_figure(6.0, 4.5)
    ax, axp = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    # Small horizontal offset so overlapping error bars stay distinguishable.
    finite_x = x[np.isfinite(x)]
    dx = 0.08 * np.min(np.diff(np.unique(finite_x))) if np.unique(finite_x).size > 1 else 0.0
    drawn = []
    sides = ((ref, ref_err, -dx, REF_STYLE, "o"), (gen, gen_err, dx, GEN_STYLE, "s"))
    for y, e, shift, style, marker in sides:
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(e)
        if scale == "log":
            ok &= y > 0
        if ok.any():
            ax.errorbar(x[ok] + shift, y[ok], yerr=np.abs(e[ok]), fmt=marker, ms=4, capsize=2,
                        lw=1, **style)
            drawn.append((y[ok], e[ok]))
    ylabel = series.ylabel or series.name
    if drawn:
        if scale == "log":
            ax.set_yscale("log")
        elif scale == "symlog":
            linthresh = series.linthresh or _auto_linthresh(*zip(*drawn))
            ax.set_yscale("symlog", linthresh=linthresh, linscale=0.5)
            reach = max(float(np.max(np.abs(y) + np.abs(e))) for y, e in drawn)
            ax.set_yticks(_symlog_ticks(linthresh, reach))
            ax.axhspan(-linthresh, linthresh, color="0.92", lw=0, zorder=0)
            ax.axhline(0, color="0.5", lw=0.6, zorder=0)
            ylabel += f"\n(symlog, linear within ±{linthresh:.3g})"
        ax.legend(fontsize=8)
    else:
        _no_data(ax)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_title(series.name, fontsize=10)
    ax.grid(alpha=0.3)

    with np.errstate(divide="ignore", invalid="ignore"):
        pull = (gen - ref) / np.hypot(ref_err, gen_err)
    ok = np.isfinite(x) & np.isfinite(pull)
    axp.axhspan(-1, 1, color="tab:green", alpha=0.15, lw=0)
    axp.axhline(0, color="black", lw=0.8)
    for level in (-3, 3):
        axp.axhline(level, color="tab:red", lw=0.8, ls="--")
    if ok.any():
        axp.plot(x[ok], pull[ok], "o", ms=3, color="black")
        lim = max(4.0, 1.1 * float(np.max(np.abs(pull[ok]))))
        axp.set_ylim(-lim, lim)
    else:
        axp.set_ylim(-4, 4)
    axp.set_ylabel("pull")
    axp.set_xlabel(series.xlabel)
    axp.grid(alpha=0.3)
    return fig


def _outside_text(under: int | None, over: int | None) -> str:
    if under is None or over is None:
        return "outside range not recorded"
    if under + over == 0:
        return "none outside range"
    return f"{under + over:d} outside range ({under:d} below, {over:d} above)"


def histogram_figure(hist: Histogram) -> Figure:
    """Both histograms as densities (steps) with Poisson error bars × √(2τ_int).

    When the entries outside the range are recorded, each side is normalised to *all* its
    entries (so the area inside the range is the fraction in range) and the legend gives the
    total and how many fell outside; otherwise to the entries in range, as the axis label says.
    """
    ref = _arr(hist.reference, f"histogram {hist.name!r} reference")
    edges = _arr(hist.edges, f"histogram {hist.name!r} edges", ref.size + 1)
    gen = _arr(hist.generated, f"histogram {hist.name!r} generated", ref.size)
    widths = np.diff(edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    all_entries = hist.outside_recorded

    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    drawn = False
    sides = ((ref, hist.reference_tau_int, hist.reference_underflow, hist.reference_overflow, REF_STYLE),
             (gen, hist.generated_tau_int, hist.generated_underflow, hist.generated_overflow, GEN_STYLE))
    for counts, tau, under, over, style in sides:
        counts = np.where(np.isfinite(counts), counts, 0.0)
        inside = float(counts.sum())
        total = inside + (under + over if all_entries else 0)
        if inside <= 0:
            if total > 0:  # nothing in range: say so rather than leave the side out silently
                ax.plot([], [], color=style["color"], label=f"{style['label']}: N={total:.6g}, all outside range")
                drawn = True
            continue
        norm = total * widths
        dens = counts / norm
        err = np.sqrt(np.clip(counts, 0, None)) / norm
        err = err * np.sqrt(2 * max(float(tau), 0.5)) if np.isfinite(tau) else err
        if all_entries:
            label = f"{style['label']}: N={total:.6g}, {_outside_text(under, over)}"
        else:
            label = f"{style['label']}: N={inside:.6g} in range, {_outside_text(under, over)}"
        ax.stairs(dens, edges, color=style["color"], lw=1.5, label=label)
        ax.errorbar(centres, dens, yerr=err, fmt="none", ecolor=style["color"], lw=1, capsize=0)
        drawn = True
    if drawn:
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top + 0.25 * (top - bottom))  # headroom: the legend never hides the peak
        ax.legend(fontsize=8, loc="upper right")
    else:
        _no_data(ax, "no entries")
    ax.set_xlabel(hist.xlabel or hist.name)
    ax.set_ylabel("density (normalised to all N entries)" if all_entries
                  else "density (normalised to the entries in range)", fontsize=9)
    ax.set_title(hist.name, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def images_figure(images: Mapping[str, np.ndarray], max_columns: int = 6) -> Figure:
    """Heat maps: one row per name (up to ``max_columns`` samples), one symmetric colour scale."""
    stacks = {}
    for name, arr in images.items():
        a = np.asarray(arr, dtype=float)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3:
            raise ValueError(f"images[{name!r}] must have shape [k, L, L], got {a.shape}")
        stacks[str(name)] = a[:max_columns]
    if not stacks:
        raise ValueError("images is empty; nothing to draw")
    finite = [np.abs(a[np.isfinite(a)]).max() for a in stacks.values() if np.isfinite(a).any()]
    vmax = float(max(finite)) if finite and max(finite) > 0 else 1.0

    nrows, ncols = len(stacks), max(1, max(a.shape[0] for a in stacks.values()))
    fig = _new_figure(1.5 * ncols + 1.2, 1.5 * nrows + 0.4)
    axes = np.atleast_2d(fig.subplots(nrows, ncols, squeeze=False))
    mappable = None
    for r, (name, stack) in enumerate(stacks.items()):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < stack.shape[0]:
                mappable = ax.imshow(stack[c], cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                                     interpolation="nearest", origin="lower")
            else:
                ax.set_axis_off()
        axes[r, 0].set_ylabel(name, fontsize=9)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.9)
    return fig
