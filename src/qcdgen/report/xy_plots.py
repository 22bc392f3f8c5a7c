"""Vortex–antivortex figure of the 2D XY model, one panel per temperature.

Each panel shows one configuration: the spins s_x = (cos θ_x, sin θ_x) as arrows and the plaquette
windings w_P = (1/2π) Σ_{ℓ∈∂P} [Δθ_ℓ] (:func:`qcdgen.lattice.xy.observables.vorticity`) as red (w = +1,
vortex) and blue (w = −1, antivortex) discs at the plaquette centres. Below T_KT ≈ 0.893 (Hasenbusch,
J. Phys. A 38 (2005) 5869) vortices are rare and bound in tight pairs; above it free vortices proliferate
(Kosterlitz & Thouless, J. Phys. C 6 (1973) 1181). Built on the Agg canvas (no pyplot).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qcdgen.report.plots import save_figure

T_KT = 0.8935

__all__ = ["T_KT", "vortex_figure", "write_vortex_plot"]


def vortex_figure(panels: dict) -> Figure:
    """``panels``: temperature → angles θ [L, L] of one configuration (tensor axis 0 drawn as y, axis 1 as x)."""
    import torch

    from qcdgen.lattice.xy.observables import vorticity

    n = len(panels)
    fig = Figure(figsize=(5.2 * n, 5.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (t, theta) in zip(axes, sorted(panels.items())):
        theta = np.asarray(theta, dtype=np.float64)
        size_a, size_b = theta.shape
        w = vorticity(torch.as_tensor(theta)[None])[0].numpy()
        a, b = np.meshgrid(np.arange(size_a), np.arange(size_b), indexing="ij")
        ax.quiver(b, a, np.cos(theta), np.sin(theta), color="0.45", pivot="middle", scale=size_b * 1.25,
                  width=0.004, headwidth=3.5)
        for sign, color, label in ((1, "tab:red", "vortex (w = +1)"), (-1, "tab:blue", "antivortex (w = −1)")):
            pa, pb = np.nonzero(w == sign)
            ax.scatter(pb + 0.5, pa + 0.5, s=70, color=color, alpha=0.85, edgecolors="k", linewidths=0.5,
                       label=f"{label}: {len(pa)}", zorder=3)
        side = "<" if t < T_KT else ">"
        ax.set_title(f"T = {t:g} {side} T_KT ≈ {T_KT:.3f} (L = {size_a}): vortex density "
                     f"{np.abs(w).mean():.3f}", fontsize=9)
        ax.set_xlim(-0.7, size_b - 0.3)
        ax.set_ylim(-0.7, size_a - 0.3)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)  # below: hides no vortex
    fig.suptitle("2D XY model: vortex–antivortex pairs (plaquette winding of the spin angle), Wolff configurations",
                 fontsize=10)
    return fig


def write_vortex_plot(panels: dict, path: str | os.PathLike) -> Path:
    """Write :func:`vortex_figure` of ``panels`` as a PNG (atomically); returns the path."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return save_figure(vortex_figure(panels), path, dpi=110)
