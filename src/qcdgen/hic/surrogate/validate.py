"""Judge generated heavy-ion events against reference events by physics: ``qcdgen hic validate``.

Both samples go through the ground-truth observables of :mod:`qcdgen.hic.observables`
(the same acceptances, the same centrality classes) and are compared row by row:

- **rows**, named ``"<class> [<species>] <quantity>"``: ``"20-30% dNch/deta"``,
  ``"20-30% pi+ multiplicity"`` (full phase space), ``"20-30% pi+ dN/dy"``,
  ``"20-30% pi+ <pT>"`` (|y| < 0.5), ``"20-30% charged <pT>"`` (⟨⟨pT⟩⟩ in the flow acceptance
  |η| < 0.8, 0.2 < pT < 5 GeV), ``"20-30% v2{2}"``, ``"20-30% v2{4}"``, ``"20-30% v2{2,|deta|>1}"``,
  ``"20-30% <dpT dpT>"``, ``"20-30% <dpT dpT dpT>"``, ``"20-30% rho2"``, ``"20-30% net charge"``,
  ``"20-30% pi+ dN/dpT[0.50-0.75]"`` (1/N d²N/dpT dy at |y| < 0.5 in that pT bin, GeV; species
  ``charged``: per unit η at |η| < 0.5). Each row has generated ± error, reference ± error,
  the ratio gen/ref with its propagated error (independent samples) and the pull
  (gen − ref)/√(σ_gen² + σ_ref²). Errors: event-resampling jackknife (or bootstrap).
- **cumulants**: v_n{k} = (∓c_n{k})^{1/k} is far from Gaussian when c_n{k} is within a few σ
  of 0. A v_n{k} row is tested only if c_n{k} is ≥ 3σ away from 0 with the physical sign on
  both sides; otherwise the c_n{k} row is tested instead and the v row is shown, flagged.
  Likewise ρ_n falls back to cov(v_n², [pT]).
- **NaN** (a cumulant of the unphysical sign, an absent species …): the row is kept with a
  flag saying which side and why, excluded from the pull test and χ², and counted in ``info``;
  never averaged. Species absent from both samples and spectrum bins with fewer than
  ``MIN_BIN_ENTRIES`` particles on both sides are not compared (counted in ``info``).

Pass rules (all must hold):

1. every tested |pull| is below ``max(max_abs_pull, z_N)``, where z_N is the Šidák
   look-elsewhere threshold at which N independent N(0, 1) pulls all stay below with
   probability 1 − ``family_alpha`` (≈ 4.1 for 300 rows at 1 %; a fixed 3 would fail a
   perfect generator in most validations of a few hundred rows). ``family_alpha=None``: 3 is used as is.
2. the χ² p-value lies in [``chi2_alpha``, 1 − ``chi2_alpha``]. χ² = Σ pull² over the tested
   rows; rows within a class are strongly correlated (all yields move with the event
   multiplicity), so the null distribution is Σ λᵢ χ²₁ with λ the eigenvalues of the pull
   correlation matrix R, approximated by Satterthwaite's a·χ²_b (a = tr R²/N,
   b = N²/tr R²). R comes from ``COV_GROUPS`` delete-a-group jackknife replicas of every
   observable on both sides; tr R² is corrected for the noise of the estimated correlations.
   Too *small* a χ² also fails: the samples share events, or the errors are overestimated.
3. the classifier two-sample test (:mod:`~qcdgen.hic.surrogate.two_sample`) does not tell
   the samples apart (AUC < ``auc_threshold`` or not significant).
4. accuracy: the headline ratios (:data:`ACCURACY_ROWS`: multiplicities, dN/dy, ⟨pT⟩, spectrum
   bins, v₂{2}, v₃{2}, v₂{4}) lie within ``tolerance`` (5 %) of 1 "where statistics allow": a row
   whose ratio error exceeds the tolerance is not judged, a judged row fails when
   (|r − 1| − tolerance)/σ_r exceeds the same Šidák threshold as the pulls. Rules 1–2 ask whether
   the samples are statistically identical (at per-mille errors they catch 1 % shifts); this asks
   whether the generator is good to the tolerance a physics use needs.

Centrality: the event field ``centrality`` when both samples have it; otherwise each
sample's mid-rank percentile of its own charged multiplicity at |η| < 0.5 (then both must be
minimum bias, or cover the same centrality range, for the classes to mean the same thing;
``info`` says which was used).

This module is the pipeline; the pieces live beside it: :mod:`.validate_inputs` (arguments,
samples, centralities, classes), :mod:`.validate_rows` (row types and the rows of a class),
:mod:`.validate_stats` (correlations, χ², Šidák, the checks of rules 1, 2 and 4) and
:mod:`.validate_series` (the data of the figures). The result is plain data; the report layer
draws it (:func:`qcdgen.report.write_report`).
"""

from __future__ import annotations

import numpy as np

