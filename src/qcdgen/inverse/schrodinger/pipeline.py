"""``qcdgen inverse potential``: LEVELS.csv → V.csv with an ensemble band.

LEVELS.csv has columns ``n,l,E`` and optional ``error``, ``width``, ``width_error``
(n = 1 is the lowest state of each l; hydrogen's principal number is n + l).  V.csv has
columns ``r,V,V_lo,V_hi`` (+ ``W,W_lo,W_hi`` for V_I when widths were given), with comment lines
giving the probed range, the band definition and the fit quality.

:func:`run_potential` draws nothing; the PNG of ``--plot`` is
:func:`qcdgen.report.potential_plots.write_potential_plot` of the returned fit, and
:func:`qcdgen.report.pipelines.run_potential` is this pipeline with the ``plot=`` keyword.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcdgen.checks import check_choice, check_real
from qcdgen.inverse.schrodinger.potential import ORIGINS, Levels, PotentialFit, fit_potential
from qcdgen.inverse.tables import read_columns, write_columns
from qcdgen.io.atomic import check_writable

__all__ = ["DEFAULT_EPOCHS", "DEFAULT_GRID_POINTS", "PotentialResult", "read_levels", "run_potential",
           "write_potential_csv"]

DEFAULT_GRID_POINTS = 160
DEFAULT_EPOCHS = 1500


@dataclass
class PotentialResult:
    """What :func:`run_potential` produced: the fit, and the files it wrote (``plot`` is None here;
    :func:`qcdgen.report.pipelines.run_potential` sets it when it drew one)."""

    fit: PotentialFit
    out: Path
    plot: Path | None

    @property
    def probed(self) -> tuple[float, float]:
        return self.fit.probed

    def summary(self) -> str:
        lines = self.summary_lines() + [f"wrote {self.out}"] + ([f"wrote {self.plot}"] if self.plot else [])
        return "\n".join(lines)

    def summary_lines(self) -> list[str]:
        """Human-readable lines: probed range, per-level fit, fit diagnostics."""
        f = self.fit
        t = f.level_table()
        lines = [f"probed range {f.probed[0]:.4g} <= r <= {f.probed[1]:.4g} (r_max {f.r_max:.4g}); "
                 f"band = {f.band} ({int(f.good.sum())} members)"]
        for i in range(len(t["n"])):
            s = f"n={t['n'][i]} l={t['l'][i]}: E={t['E'][i]:.6g} fit {t['E_fit'][i]:.6g} ± {t['E_fit_std'][i]:.2g}"
            if "width" in t:
                s += f"; width={t['width'][i]:.4g} fit {t['width_fit'][i]:.4g} ± {t['width_fit_std'][i]:.2g}"
            lines.append(s)
        lines.append(f"chi2 per member: {', '.join(f'{c:.3g}' for c in f.chi2)} ({len(f.levels)} levels"
                     f"{' and widths' if f.width_fit is not None else ''}; errors {f.settings.get('errors')})")
        lines.append(f"discretisation check |E(h) - E(h/2)| <= {f.discretisation_error:.2g}")
        if f.failed:
            lines.append(f"members {f.failed} failed (non-finite, or a state held by the box wall) and are excluded from the band")
        lines += [f"warning: {w}" for w in f.warnings]
        return lines


def read_levels(path: str | os.PathLike) -> Levels:
    """Read and validate LEVELS.csv (InputError naming the file and the bad value)."""
    cols = read_columns(path, ["n", "l", "E"], optional=("error", "width", "width_error"))
    return Levels(n=cols["n"], l=cols["l"], E=cols["E"], error=cols.get("error"), width=cols.get("width"),
                  width_error=cols.get("width_error"), source=str(path))


def write_potential_csv(fit: PotentialFit, path: str | os.PathLike) -> Path:
    """V.csv: r,V,V_lo,V_hi[,W,W_lo,W_hi] on the solver grid, atomically, with comment lines."""
    v, lo, hi = fit.V
    cols = {"r": fit.r, "V": v, "V_lo": lo, "V_hi": hi}
    if fit.W is not None:
        w, wlo, whi = fit.W
        cols.update(W=w, W_lo=wlo, W_hi=whi)
    s = fit.settings
    comment = [
        "qcdgen inverse potential: neural V(r) fitted to bound-state levels (radial Schrodinger, hbar = 1)",
        f"probed range: {fit.probed[0]:.6g} <= r <= {fit.probed[1]:.6g} (summed density of the fitted states "
        ">= 5% of its maximum, median over members); outside it V is set by the prior only",
        f"mass {fit.mass:.10g}, r_max {fit.r_max:.6g}, grid {s.get('grid_points')}, ensemble {s.get('ensemble')}, "
        f"epochs {s.get('epochs')}, seed {s.get('seed')}, level errors: {s.get('errors')}",
        f"V = ensemble mean, V_lo/V_hi = mean -/+ std over {int(fit.good.sum())} members (random initialisations, "
        "smoothness weights log-spaced over a factor 100"
        + (", levels resampled within their errors)" if fit.levels.error is not None else "; levels exact)")
        + ("; W = Im V <= 0, same band" if fit.W is not None else ""),
        f"max chi2 per member {float(np.max(fit.chi2[fit.good])):.4g} over {len(fit.levels)} levels; "
        f"discretisation |E(h) - E(h/2)| <= {fit.discretisation_error:.2g}",
    ]
    if fit.failed:
        comment.append(f"excluded members (non-finite): {fit.failed}")
    comment += [f"warning: {w}" for w in fit.warnings]
    return write_columns(path, cols, comment="\n".join(comment))


def run_potential(levels_csv: str | os.PathLike, *, mass: float, out: str | os.PathLike,
                  r_max: float | None = None, grid_points: int = DEFAULT_GRID_POINTS, ensemble: int = 8,
                  epochs: int = DEFAULT_EPOCHS, origin: str = "regular", seed: int = 0, device: str = "cpu",
                  progress: bool = True) -> PotentialResult:
    """Fit V(r) (and Im V when widths are given) to LEVELS.csv; write V.csv.

    ``r_max`` defaults to 4 L with L = π (n + l)_max / sqrt(2 μ (E_max − E_min)).  Same arguments
    as ``qcdgen inverse potential``.  Deterministic for a fixed ``seed`` on CPU.
    """
    check_real(mass, "--mass", low=0.0)
    check_choice(origin, "--origin", ORIGINS)
    levels = read_levels(levels_csv)
    out = check_writable(out, "--out")
    fit = fit_potential(levels, mass=mass, r_max=r_max, grid_points=grid_points, ensemble=ensemble,
                        epochs=epochs, origin=origin, seed=seed, device=device, progress=progress)
    write_potential_csv(fit, out)
    return PotentialResult(fit=fit, out=Path(out), plot=None)
