"""Figures of a spectral reconstruction: ρ(ω) with its band, and the refolded correlator's pulls."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from qcdgen.report.plots import new_figure, save_figure

__all__ = ["spectral_figure", "save_figure", "write_spectral_plot"]

_X_LABEL = {"kl": "p", "laplace": r"$\tau$", "thermal": r"$\tau$"}
_METHOD = {"nn": "NN", "p2p": "NN-P2P", "mem": "MEM", "tikhonov": "Tikhonov", "gp": "GP"}


def spectral_figure(result, rho_true=None) -> Figure:
    """Left: ρ̄(ω) with the ensemble band (and the truth if given). Right: (D − Kρ̄)/σ against x."""
    fig = new_figure(10.0, 4.0)
    ax, axr = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    label = _METHOD.get(result.method, result.method)
    ax.fill_between(result.omega, result.rho_lo, result.rho_hi, color="tab:orange", alpha=0.3,
                    label=(f"{label} posterior band (mean ± 1σ)" if getattr(result, "band", "") == "posterior"
                           else f"{label} band ({result.members.shape[0]} members, mean ± std)"))
    ax.plot(result.omega, result.rho, color="tab:orange", label=f"{label} mean")
    if rho_true is not None:
        ax.plot(result.omega, np.asarray(rho_true, dtype=float), "k--", lw=1, label="truth")
    ax.set_xlabel(r"$\omega$")
    ax.set_ylabel(r"$\rho(\omega)$")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    corr = result.correlator
    pulls = (corr.value - result.refolded()) / corr.error
    axr.axhspan(-1, 1, color="gray", alpha=0.2)
    axr.plot(corr.x, pulls, "o", ms=3, color="tab:blue")
    axr.axhline(0, color="k", lw=0.8)
    axr.set_xlabel(_X_LABEL.get(corr.kernel, "x"))
    axr.set_ylabel(r"$(D - K\bar\rho)/\sigma$")
    axr.set_title(rf"$\chi^2$/point = {result.chi2_per_point:.3g}", fontsize=10)
    axr.grid(alpha=0.3)
    return fig


def write_spectral_plot(result, path: str | os.PathLike, rho_true=None) -> Path:
    """PNG of :func:`spectral_figure` of a :class:`~qcdgen.inverse.spectral.api.SpectralResult`,
    written atomically: the ``--plot`` of ``qcdgen inverse spectral``."""
    return save_figure(spectral_figure(result, rho_true=rho_true), path)
