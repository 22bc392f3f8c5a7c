"""The statistics behind the pass rules of ``qcdgen hic validate``.

Correlations between the rows of a class (delete-a-group jackknife replicas), the χ² with its
Satterthwaite p-value, the Šidák look-elsewhere threshold of the pulls, and the checks of
rules 1, 2 and 4 (:func:`pull_check`, :func:`chi2_check`, :func:`accuracy_check`); the rules
are stated in :mod:`qcdgen.hic.surrogate.validate`.
"""

from __future__ import annotations

import math

import numpy as np

from qcdgen.hic.observables.summary import summarize_columns
from qcdgen.hic.surrogate.validate_rows import EventRow, EventValidationTable, RowSpec, row_values
from qcdgen.stats.validation_result import Check

__all__ = ["GROUPS", "COV_GROUPS", "ACCURACY_ROWS", "replicas", "r2_excess", "chi2_test", "chi2_tests",
           "sidak_threshold", "pull_threshold", "pull_check", "accuracy_check", "chi2_check"]

#: row groups of the per-group χ²
GROUPS = ("yields", "spectra", "mean pT", "flow", "fluctuations")
#: delete-a-group jackknife replicas for the correlations of the χ²
COV_GROUPS = 20
#: rows of the accuracy rule, by name suffix ("]" ends a spectrum bin's name); net charge and net
#: baryon are left out: they sit near 0, where a ratio means nothing
ACCURACY_ROWS = (" multiplicity", " dN/dy", "dNch/deta", " <pT>", "]", " v2{2}", " v3{2}", " v2{4}")


def replicas(cols: dict, idx: np.ndarray, specs: list[RowSpec], settings: dict, seed: int) -> np.ndarray:
    """Delete-a-group jackknife replicas (G, n_specs) of every row value of one class."""
    groups = np.arange(len(idx)) % min(COV_GROUPS, len(idx))
    cheap = dict(settings, errors="jackknife", n_groups=2)  # only the values are used
    out = []
    for gid in range(groups.max() + 1):
        keep = idx[groups != gid]
        obs, spectra, _ = summarize_columns({k: v[keep] for k, v in cols.items()}, cheap, seed)
        out.append(row_values(obs, spectra, specs))
    return np.array(out)


