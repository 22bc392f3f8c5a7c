"""Closure coverage of the emulator + MCMC posterior over many pseudo-data points (issue 19, slow).

1. A maximin design over (eta_s, T_kin) and a blast-wave campaign (Pb–Pb 2.76 TeV, 30–40 % and 40–50 %,
   observables dNch/deta, v2{2}, mean_pt): the training runs of a PCA + GP emulator.
2. ``--truths`` parameter points not in the design (a second Latin hypercube in the inner 80 % of the box, a
   different seed) and one more campaign at those points with other event seeds: each point's observables
   and their statistical errors are one pseudo-data set with data-like errors (the same number of events).
3. emcee posterior (data + emulator covariance) for every pseudo-data set; does the central 68 % / 95 %
   interval of each parameter contain the truth?

Printed: per parameter the coverage fractions with binomial errors, against 0.683 and 0.954, and the
pull of the coverage from nominal; also the rank-normalised z = (median − truth)/(half 68 % width).

    python benchmarks/bench_closure_coverage.py            # 20 design points x 500 events, 50 truths
    python benchmarks/bench_closure_coverage.py --quick    # 8 x 200, 12 truths (minutes)

Everything is cached under ``--work``: campaigns resume point by point, posteriors per truth.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcdgen.hic.campaign import HeavyIonSimulator
from qcdgen.inference.calibrate import calibrate
from qcdgen.inference.campaign import load_runs, run_campaign
from qcdgen.inference.data import ExperimentalData
from qcdgen.inference.design import make_design
from qcdgen.inference.emulator import emulate_runs
from qcdgen.io.atomic import atomic_write_text
from qcdgen.runtime import set_threads

CLASSES = ((30.0, 40.0), (40.0, 50.0))
LABELS = ["30-40%", "40-50%"]
OBSERVABLES = ["dNch/deta", "v2{2}", "mean_pt"]
PARAMS = [("eta_s", 0.04, 0.24), ("T_kin", 0.07, 0.10)]
NOMINAL = {"68": 0.6827, "95": 0.9545}


@dataclass(frozen=True)
class ClassGenerator(HeavyIonSimulator):
    """The blast-wave generator with events drawn in 30–50 % only."""

    def settings(self, params: dict) -> dict:
        return super().settings(params) | {"centrality": (30.0, 50.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--work", default="benchmarks/results/closure_coverage")
    ap.add_argument("--out", default=None, help="table (default benchmarks/results_closure_coverage[_quick].txt)")
    ap.add_argument("--points", type=int, default=None, help="design points (default 20; quick 8)")
    ap.add_argument("--events", type=int, default=None, help="events per point and per pseudo-data set (500; 200)")
    ap.add_argument("--truths", type=int, default=None, help="pseudo-data points (default 50; quick 12)")
    ap.add_argument("--max-steps", type=int, default=None, help="emcee steps cap per posterior (20000; 4000)")
    args = ap.parse_args()
    set_threads(1)
    q = args.quick
    points = args.points or (8 if q else 20)
    events = args.events or (200 if q else 500)
    n_truth = args.truths or (12 if q else 50)
    max_steps = args.max_steps or (4000 if q else 20000)
    work = Path(args.work) / f"p{points}_e{events}"
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or f"benchmarks/results_closure_coverage{'_quick' if q else ''}.txt")
    t0 = time.perf_counter()

    design = make_design(PARAMS, points, seed=1)
    sim = ClassGenerator(model="blastwave", events=events, centrality_classes=CLASSES, keep_events=False)
    sim.check(design)
    run_campaign(design, sim, work / "design_runs", seed=1, workers=0, progress=False)
    emu, val = emulate_runs(work / "design_runs", work / "emu.pt", observables=OBSERVABLES, classes=LABELS,
                            folds=5, seed=0)

    inner = [(n, lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)) for n, lo, hi in PARAMS]
    truths = make_design(inner, n_truth, seed=7)
    run_campaign(truths, sim, work / "truth_runs", seed=2, workers=0, progress=False)
    runs = load_runs(work / "truth_runs")
    keys = [(o, c) for c in LABELS for o in OBSERVABLES]
    cols = [runs.keys.index(k) for k in keys]
    post_dir = work / "posteriors"
    post_dir.mkdir(exist_ok=True)
    rows = []
    for i in range(len(runs.X)):
        f = post_dir / f"truth_{i:03d}.json"
        if not f.is_file():
            data = ExperimentalData(keys, runs.Y[i, cols], runs.Yerr[i, cols], source=f"truth point {i}")
            r = calibrate(emu, data, max_steps=max_steps, seed=i, truth=runs.X[i])
            summary = {"parameters": r.summary(), "converged": bool(r.mcmc.converged),
                       "max_rhat": float(np.nanmax(r.mcmc.rhat)), "chi2_map": r.chi2_map, "ndf": r.ndf}
            atomic_write_text(f, json.dumps(summary, default=float))
        rows.append(json.loads(f.read_text()))

    lines = [f"# closure coverage ({'quick' if q else 'full'}): blast-wave Pb-Pb 2.76 TeV 30-50%, {points} design "
             f"points x {events} events, {len(rows)} pseudo-data points (inner 80% of the box, {events} events each), "
             f"observables {', '.join(OBSERVABLES)} in {', '.join(LABELS)}; 1 torch thread",
             "emulator leave-points-out: " + (", ".join(f"{k} {val.summary()[k]:.3g}" for k in
                                                        ("rms_z", "within_1sigma", "within_2sigma", "median_relative_error"))
                                              if val is not None else "n/a"),
             "parameter | cov68 ± binom | pull | cov95 ± binom | pull | mean z | sd z | posteriors converged",
             "---|---|---|---|---|---|---|---"]
    conv = sum(r["converged"] for r in rows)
    for j, (name, _, _) in enumerate(PARAMS):
        ps = [r["parameters"][j] for r in rows]
        z = np.array([(p["median"] - p["truth"]) / max(0.5 * (p["hi68"] - p["lo68"]), 1e-12) for p in ps])
        cells = []
        for level in ("68", "95"):
            hit = np.array([p[f"truth_in_{level}"] for p in ps], float)
            frac, nom = hit.mean(), NOMINAL[level]
            err = np.sqrt(nom * (1 - nom) / len(hit))
            cells += [f"{frac:.3f} ± {np.sqrt(frac * (1 - frac) / len(hit)):.3f}", f"{(frac - nom) / err:+.2f}"]
        lines.append(f"{name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | {z.mean():+.2f} | {z.std(ddof=1):.2f} "
                     f"| {conv}/{len(rows)}")
    chi2 = np.array([r["chi2_map"] / max(r["ndf"], 1) for r in rows])
    lines.append(f"chi2/ndf at the MAP: median {np.median(chi2):.2f} (ndf {rows[0]['ndf']}); "
                 f"wall time this run {time.perf_counter() - t0:.0f} s")
    lines.append("pull = (coverage - nominal) / binomial sd at nominal; |pull| < 2 is coverage at the nominal rate")
    text = "\n".join(lines) + "\n"
    atomic_write_text(out, text)
    print(text)


if __name__ == "__main__":
    main()
