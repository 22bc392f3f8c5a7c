"""What ``qcdgen hic validate`` shows in its figures, as plain data (:class:`Series`, :class:`Histogram`).

The report layer draws them; nothing here plots.
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.hic.observables.summary import class_label
from qcdgen.hic.surrogate.two_sample import FEATURES
from qcdgen.hic.surrogate.validate_rows import ClassResult, EventRow
from qcdgen.stats.validation_result import Histogram, Series

__all__ = ["PLOT_SPECIES", "PLOT_VS_CENTRALITY", "series_vs_centrality", "ratio_series", "spectrum_series",
           "feature_histograms"]

#: species drawn in the spectrum figures
PLOT_SPECIES = ("charged", "pi+", "K+", "p")
#: observables drawn against centrality
PLOT_VS_CENTRALITY = ("dNch/deta", "v2{2}", "v2{4}", "v3{2}", "v2{2,|deta|>1}", "charged <pT>", "<dpT dpT>",
                      "p <pT>")


def series_vs_centrality(per_class: dict, classes) -> list[Series]:
    """Reference and generated :data:`PLOT_VS_CENTRALITY` observables against the class centre."""
    out = []
    for name in PLOT_VS_CENTRALITY:
        pick = [per_class[class_label(*c)].get(name) for c in classes]
        if all(p is None for p in pick):
            continue
        nan = (math.nan,) * 4
        vals = np.array([nan if p is None else (p.reference, p.reference_error, p.generated, p.generated_error)
                         for p in pick])
        out.append(Series(f"{name} vs centrality", np.array([0.5 * (lo + hi) for lo, hi in classes]),
                          vals[:, 0], vals[:, 1], vals[:, 2], vals[:, 3], xlabel="centrality (%)", ylabel=name))
    return out


def ratio_series(label: str, rows: list[EventRow]) -> Series | None:
    """gen/ref per tested non-spectrum row with a significant reference (x: order in the table)."""
    pick = [r for r in rows if r.tested and r.group != "spectra" and math.isfinite(r.ratio)
            and abs(r.reference) > 3 * r.reference_error]
    if not pick:
        return None
    ref = np.array([abs(r.reference) for r in pick])
    return Series(f"{label}: generated / reference ({pick[0].observable[len(label) + 1:]} ... "
                  f"{pick[-1].observable[len(label) + 1:]}, table order)", np.arange(len(pick), dtype=float),
                  np.ones(len(pick)), np.array([r.reference_error for r in pick]) / ref,
                  np.array([r.ratio for r in pick]), np.array([r.generated_error for r in pick]) / ref,
                  xlabel="row of this class (table order)", ylabel="generated / reference")


def spectrum_series(label: str, g: ClassResult, r: ClassResult) -> list[Series]:
    """The pT spectra of :data:`PLOT_SPECIES` in one class (log y)."""
    out = []
    for sp in PLOT_SPECIES:
        sg, sr = g.spectra.get(sp), r.spectra.get(sp)
        if sg is None or sr is None or not (np.nansum(sg.values) > 0 or np.nansum(sr.values) > 0):
            continue
        out.append(Series(f"{label} {sp} pT spectrum (|{sg.variable}|<{sg.window:g})", sg.centers, sr.values,
                          sr.errors, sg.values, sg.errors, xlabel="pT (GeV)", ylabel=f"1/N d2N/dpT d{sg.variable}",
                          log_y=True))
    return out


def feature_histograms(x_g: np.ndarray, x_r: np.ndarray) -> list[Histogram]:
    """Histograms of the first five event features of the classifier test, both samples."""
    out = []
    for j, name in enumerate(FEATURES[:5]):
        a, b = x_g[:, j], x_r[:, j]
        both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
        if both.size < 2 or both.min() == both.max():
            continue
        edges = np.linspace(*np.quantile(both, [0.001, 0.999]), 31)
        if not edges[-1] > edges[0]:
            continue
        out.append(Histogram(f"event {name}", edges, np.histogram(b[np.isfinite(b)], edges)[0],
                             np.histogram(a[np.isfinite(a)], edges)[0], xlabel=name))
    return out