def _corr(reps: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of jackknife replicas; rows with NaN replicas uncorrelated."""
    d = reps - reps.mean(axis=0)
    ok = np.isfinite(d).all(axis=0) & (np.abs(d).sum(axis=0) > 0)
    d = np.where(ok, d, 0.0)
    cov = d.T @ d
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = cov / np.outer(sd, sd)
    c = np.where(np.outer(ok, ok), c, 0.0)
    np.fill_diagonal(c, 1.0)
    return c


def r2_excess(rows: list[EventRow], rep_g: np.ndarray, rep_r: np.ndarray) -> np.ndarray:
    """Off-diagonal R_ij² of the pulls of one class, corrected for the noise of the estimate.

    R_ij = (ρᵍ σᵍᵢσᵍⱼ + ρʳ σʳᵢσʳⱼ)/(sᵢsⱼ); an estimated correlation with ν = G − 1 degrees of
    freedom has variance ≈ (1 − ρ²)²/ν, which is subtracted from R̂_ij²."""
    sg = np.array([r.generated_error for r in rows])
    sr = np.array([r.reference_error for r in rows])
    s = np.hypot(sg, sr)
    wg, wr = np.outer(sg, sg) / np.outer(s, s), np.outer(sr, sr) / np.outer(s, s)
    cg, cr = _corr(rep_g), _corr(rep_r)
    big_r = wg * cg + wr * cr
    nu_g, nu_r = max(len(rep_g) - 1, 1), max(len(rep_r) - 1, 1)
    out = big_r ** 2 - (wg ** 2 * (1 - cg ** 2) ** 2 / nu_g + wr ** 2 * (1 - cr ** 2) ** 2 / nu_r)
    np.fill_diagonal(out, 0.0)
    return out


def chi2_test(pulls: np.ndarray, tr_r2: float) -> dict:
    """Σ pull² and its Satterthwaite p-value: Σλχ²₁ ≈ a·χ²_b, a = trR²/N, b = N²/trR²."""
    from scipy.stats import chi2

    n = len(pulls)
    if n == 0:
        return {"chi2": math.nan, "ndf": 0, "dof_eff": math.nan, "p": math.nan}
    t = float(np.sum(pulls ** 2))
    tr = max(tr_r2, float(n))
    a, b = tr / n, n * n / tr
    return {"chi2": t, "ndf": n, "dof_eff": b, "p": float(chi2.sf(t / a, b))}


def chi2_tests(blocks: list[tuple[list[EventRow], np.ndarray]]) -> dict:
    """:func:`chi2_test` of all tested rows and of each group in :data:`GROUPS`; ``blocks`` holds (rows,
    :func:`r2_excess`) per class (classes are independent)."""
    out = {}
    for group in ("all",) + GROUPS:
        pulls, tr = [], 0.0
        for rows, excess in blocks:
            sel = np.array([r.tested and (group == "all" or r.group == group) for r in rows], dtype=bool)
            pulls.extend(r.pull for r, s in zip(rows, sel) if s)
            tr += sel.sum() + float(excess[np.ix_(sel, sel)].sum())
        out[group] = chi2_test(np.array(pulls, dtype=float), tr)
    return out


def sidak_threshold(n: int, alpha: float) -> float:
    """|z| below which n independent N(0,1) values all stay with probability 1 − alpha."""
    from scipy.stats import norm

    return float(norm.isf(-math.expm1(math.log1p(-alpha) / max(n, 1)) / 2))


def pull_threshold(n: int, max_abs_pull: float, family_alpha) -> float:
    """The pull threshold for n tested values: max_abs_pull, raised to the Šidák value unless family_alpha is None."""
    return max_abs_pull if family_alpha is None else max(max_abs_pull, sidak_threshold(n, family_alpha))


def pull_check(table: EventValidationTable, tested: list[EventRow], max_abs_pull: float, family_alpha) -> Check:
    """Rule 1: every tested |pull| below the (look-elsewhere) threshold ``table.max_abs_pull``."""
    finite = [r for r in tested if math.isfinite(r.pull)]
    worst = max(tested, key=lambda r: abs(r.pull) if math.isfinite(r.pull) else math.inf, default=None)
    why = (f"max({max_abs_pull:g}, Sidak threshold of {len(tested)} rows at {family_alpha:g} false-alarm "
           f"probability)" if family_alpha is not None else "max_abs_pull")
    n_fail = sum(1 for r in tested if not abs(r.pull) < table.max_abs_pull)
    detail = (f"{len(tested)} rows tested, {n_fail} with |pull| >= {table.max_abs_pull:.2f} = {why}; "
              + (f"largest: {worst.observable} (pull {worst.pull:+.2f})" if worst is not None else "no rows"))
    return Check("pulls", table.passed, detail,
                 {"threshold": table.max_abs_pull, "rows_tested": len(tested), "rows_failing": n_fail,
                  "max_abs_pull": max((abs(r.pull) for r in finite), default=math.nan),
                  "pull_mean": float(np.mean([r.pull for r in finite])) if finite else math.nan,
                  "pull_std": float(np.std([r.pull for r in finite], ddof=1)) if len(finite) > 1 else math.nan})


def accuracy_check(tested: list[EventRow], tolerance: float, max_abs_pull: float, family_alpha) -> Check:
    """Rule 4: the headline ratios within ``tolerance`` of 1 where their error allows a judgement."""
    rows = [r for r in tested if r.observable.endswith(ACCURACY_ROWS)
            and math.isfinite(r.ratio) and math.isfinite(r.ratio_error)]
    judged = [r for r in rows if r.ratio_error <= tolerance]
    z = pull_threshold(len(judged), max_abs_pull, family_alpha)
    excess = {r.observable: (abs(r.ratio - 1) - tolerance) / r.ratio_error if r.ratio_error > 0 else
              (math.inf if abs(r.ratio - 1) > tolerance else -math.inf) for r in judged}
    failing = sorted((r for r in judged if excess[r.observable] > z), key=lambda r: -excess[r.observable])
    within = sum(1 for r in judged if abs(r.ratio - 1) <= tolerance)
    detail = (f"{len(judged)} of {len(rows)} headline ratios have an error <= {tolerance:.0%} and are judged; "
              f"{within} lie within {tolerance:.0%} of 1, {len(failing)} are beyond it by more than "
              f"{z:.2f} sigma" + (": " + "; ".join(f"{r.observable} {r.ratio:.3f} ± {r.ratio_error:.3f}"
                                                   for r in failing[:8]) if failing else ""))
    return Check(f"accuracy {tolerance:.0%}", bool(judged) and not failing, detail,
                 {"tolerance": tolerance, "rows": len(rows), "rows_judged": len(judged), "rows_within": within,
                  "rows_failing": len(failing), "threshold": z})


def chi2_check(tests: dict, alpha: float) -> Check:
    """Rule 2: the p-value of the χ² of all rows in [alpha, 1 − alpha]."""
    t = tests["all"]
    p = t["p"]
    passed = bool(math.isfinite(p) and alpha <= p <= 1 - alpha)
    parts = [f"{g}: {v['chi2']:.1f}/{v['ndf']} (eff. dof {v['dof_eff']:.1f}, p={v['p']:.3g})"
             for g, v in tests.items() if v["ndf"]]
    low = " (chi2 too small: shared events or overestimated errors?)" if math.isfinite(p) and p > 1 - alpha else ""
    detail = (f"p-value must lie in [{alpha:g}, {1 - alpha:g}]{low}; correlations between rows accounted for; "
              + "; ".join(parts))
    values = {f"{g} {k}": v[k] for g, v in tests.items() for k in ("chi2", "ndf", "dof_eff", "p")}
    return Check("chi2", passed, detail, values)
