"""Reports: a :class:`~qcdgen.stats.validation_result.ValidationResult` as one self-contained
HTML page (inline CSS, base64 PNG figures) and as strict JSON."""

from qcdgen.report.html import render_html, render_json, write_report
from qcdgen.report.plots import (
    figure_to_base64_png,
    histogram_figure,
    images_figure,
    loss_curve_figure,
    series_figure,
)

__all__ = ["render_html", "render_json", "write_report", "figure_to_base64_png", "histogram_figure",
           "images_figure", "loss_curve_figure", "series_figure"]