from qcdgen.hic.observables.summary import class_label, summarize_columns
from qcdgen.hic.surrogate.two_sample import classifier_two_sample_test, event_features
from qcdgen.hic.surrogate.validate_inputs import (
    DEFAULT_CLASSES, MIN_CLASS_EVENTS, VALIDATION_PT_BINS, Sample, centralities, check_args, choose_classes, in_class,
    load_sample)
from qcdgen.hic.surrogate.validate_rows import (
    CUMULANT_SIGNIFICANCE, MIN_BIN_ENTRIES, ClassResult, EventRow, EventValidationTable, build_rows, row_specs)
from qcdgen.hic.surrogate.validate_series import (
    PLOT_SPECIES, PLOT_VS_CENTRALITY, feature_histograms, ratio_series, series_vs_centrality, spectrum_series)
from qcdgen.hic.surrogate.validate_stats import (
    ACCURACY_ROWS, COV_GROUPS, GROUPS, accuracy_check, chi2_check, chi2_tests, pull_check, pull_threshold, r2_excess,
    replicas)
from qcdgen.stats.validation_result import Check, ValidationResult

__all__ = ["validate_events", "EventRow", "EventValidationTable", "DEFAULT_CLASSES", "VALIDATION_PT_BINS",
           "GROUPS", "MIN_CLASS_EVENTS", "MIN_BIN_ENTRIES", "COV_GROUPS", "CUMULANT_SIGNIFICANCE", "PLOT_SPECIES",
           "ACCURACY_ROWS", "PLOT_VS_CENTRALITY"]


def _progress(enabled: bool):
    if not enabled:
        return None
    from qcdgen.runtime import progress_bar

    return progress_bar(True)


def validate_events(generated, reference, *, centrality_classes=None, errors: str = "jackknife", seed: int = 0,
                    max_abs_pull: float = 3.0, auc_threshold: float = 0.55, family_alpha: float | None = 0.01,
                    chi2_alpha: float = 1e-3, pt_bins=None, tolerance: float = 0.05,
                    progress: bool = True) -> ValidationResult:
    """Compare generated with reference heavy-ion events (Parquet paths or awkward event arrays).

    ``centrality_classes``: list of (lo, hi) percent (default: the ALICE classes with at least
    ``MIN_CLASS_EVENTS`` events in both samples). ``errors``: "jackknife" or "bootstrap".
    ``pt_bins``: spectrum bin edges (default :data:`VALIDATION_PT_BINS`). ``tolerance``: relative
    accuracy of rule 4. Pass rules and thresholds: see the module docstring.

    Returns the plain :class:`~qcdgen.stats.validation_result.ValidationResult` and writes nothing:
    :func:`qcdgen.report.write_report` turns it into the HTML page and the JSON
    ``{"passed", "rows", "checks", "info"}``, and :func:`qcdgen.report.pipelines.validate_events`
    is this function with the ``report=``/``json_path=`` keywords (paths checked before any work).
    """
    settings = check_args(errors, seed, max_abs_pull, auc_threshold, family_alpha, chi2_alpha, pt_bins, tolerance)
    bar = _progress(progress)
    if bar is not None:
        bar.start()
    try:
        gen = load_sample(generated, "generated", settings, bar)
        ref = load_sample(reference, "reference", settings, bar)
        result = _validate(gen, ref, centrality_classes, settings, int(seed), float(max_abs_pull),
                           float(auc_threshold), family_alpha, float(chi2_alpha), float(tolerance), bar)
    finally:
        if bar is not None:
            bar.stop()
    return result


def _class_result(sample: Sample, idx: np.ndarray, settings: dict, seed: int) -> ClassResult:
    obs, spectra, flags = summarize_columns({k: v[idx] for k, v in sample.cols.items()}, settings, seed)
    named = {}
    for f in flags:
        name, _, why = f.partition(": ")
        named.setdefault(name, why)
    return ClassResult(obs, spectra, named, len(idx), idx)


