"""Figures for the neutron-star EoS inference (:mod:`qcdgen.inverse.tov`).

One figure, two panels: the P(ε) band (log-log) and the M-R band with the observations as error
bars; an optional known truth is overlaid as a dashed line.  Agg canvas, no pyplot; non-finite
points are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from qcdgen.report.plots import new_figure, save_figure

__all__ = ["tov_figure", "write_tov_plot"]


def _band(ax, x, lo, mid, hi, label, color, horizontal=False):
    x, lo, mid, hi = (np.asarray(a, dtype=float) for a in (x, lo, mid, hi))
    ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(mid)
    if not ok.any():
        return
    if horizontal:   # band in the x direction (radius) at fixed y (mass)
        ax.fill_betweenx(x[ok], lo[ok], hi[ok], color=color, alpha=0.3, lw=0, label=label)
        ax.plot(mid[ok], x[ok], color=color, lw=1.5, label="median")
    else:
        ax.fill_between(x[ok], lo[ok], hi[ok], color=color, alpha=0.3, lw=0, label=label)
        ax.plot(x[ok], mid[ok], color=color, lw=1.5, label="median")


def tov_figure(eps, p_lo, p_mid, p_hi, mass, r_lo, r_mid, r_hi, *, observations=None,
               truth_eos: tuple | None = None, truth_mr: tuple | None = None, eps_probed: float | None = None,
               band_label: str = "16-84 % band") -> Figure:
    """EoS band P(ε) [MeV/fm³] and M-R band (R in km at fixed M in M_sun).

    ``observations``: object with mass, mass_error, radius, radius_error arrays;
    ``truth_eos = (eps, p)``, ``truth_mr = (mass, radius)`` overlay a known truth;
    ``eps_probed`` marks the central energy density of the heaviest star (above it no star probes the EoS).
    """
    fig = new_figure(10.0, 4.2)
    ax1, ax2 = fig.subplots(1, 2)
    _band(ax1, eps, p_lo, p_mid, p_hi, band_label, "tab:blue")
    e_band = np.asarray(eps, dtype=float)
    e_lo, e_hi = np.nanmin(e_band), np.nanmax(e_band)
    if truth_eos is not None:   # drawn over the band's ε range only
        e, p = (np.asarray(a, dtype=float) for a in truth_eos)
        ok = np.isfinite(e) & np.isfinite(p) & (e >= e_lo) & (e <= e_hi) & (p > 0)
        ax1.plot(e[ok], p[ok], "k--", lw=1.2, label="truth")
    if eps_probed is not None and np.isfinite(eps_probed):
        ax1.axvline(eps_probed, color="gray", ls=":", lw=1, label="ε_c of M_max")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("energy density ε [MeV/fm³]")
    ax1.set_ylabel("pressure P [MeV/fm³]")
    ax1.set_title("equation of state", fontsize=10)
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=8)
    _band(ax2, mass, r_lo, r_mid, r_hi, band_label, "tab:orange", horizontal=True)
    m_band = np.asarray(mass, dtype=float)
    if truth_mr is not None:   # drawn over the band's mass range only (no low-mass tail to 100 km)
        m, r = (np.asarray(a, dtype=float) for a in truth_mr)
        ok = np.isfinite(m) & np.isfinite(r) & (m >= np.nanmin(m_band))
        ax2.plot(r[ok], m[ok], "k--", lw=1.2, label="truth")
    if observations is not None:
        ax2.errorbar(observations.radius, observations.mass, xerr=observations.radius_error,
                     yerr=observations.mass_error, fmt="o", ms=3, color="tab:red", lw=1, label="observations")
    ax2.set_xlabel("radius R [km]")
    ax2.set_ylabel("mass M [M$_\\odot$]")
    ax2.set_title("mass-radius relation", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    return fig


def write_tov_plot(result, path: str | os.PathLike, dpi: int = 110) -> Path:
    """PNG of the bands of a :class:`~qcdgen.inverse.tov.pipeline.TOVResult` (the columns it wrote) with
    the observations, written atomically: the ``--plot`` of ``qcdgen inverse tov``."""
    eos, mr, fit = result.eos, result.mass_radius, result.fit
    fig = tov_figure(eos["energy_density"], eos["pressure_lo"], eos["pressure"], eos["pressure_hi"], mr["mass"],
                     mr["radius_lo"], mr["radius"], mr["radius_hi"], observations=fit.observations,
                     eps_probed=float(np.median(fit.eps_c_max)))
    return save_figure(fig, path, dpi=dpi)
