"""Figure of the effective-action flow S_DM(φ, τ) of the 0-D φ⁴ toy
(:func:`qcdgen.lattice.effective_action.effective_action_flow`).

Three panels: (a) the exact flow S_τ(φ) − min S_τ from the action at τ = 0 towards a Gaussian, the
learned S_DM dashed, against φ/√⟨φ²⟩_τ (so the Gaussian end point is u²/2 whatever its width); (b) ΔS = S_DM − S_exact at the compared τ over the region p_τ > 10⁻³ max p_τ, with
the tolerance band; (c) |residual| of the action equation for the exact p_τ (quadrature) and for S_DM.
Built on the Agg canvas (no pyplot).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qcdgen.report.plots import save_figure

__all__ = ["effective_action_figure", "write_effective_action_plot"]


def effective_action_figure(result) -> Figure:
    """The three-panel figure of an :class:`~qcdgen.lattice.effective_action.EffectiveActionResult`."""
    s = result.settings
    fig = Figure(figsize=(13.5, 4.3), layout="constrained")
    FigureCanvasAgg(fig)
    ax_flow, ax_diff, ax_res = fig.subplots(1, 3)
    cmap = colormaps["viridis"]
    n = len(result.flow_taus)
    for i, (tau, phi, exact, learned) in enumerate(zip(result.flow_taus, result.flow_phi, result.flow_exact,
                                                      result.flow_learned)):
        color = cmap(i / max(1, n - 1))
        shift = exact.min()
        # φ in units of the width √⟨φ²⟩_τ, so the double well and the wide Gaussian share one axis
        p = np.exp(-(exact - shift))
        width = float(np.sqrt((p * phi ** 2).sum() / p.sum()))
        u = phi / width
        show = (exact - shift < 10.0) & (np.abs(u) < 4.0)
        ax_flow.plot(u[show], exact[show] - shift, color=color, lw=1.6, label=f"τ = {tau:g}")
        if learned is not None:
            ax_flow.plot(u[show], learned[show] - shift, color="k", lw=0.9, ls="--")
    u = np.linspace(-4, 4, 201)
    ax_flow.plot(u, 0.5 * u * u, color="0.5", lw=0.9, ls=":", label="Gaussian $u^2/2$")
    ax_flow.plot([], [], color="k", lw=0.9, ls="--", label="learned $S_{DM}$")
    ax_flow.set_xlim(-4, 4)
    ax_flow.set_ylim(-0.3, 8.0)
    ax_flow.set_xlabel("$u = φ / \\sqrt{\\langle φ^2 \\rangle_τ}$")
    ax_flow.set_ylabel("$S_τ(φ) - \\min_φ S_τ$")
    ax_flow.set_title(f"(a) flow of the effective action ({s.sde.upper()}), μ² = {s.mu2:g}, g = {s.g:g}", fontsize=9)
    ax_flow.legend(fontsize=7, loc="upper center", ncol=2)

    colors = colormaps["tab10"]
    for i, c in enumerate(result.comparisons):
        d = np.where(c.region, c.learned - c.exact, np.nan)
        ax_diff.plot(c.phi, d, color=colors(i), lw=1.3, label=f"τ = {c.tau:g}: max|ΔS| = {c.max_abs_diff:.3f}")
        r_in = c.region[2:-2]
        x = c.phi[2:-2]
        ax_res.semilogy(x[r_in], np.abs(c.residual_learned[r_in]), color=colors(i), lw=1.2,
                        label=f"learned, τ = {c.tau:g}")
        ax_res.semilogy(x[r_in], np.abs(c.residual_exact[r_in]), color=colors(i), lw=1.0, ls=":",
                        label=f"exact (quadrature), τ = {c.tau:g}")
    tol = s.tolerance
    ax_diff.axhspan(-tol, tol, color="tab:green", alpha=0.12, lw=0, label=f"tolerance ±{tol:g}")
    ax_diff.axhline(0.0, color="k", lw=0.6)
    ax_diff.set_xlabel("φ")
    ax_diff.set_ylabel("$S_{DM} - S_{exact}$  (both normalised)")
    ax_diff.set_title("(b) learned − exact where $p_τ > 10^{-3}\\,\\max p_τ$", fontsize=9)
    ax_diff.legend(fontsize=7, loc="best")
    eq = ("$∂_τS = ½(∂^2S - (∂S)^2)$" if s.sde == "ve" else "$∂_τS = ½(∂^2S - (∂S)^2) + ½(φ∂S - 1)$")
    ax_res.set_xlabel("φ")
    ax_res.set_ylabel("|residual|")
    ax_res.set_title(f"(c) residual of {eq}", fontsize=9)
    ax_res.legend(fontsize=6, loc="best", ncol=2)
    for ax in (ax_flow, ax_diff, ax_res):
        ax.grid(alpha=0.3)
    return fig


def write_effective_action_plot(result, path: str | os.PathLike, dpi: int = 110) -> Path:
    """PNG of :func:`effective_action_figure`, written atomically."""
    return save_figure(effective_action_figure(result), path, dpi=dpi)
