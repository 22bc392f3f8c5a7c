"""Surrogate vs generator campaign: the same design, emulator and pseudo-data, two simulators.

1. Training events: the blast-wave generator (Pb–Pb 2.76 TeV, 30–50 %) at eta_s spread over the
   design range 0.04–0.24; a surrogate conditioned on (eta_s, centrality) is trained on them
   (``qcdgen hic train``).
2. One maximin design over eta_s; the campaign runs twice (``qcdgen infer simulate``): with the
   generator and with ``--model surrogate`` (centrality drawn per event over the training range).
3. Pseudo-data: the generator at eta_s = 0.13 (not a design point), its statistical errors as
   the data errors; observables dNch/deta, v2{2}, mean_pt in 30–40 % and 40–50 %.
4. Each campaign → PCA + GP emulator (``qcdgen infer emulate``) → emcee posterior (``calibrate``).
5. Multi-fidelity: the surrogate's emulator corrected by a linear discrepancy fitted to the generator
   at ``--correction-points`` (default 3) points of their own design (``emulate --correct-with``,
   :mod:`qcdgen.inference.discrepancy`; Kennedy & O'Hagan 2001), calibrated on the same data.

Printed: posterior median ± half 68 % width per parameter for both, the pull of their difference
(difference / combined width) and the campaign wall times side by side (training-data generation
and surrogate training reported separately: they are paid once for many campaigns).

    python benchmarks/bench_surrogate_campaign.py --quick     # minutes on one thread
    python benchmarks/bench_surrogate_campaign.py             # more events and training steps

Everything is cached under ``--work``; a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcdgen.hic.campaign import HeavyIonSimulator, observe_point, simulate_design
from qcdgen.hic.generation import generate_to_file
from qcdgen.hic.surrogate.pipeline import train_pipeline
from qcdgen.inference.calibrate import calibrate
from qcdgen.inference.campaign import load_runs, run_campaign
from qcdgen.inference.data import data_csv_text, read_data
from qcdgen.inference.design import make_design, write_design
from qcdgen.inference.emulator import emulate_runs
from qcdgen.io.atomic import atomic_write_text
from qcdgen.runtime import set_threads

CENTRALITY = (30.0, 50.0)
CLASSES = ((30.0, 40.0), (40.0, 50.0))
LABELS = ["30-40%", "40-50%"]
OBSERVABLES = ["dNch/deta", "v2{2}", "mean_pt"]
ETA_S = (0.04, 0.24)
TRUTH = 0.13


@dataclass(frozen=True)
class ClassGenerator(HeavyIonSimulator):
    """The campaign's blast-wave generator restricted to one centrality range (as the training data)."""

    centrality: tuple = CENTRALITY

    def settings(self, params: dict) -> dict:
        return super().settings(params) | {"centrality": self.centrality}

    def describe(self) -> dict:
        return super().describe() | {"centrality": list(self.centrality)}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--work", default="benchmarks/results/surrogate_campaign")
    ap.add_argument("--out", default="benchmarks/results_surrogate_campaign.txt")
    ap.add_argument("--workers", type=int, default=0, help="campaign workers (default 0: this process)")
    ap.add_argument("--steps", type=int, default=None, help="surrogate training steps (default 300 quick, 2000)")
    ap.add_argument("--events", type=int, default=None, help="events per design point (default 150 quick, 500)")
    ap.add_argument("--correction-points", type=int, default=3,
                    help="generator points for the multi-fidelity correction of the surrogate (default 3; 0: none)")
    args = ap.parse_args()
    set_threads(1)
    q = args.quick
    n_train_points, train_events = (5, 80) if q else (9, 300)
    steps, points, events, data_events = (300, 6, 150, 400) if q else (2000, 10, 500, 2000)
    steps, events = args.steps or steps, args.events or events
    work = Path(args.work) / ("quick" if q else f"full_s{steps}_e{events}")
    work.mkdir(parents=True, exist_ok=True)
    times_file = work / "times.json"    # wall times survive a resumed run
    times = json.loads(times_file.read_text()) if times_file.is_file() else {}
    lines = []

    def record(key, seconds):
        if seconds:
            times[key] = seconds
            atomic_write_text(times_file, json.dumps(times))

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    # 1. training events over the design range, and the surrogate
    files = []
    for k, eta_s in enumerate(np.linspace(*ETA_S, n_train_points)):
        f = work / f"train_{k}.parquet"
        if not f.is_file():
            _, dt = timed(generate_to_file, f, model="blastwave", n_events=train_events, seed=100 + k,
                          progress=False, system="PbPb", sqrts=2760.0, eta_s=float(eta_s), centrality=CENTRALITY)
            record("training events", times.get("training events", 0.0) + dt)
        files.append(f)
    model = work / "surrogate.pt"
    if not model.is_file():
        _, dt = timed(train_pipeline, [str(f) for f in files], conditions="eta_s,centrality", out=model,
                      steps=steps, batch_events=16, k_particles=256, eta_max=1.0, seed=0, progress=False)
        record("surrogate training", dt)
    # 2. one design, two campaigns
    design = make_design([("eta_s", *ETA_S)], points, seed=4)
    write_design(work / "design.csv", design)
    gen_sim = ClassGenerator(model="blastwave", events=events, centrality_classes=CLASSES, keep_events=False)
    gen_sim.check(design)
    s_gen = run_campaign(design, gen_sim, work / "runs_generator", seed=1, workers=args.workers, progress=False)
    record("generator campaign", s_gen.seconds if s_gen.ran == points else 0)
    s_sur = simulate_design(design, work / "runs_surrogate", model="surrogate", surrogate=model, events=events,
                            seed=1, workers=args.workers, centrality_classes=CLASSES, keep_events=False,
                            progress=False)
    record("surrogate campaign", s_sur.seconds if s_sur.ran == points else 0)
    s_few = None
    if args.correction_points:
        few = make_design([("eta_s", *ETA_S)], args.correction_points, seed=7)
        s_few = run_campaign(few, gen_sim, work / "runs_generator_few", seed=2, workers=args.workers, progress=False)
        record("correction runs", s_few.seconds if s_few.ran == args.correction_points else 0)
    # 3. pseudo-data at a point not in the design
    data_dir = work / "data"
    data_dir.mkdir(exist_ok=True)
    if not (data_dir / "observe.json").is_file():
        generate_to_file(data_dir / "events.parquet", model="blastwave", n_events=data_events, seed=999,
                         progress=False, system="PbPb", sqrts=2760.0, eta_s=TRUTH, centrality=CENTRALITY)
        observe_point(data_dir, CLASSES, keep_events=False)
    payload = json.loads((data_dir / "observe.json").read_text())
    keys, values, errors = [], [], []
    for label in LABELS:
        for name in OBSERVABLES:
            entry = payload["per_class"][label]["observables"][name]
            keys.append((name, label))
            values.append(entry["value"])
            errors.append(entry["error"])
    atomic_write_text(data_dir / "data.csv", data_csv_text(keys, values, errors))
    data = read_data(data_dir / "data.csv")
    # 4. emulate + calibrate each campaign on the same data
    results = {}
    corrected = f"surrogate + {args.correction_points} generator runs"
    runs = [("generator", s_gen, None), ("surrogate", s_sur, None)]
    runs += [(corrected, s_sur, s_few.out)] if s_few is not None else []
    for name, summary, correct_with in runs:
        emu, val = emulate_runs(summary.out, work / f"emu_{name.split()[0]}{'_mf' if correct_with else ''}.pt",
                                observables=OBSERVABLES, classes=LABELS, folds=min(5, points), seed=0,
                                correct_with=correct_with)
        r = calibrate(emu, data, max_steps=5000 if q else 20000, seed=0, truth=[TRUTH])
        results[name] = (r, val.summary() if val is not None else None, emu.info.get("correction"))
    times[corrected + " campaign"] = times.get("surrogate campaign", 0.0) + times.get("correction runs", 0.0)

    say(f"# Surrogate vs generator campaign ({'--quick' if q else 'full'}); blast-wave Pb-Pb 2.76 TeV 30-50%, "
        f"design eta_s {ETA_S[0]}:{ETA_S[1]}, {points} points x {events} events; pseudo-data eta_s = {TRUTH} "
        f"({data_events} events); surrogate: {n_train_points} x {train_events} training events, {steps} steps")
    say("| campaign | wall time [s] | emulator RMS z | eta_s median | 68% half-width | truth in 68% |")
    say("|---|---|---|---|---|---|")
    for name, (r, v, _) in results.items():
        s = r.summary()[0]
        wall = f"{times[name + ' campaign']:.1f}" if name + " campaign" in times else "(resumed: partial)"
        rms = f"{v['rms_z']:.2f}" if v else "n/a"
        say(f"| {name} | {wall} | {rms} | {s['median']:.4f} | {(s['hi68'] - s['lo68']) / 2:.4f} | "
            f"{s['lo68'] <= TRUTH <= s['hi68']} |")
    sg = results["generator"][0].summary()[0]
    for name in list(results)[1:]:
        ss = results[name][0].summary()[0]
        width = np.hypot((sg["hi68"] - sg["lo68"]) / 2, (ss["hi68"] - ss["lo68"]) / 2)
        say(f"median difference {name} - generator: {ss['median'] - sg['median']:+.4f} "
            f"= {(ss['median'] - sg['median']) / width:+.2f} combined 68% half-widths")
    if s_few is not None:
        c = results[corrected][2]
        say(f"multi-fidelity correction: {c['basis']} in eta_s from {c['runs']} generator runs, chi2/ndf "
            f"{c['chi2']:.1f}/{c['ndf']}, leave-one-out RMS z {c['loo_rms_z']:.2f}; shift at the centre: "
            + ", ".join(f"{k} {100 * v:+.1f}%" for k, v in c["relative_shift_at_centre"].items()))
    # where the two simulators differ: the observables at the design points, surrogate vs generator
    rg, rs = load_runs(s_gen.out), load_runs(s_sur.out)
    say("observables over the design points: mean pull (surrogate - generator)/sqrt(err_s^2 + err_g^2), "
        "RMS pull, relative difference")
    for key in keys:
        a, b = rg.keys.index(key), rs.keys.index(key)
        pull = (rs.Y[:, b] - rg.Y[:, a]) / np.hypot(rs.Yerr[:, b], rg.Yerr[:, a])
        rel = np.mean(rs.Y[:, b] / rg.Y[:, a] - 1)
        say(f"  {key[0]:>10s} {key[1]:>7s}: mean pull {np.mean(pull):+6.2f}, RMS {np.sqrt(np.mean(pull ** 2)):5.2f}, "
            f"relative {rel:+.3f}")
    say("once per surrogate: " + ", ".join(f"{k} {times[k]:.1f} s" for k in ("training events", "surrogate training")
                                           if k in times))
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