def _validate(gen: Sample, ref: Sample, requested, settings, seed, max_abs_pull, auc_threshold, family_alpha,
              chi2_alpha, tolerance, bar) -> ValidationResult:
    cent_g, cent_r, source = centralities(gen, ref)
    classes = choose_classes(requested, cent_g, cent_r)
    task = bar.add_task("classes", total=len(classes), status="") if bar is not None else None
    skipped = {"absent species": set(), "sparse spectrum bins": 0, "identically zero": 0}
    rows, blocks, per_class, series, spectra_series = [], [], {}, [], []
    strata_g, strata_r = np.full(gen.n_events, -1), np.full(ref.n_events, -1)
    for ci, (lo, hi) in enumerate(classes):
        label = class_label(lo, hi)
        ig, ir = np.flatnonzero(in_class(cent_g, lo, hi)), np.flatnonzero(in_class(cent_r, lo, hi))
        strata_g[ig[strata_g[ig] < 0]] = ci
        strata_r[ir[strata_r[ir] < 0]] = ci
        g, r = _class_result(gen, ig, settings, seed), _class_result(ref, ir, settings, seed)
        specs = row_specs(g, r, skipped)
        class_rows = build_rows(label, specs, g, r, skipped)
        kept = {row.observable[len(label) + 1:] for row in class_rows}
        specs = [s for s in specs if s.name in kept]
        rep_g = replicas(gen.cols, ig, specs, settings, seed)
        rep_r = replicas(ref.cols, ir, specs, settings, seed)
        blocks.append((class_rows, r2_excess(class_rows, rep_g, rep_r)))
        rows.extend(class_rows)
        per_class[label] = {row.observable[len(label) + 1:]: row for row in class_rows}
        ratio = ratio_series(label, class_rows)
        if ratio is not None:
            series.append(ratio)
        if ci in {0, len(classes) // 2, len(classes) - 1}:  # figures are slow: three classes at most
            spectra_series += spectrum_series(label, g, r)
        if bar is not None:
            bar.advance(task)
    tested = [r for r in rows if r.tested]
    threshold = pull_threshold(len(tested), max_abs_pull, family_alpha)
    table = EventValidationTable(rows=rows, max_abs_pull=threshold, chi2_tests=chi2_tests(blocks))
    checks = [pull_check(table, tested, max_abs_pull, family_alpha),
              chi2_check(table.chi2_tests, chi2_alpha),
              accuracy_check(tested, tolerance, max_abs_pull, family_alpha)]
    if bar is not None:
        task = bar.add_task("classifier two-sample test", total=1, status="")
    x_g, x_r = event_features(gen.cols), event_features(ref.cols)
    use_g, use_r = strata_g >= 0, strata_r >= 0
    c2st = classifier_two_sample_test(x_g[use_g], x_r[use_r], strata_gen=strata_g[use_g],
                                      strata_ref=strata_r[use_r], seed=seed, auc_threshold=auc_threshold)
    if bar is not None:
        bar.advance(task)
    checks.append(Check("classifier two-sample test", c2st.passed, c2st.detail(), c2st.values()))
    info = _info(gen, ref, source, classes, cent_g, cent_r, settings, table, skipped, c2st)
    return ValidationResult(title="heavy-ion events: generated vs reference", table=table, info=info,
                            series=(series_vs_centrality(per_class, classes) if len(classes) > 1 else [])
                            + series + spectra_series,
                            histograms=feature_histograms(x_g[use_g], x_r[use_r]), checks=checks)


def _info(gen, ref, source, classes, cent_g, cent_r, settings, table, skipped, c2st) -> dict[str, str]:
    nan_rows = [r.observable for r in table.rows if r.flag.startswith("NaN")]
    not_gauss = [r.observable for r in table.rows if r.flag.startswith("not tested")]
    counts = ", ".join(f"{class_label(lo, hi)} ({int(in_class(cent_g, lo, hi).sum())}/"
                       f"{int(in_class(cent_r, lo, hi).sum())})" for lo, hi in classes)
    more = lambda xs: "; ".join(xs[:12]) + (f" ... (+{len(xs) - 12})" if len(xs) > 12 else "")  # noqa: E731
    info = {
        "generated": gen.description, "reference": ref.description,
        "centrality from": source,
        "classes (generated/reference events)": counts,
        "acceptance": ("flow, <dpT dpT>, rho_n, charged <pT>: charged |eta|<0.8, 0.2<pT<5 GeV, eta gap 1; "
                       "dNch/deta, charged spectrum: |eta|<0.5; dN/dy, species <pT> and spectra: |y|<0.5; "
                       "multiplicity: full phase space"),
        "errors": f"{settings['errors']} over events"
                  + (f" ({settings['n_groups']} groups)" if settings["errors"] == "jackknife" else
                     f" ({settings['n_boot']} replicas)"),
        "pT bins (GeV)": ", ".join(f"{e:g}" for e in settings["pt_bins"]),
        "rows": f"{len(table.rows)} shown, {len(table.tested_rows)} tested",
        "NaN rows (not tested)": f"{len(nan_rows)}" + (f": {more(nan_rows)}" if nan_rows else ""),
        "v_n{k} / rho_n replaced by cumulants": f"{len(not_gauss)}" + (f": {more(not_gauss)}" if not_gauss else ""),
        "not compared": (f"species absent from both samples: {', '.join(sorted(skipped['absent species'])) or 'none'}; "
                         f"{skipped['sparse spectrum bins']} spectrum bins with < {MIN_BIN_ENTRIES} particles on "
                         f"both sides; {skipped['identically zero']} rows zero with zero error on both sides"),
        "chi2 (all rows)": "{chi2:.1f}/{ndf} (effective dof {dof_eff:.1f}), p = {p:.3g}".format(**table.chi2_tests["all"]),
        "classifier AUC": f"{c2st.auc:.3f} ± {c2st.auc_error:.3f} (null sigma {c2st.null_sigma:.3f}, "
                          f"{c2st.n_per_sample} events per sample)",
    }
    return info
