"""The domain pipelines together with their figures and reports, as the commands run them.

The domain pipelines compute, write their data files and return plain results; they never draw
(domains do not import ``report``). The functions here have the same names and take the same
arguments as those pipelines plus the drawing ones the pipelines used to take, so code written
against the old signatures keeps working by changing only the import:

- ``run_spectral(..., plot=)``: :func:`qcdgen.inverse.spectral.pipeline.run_spectral`, then
  :func:`~qcdgen.report.spectral_plots.write_spectral_plot`;
- ``run_tov(..., plot=)``: :func:`qcdgen.inverse.tov.pipeline.run_tov`, then
  :func:`~qcdgen.report.tov_plots.write_tov_plot`;
- ``run_potential(..., plot=)``: :func:`qcdgen.inverse.schrodinger.pipeline.run_potential`, then
  :func:`~qcdgen.report.potential_plots.write_potential_plot`;
- ``validate_events(..., report=, json_path=)``: :func:`qcdgen.hic.surrogate.validate.validate_events`,
  then :func:`~qcdgen.report.html.write_report`.

Each checks its drawing paths before any work (a bad ``plot`` path fails in seconds, not after
the fit), calls the pipeline, draws, and returns the pipeline's result (with ``plot_path`` /
``plot`` set where the result has one). ``qcdgen inverse ...`` and ``qcdgen hic validate``
call these.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from qcdgen.io.atomic import check_writable

__all__ = ["run_spectral", "run_tov", "run_potential", "validate_events"]


def run_spectral(corr_csv: str | os.PathLike, *, plot: str | os.PathLike | None = None, **kwargs):
    """:func:`qcdgen.inverse.spectral.pipeline.run_spectral` (same keywords), then the PNG ``plot`` of ρ(ω)
    with its band and the fit's pulls."""
    from qcdgen.inverse.spectral.pipeline import run_spectral as pipeline
    from qcdgen.report.spectral_plots import write_spectral_plot

    if plot is not None:
        check_writable(plot, "plot")
    result = pipeline(corr_csv, **kwargs)
    if plot is not None:
        write_spectral_plot(result, plot)
    return result


def run_tov(obs_csv: str | os.PathLike, *, plot: str | os.PathLike | None = None, **kwargs):
    """:func:`qcdgen.inverse.tov.pipeline.run_tov` (same keywords), then the PNG ``plot`` of the EoS and
    mass-radius bands with the observations; the result's ``plot_path`` is set."""
    from qcdgen.inverse.tov.pipeline import run_tov as pipeline
    from qcdgen.report.tov_plots import write_tov_plot

    if plot is not None:
        plot = check_writable(plot, "--plot")
    result = pipeline(obs_csv, **kwargs)
    if plot is not None:
        result = dataclasses.replace(result, plot_path=write_tov_plot(result, plot))
    return result


def run_potential(levels_csv: str | os.PathLike, *, plot: str | os.PathLike | None = None, **kwargs):
    """:func:`qcdgen.inverse.schrodinger.pipeline.run_potential` (same keywords), then the PNG ``plot`` of
    V(r) with its band and the probed range; the result's ``plot`` is set."""
    from qcdgen.inverse.schrodinger.pipeline import run_potential as pipeline
    from qcdgen.report.potential_plots import write_potential_plot

    if plot is not None:
        plot = check_writable(plot, "--plot")
    result = pipeline(levels_csv, **kwargs)
    if plot is not None:
        write_potential_plot(result.fit, plot)
        result = dataclasses.replace(result, plot=Path(plot))
    return result


def validate_events(generated, reference, *, report: str | os.PathLike | None = None,
                    json_path: str | os.PathLike | None = None, **kwargs):
    """:func:`qcdgen.hic.surrogate.validate.validate_events` (same keywords), then the HTML page ``report``
    and the JSON ``{"passed", "rows", "checks", "info"}`` at ``json_path``, written atomically."""
    from qcdgen.hic.surrogate.validate import validate_events as pipeline
    from qcdgen.report.html import write_report

    for path, what in ((report, "HTML report"), (json_path, "JSON report")):
        if path is not None:
            check_writable(path, what)
    result = pipeline(generated, reference, **kwargs)
    if report is not None or json_path is not None:
        write_report(result, html_path=report, json_path=json_path)
    return result
