"""``qcdgen inverse tov``: neural EoS with bands from mass-radius observations.

Input OBS.csv: columns ``mass,mass_error,radius,radius_error`` (M_sun, km, 1σ errors).
Outputs (written atomically):

- ``OUT`` (EOS.csv): ``energy_density,pressure,pressure_lo,pressure_hi`` in MeV/fm³: the median
  and the 16-84 % band of P over the ensemble on the network's ε grid, from the crust matching
  point up to the largest central energy density of any member's heaviest star (above it no
  stable star probes the EoS);
- ``OUT``'s stem + ``_mr.csv`` (e.g. EOS_mr.csv): ``mass,radius,radius_lo,radius_hi,members``:
  the median and 16-84 % band of R at fixed M on the members' stable branches; ``members`` is the
  number of members that reach that mass (the band thins above the lowest M_max).

M_max (median and 16-84 % band) is written in the header comments and returned. :func:`run_tov`
draws nothing; the PNG of ``--plot`` (both bands with the observations) is
:func:`qcdgen.report.tov_plots.write_tov_plot` of the returned :class:`TOVResult`, and
:func:`qcdgen.report.pipelines.run_tov` is this pipeline with the ``plot=`` keyword.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcdgen.checks import check_positive_int
from qcdgen.errors import InputError
from qcdgen.inverse.tables import read_columns, write_columns
from qcdgen.inverse.tov.inference import (EnsembleFit, FitConfig, Observations, fit_ensemble, mass_radius_band,
                                          quantile_band)
from qcdgen.io.atomic import check_writable

__all__ = ["TOVResult", "run_tov", "read_observations", "mr_path_for", "DEFAULT_EPOCHS"]

DEFAULT_EPOCHS = 200
BAND = (0.16, 0.84)
_COLUMNS = ["mass", "mass_error", "radius", "radius_error"]


@dataclass
class TOVResult:
    """Paths written and headline numbers (M_max band, R at 1.4 M_sun band) of :func:`run_tov`.

    ``eos`` and ``mass_radius`` hold the columns written to ``eos_path`` and ``mr_path``;
    ``plot_path`` is None here (set by :func:`qcdgen.report.pipelines.run_tov` when it drew one)."""

    eos_path: Path
    mr_path: Path
    plot_path: Path | None
    m_max: float
    m_max_lo: float
    m_max_hi: float
    r14: float
    r14_lo: float
    r14_hi: float
    members_used: int
    failed: list
    fit: EnsembleFit
    eos: dict = dataclasses.field(default_factory=dict)
    mass_radius: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        """One line per file and the headline numbers (median and 16–84 % band)."""
        failed = f", {len(self.failed)} failed and dropped" if self.failed else ""
        r14 = (f"R(1.4 M_sun) = {self.r14:.2f} km [{self.r14_lo:.2f}, {self.r14_hi:.2f}]"
               if np.isfinite(self.r14) else "R(1.4 M_sun): 1.4 M_sun not reached by enough members")
        lines = [f"M_max = {self.m_max:.3f} M_sun [{self.m_max_lo:.3f}, {self.m_max_hi:.3f}], {r14} "
                 f"(median [16 %, 84 %] over {self.members_used} members{failed})",
                 f"wrote {self.eos_path} and {self.mr_path}"]
        if self.plot_path is not None:
            lines.append(f"wrote {self.plot_path}")
        return "\n".join(lines)


def mr_path_for(out: str | os.PathLike) -> Path:
    """The M-R band file beside ``out``: same folder, ``<stem>_mr.csv``."""
    out = Path(out)
    return out.with_name(out.stem + "_mr.csv")


def read_observations(path: str | os.PathLike) -> Observations:
    cols = read_columns(path, _COLUMNS, positive=tuple(_COLUMNS))
    try:
        return Observations(cols["mass"], cols["mass_error"], cols["radius"], cols["radius_error"])
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def run_tov(obs_csv: str | os.PathLike, *, out: str | os.PathLike, ensemble: int = 8, epochs: int = DEFAULT_EPOCHS,
            seed: int = 0, device: str = "cpu", progress: bool = True, config: FitConfig | None = None) -> TOVResult:
    """Fit an ensemble of neural EoSs to OBS.csv through the differentiable TOV solver; write the bands.

    ``ensemble`` members differ in initialisation and in a parametric resampling of the data
    (see :mod:`qcdgen.inverse.tov.inference`); bands are 16-84 % quantiles with the median.
    """
    check_positive_int(ensemble, "--ensemble", 2)
    check_positive_int(epochs, "--epochs")
    obs = read_observations(obs_csv)
    out = check_writable(out, "--out")
    mr_out = check_writable(mr_path_for(out), "M-R band")
    cfg = dataclasses.replace(config or FitConfig(), epochs=epochs)
    fit = fit_ensemble(obs, members=ensemble, config=cfg, seed=seed, device=device, progress=progress)

    m_lo, m_med, m_hi = (float(np.quantile(fit.m_max, q)) for q in (BAND[0], 0.5, BAND[1]))
    head = (f"qcdgen inverse tov: {len(fit.members)} ensemble members (seed {seed}, {epochs} epochs), "
            f"16-84 % quantile band and median\nM_max = {m_med:.4f} M_sun (16-84 %: {m_lo:.4f} - {m_hi:.4f})")
    eps = fit.energy_density
    top = float(np.max(fit.eps_c_max))
    sel = eps <= top
    sel[: max(2, int(sel.sum()))] = True
    p_lo, p_med, p_hi = quantile_band(fit.pressure, BAND)
    eos = {"energy_density": eps[sel], "pressure": p_med[sel], "pressure_lo": p_lo[sel], "pressure_hi": p_hi[sel]}
    write_columns(out, eos,
                  comment=head + f"\nε, P in MeV/fm³; ε from the crust matching point to {top:.1f} "
                  f"(largest central ε of a maximum-mass star); median ε_c(M_max) = {np.median(fit.eps_c_max):.1f}")
    mass_lo = float(np.max([fit.mass[k][fit.stable[k]].min() for k in range(len(fit.members))]))
    mass_grid = np.linspace(mass_lo, float(np.max(fit.m_max)), 120)
    r_lo, r_med, r_hi, n_k = mass_radius_band(fit, mass_grid, BAND)
    mass_radius = {"mass": mass_grid, "radius": r_med, "radius_lo": r_lo, "radius_hi": r_hi, "members": n_k}
    write_columns(mr_out, mass_radius,
                  comment=head + "\nmass in M_sun, radius in km; members = ensemble members reaching this mass")
    r14 = mass_radius_band(fit, np.array([1.4]), BAND)
    return TOVResult(Path(out), mr_out, None, m_med, m_lo, m_hi, float(r14[1][0]), float(r14[0][0]),
                     float(r14[2][0]), len(fit.members), fit.failed, fit, eos=eos, mass_radius=mass_radius)
