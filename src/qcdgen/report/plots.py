"""Matplotlib figures for validation reports.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot, so no
global figure registry and no backend switch) and renders it with the Agg canvas.
Non-finite points are skipped, never drawn and never fatal.
"""

from __future__ import annotations

import base64
import io
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


def series_figure(series: Series) -> Figure:
    """Reference and generated with error bars, and their pull per point in a lower panel."""
    ref = _arr(series.reference, f"series {series.name!r} reference")
    n = ref.size
    x = _arr(series.x, f"series {series.name!r} x", n)
    ref_err = _arr(series.reference_error, f"series {series.name!r} reference_error", n)
    gen = _arr(series.generated, f"series {series.name!r} generated", n)
    gen_err = _arr(series.generated_error, f"series {series.name!r} generated_error", n)

    fig = _new_figure(6.0, 4.5)
    ax, axp = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    # Small horizontal offset so overlapping error bars stay distinguishable.
    finite_x = x[np.isfinite(x)]
    dx = 0.08 * np.min(np.diff(np.unique(finite_x))) if np.unique(finite_x).size > 1 else 0.0
    drawn = False
    sides = ((ref, ref_err, -dx, REF_STYLE, "o"), (gen, gen_err, dx, GEN_STYLE, "s"))
    for y, e, shift, style, marker in sides:
        ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(e)
        if series.log_y:
            ok &= y > 0
        if ok.any():
            ax.errorbar(x[ok] + shift, y[ok], yerr=np.abs(e[ok]), fmt=marker, ms=4, capsize=2,
                        lw=1, **style)
            drawn = True
    if drawn:
        if series.log_y:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    else:
        _no_data(ax)
    ax.set_ylabel(series.ylabel or series.name)
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


def _density(counts: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    counts = np.where(np.isfinite(counts), counts, 0.0)
    total = float(counts.sum())
    if total <= 0:
        return np.zeros_like(counts), np.zeros_like(counts), total
    norm = total * widths
    return counts / norm, np.sqrt(np.clip(counts, 0, None)) / norm, total


def histogram_figure(hist: Histogram) -> Figure:
    """Both histograms normalised to unit area, as steps with Poisson error bars × √(2τ_int)."""
    ref = _arr(hist.reference, f"histogram {hist.name!r} reference")
    edges = _arr(hist.edges, f"histogram {hist.name!r} edges", ref.size + 1)
    gen = _arr(hist.generated, f"histogram {hist.name!r} generated", ref.size)
    widths = np.diff(edges)
    centres = 0.5 * (edges[:-1] + edges[1:])

    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    drawn = False
    for counts, tau, style in ((ref, hist.reference_tau_int, REF_STYLE), (gen, hist.generated_tau_int, GEN_STYLE)):
        dens, err, total = _density(counts, widths)
        err = err * np.sqrt(2 * max(float(tau), 0.5)) if np.isfinite(tau) else err
        if total <= 0:
            continue
        ax.stairs(dens, edges, color=style["color"], lw=1.5, label=f"{style['label']} (N={total:.6g})")
        ax.errorbar(centres, dens, yerr=err, fmt="none", ecolor=style["color"], lw=1, capsize=0)
        drawn = True
    if drawn:
        ax.legend(fontsize=8)
    else:
        _no_data(ax, "no entries")
    ax.set_xlabel(hist.xlabel or hist.name)
    ax.set_ylabel("probability density")
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
