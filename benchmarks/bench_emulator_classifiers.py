"""Issue 21 parts 4 and 6: the profile -> observables emulator and the final-state classifiers.

One command, prints three tables (and writes them, with the full JSON, to --results):

    OMP_NUM_THREADS=1 python benchmarks/bench_emulator_classifiers.py              # hydro pairs in /work/h21data
    OMP_NUM_THREADS=1 python benchmarks/bench_emulator_classifiers.py --blastwave  # blast-wave stand-in (minutes)

1. Emulator (DenseNet, Hirvonen et al. PRC 108 (2023) 034905): trained on the η/s runs except the
   held-out one (0.12); evaluated on held-out events of the training η/s and on the unseen η/s:
   per-event R² (with its target-noise ceiling), the calibration of v2, v3 (slope of true on
   predicted) and v2{2}, v2{4}, v3{2} rebuilt from the emulated flow vectors against the hydro's
   particles (emu/hydro) and against the smooth-spectrum targets (emu/target), by centrality class.
   With --scaling, R² against the number of training events.
2. EoS classifier (first-order vs lattice crossover at η/s = 0.08): held-out accuracy vs events
   per sample, PointNet on clouds and CNN on ρ(pT, φ). Without the first-order run (or with
   --blastwave) the two classes are two η/s values, and the table says so.
3. Impact-parameter regression (PointNet, k = 1): rms resolution by class.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _files(data: str, pattern: str) -> list[str]:
    return sorted(f for f in glob.glob(os.path.join(data, pattern)) if os.path.exists(f.replace(".parquet", ".profiles.h5")))


def _blastwave(work: str, seed: int, n: int) -> dict:
    from qcdgen.hic.generation import generate_to_file
    out = {}
    for eta in (0.04, 0.08, 0.12, 0.16, 0.20):
        f = os.path.join(work, f"bw_eta{eta:.2f}.parquet")
        if not os.path.exists(f):
            generate_to_file(f, model="blastwave", n_events=n, seed=seed + int(100 * eta), progress=False,
                             centrality=(0.0, 50.0), eta_s=eta, oversample=4, y_max=1.2)
        out[eta] = [f]
    return out


def _partial_pairs(parts_dir: str, work: str):
    """Pairs from the finished chunks of a run still in progress (``OUT.parquet.parts/``, read only): each
    chunk is copied to ``work`` with its sidecar's event ids rebased; the EoS label comes from the manifest."""
    import shutil

    import h5py
    import numpy as np

    from qcdgen.hic.conditional.pairs import EOS_CODES, build_pairs, concat_pairs
    with open(os.path.join(parts_dir, "manifest.json")) as f:
        manifest = json.load(f)
    parts = []
    for pq in sorted(glob.glob(os.path.join(parts_dir, "*.parquet"))):
        h5 = os.path.splitext(pq)[0] + ".h5"
        if not os.path.exists(h5):
            continue
        stem = os.path.join(work, os.path.basename(parts_dir.rstrip("/")).replace(".parquet.parts", "")
                            + "_" + os.path.basename(pq))
        shutil.copy(pq, stem)
        side = os.path.splitext(stem)[0] + ".profiles.h5"
        shutil.copy(h5, side)
        with h5py.File(side, "r+") as f:
            ids = f["event_id"][()]
            f["event_id"][...] = ids - ids.min()
        parts.append(build_pairs([stem]))
    if not parts:
        return None
    pd = concat_pairs(parts)
    pd.conditions["eos"] = np.full(len(pd), float(EOS_CODES[manifest["settings"].get("eos", "lattice")]))
    pd.model = manifest["model"]
    return pd


def _eta_of(path: str) -> float | None:
    m = re.search(r"eta(\d+\.\d+)", os.path.basename(path))
    return float(m.group(1)) if m and not os.path.basename(path).startswith(("fo_", "beta")) else None


def _pm(v) -> str:
    return "nan" if v[0] != v[0] else f"{v[0]:.3f}±{v[1]:.3f}"


def emulator_table(res: dict) -> list[str]:
    lines = []
    for name, r in res.items():
        if not isinstance(r, dict) or "r2" not in r:
            continue
        lines.append(f"-- emulator, {name}: {r['n_events']} events")
        lines.append("   R²: " + ", ".join(f"{k} {v:.3f}" for k, v in r["r2"].items())
                     + " | noise ceiling: " + ", ".join(f"{k} {v:.3f}" for k, v in r["r2_ceiling"].items()))
        lines.append("   rel. error: " + ", ".join(f"{k} {v:.3f}" for k, v in r["rel_err"].items()))
        for h, c in r["calibration"].items():
            lines.append(f"   calibration {h}: slope {_pm(c['slope'])}; binned (pred, true): "
                         + " ".join(f"({p:.3f},{t:.3f}±{e:.3f})" for p, t, e in c["binned"]))
        lines.append(f"   {'class':>6} {'n':>4} {'R²V2':>6} {'R²V3':>6} | "
                     + " ".join(f"{c + ' e/h':>13} {c + ' e/t':>13} {c + ' t/h':>13}" for c in ("v2{2}", "v2{4}", "v3{2}")))
        for cls, row in r["classes"].items():
            cu = row["cumulants"]
            cells = " ".join(f"{_pm(cu['emulator/hydro'][c]):>13} {_pm(cu['emulator/target'][c]):>13} "
                             f"{_pm(cu['target/hydro'][c]):>13}" for c in ("v2{2}", "v2{4}", "v3{2}"))
            flag = " *" if any(abs(cu["emulator/target"][c][0] - 1) > 0.05 for c in ("v2{2}", "v3{2}")) else ""
            lines.append(f"   {cls:>6} {row['n_events']:>4} {row['r2']['V2']:6.3f} {row['r2']['V3']:6.3f} | {cells}{flag}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/h21data", help="directory of hydro event files (+ .profiles.h5)")
    ap.add_argument("--blastwave", action="store_true", help="use blast-wave pairs generated here instead")
    ap.add_argument("--work", default="/tmp/qcdgen_bench_emu", help="work directory (pairs, models, blast-wave data)")
    ap.add_argument("--results", default=None, help="write the tables here and the JSON beside it (.json)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--steps", type=int, default=600, help="classifier optimiser steps")
    ap.add_argument("--max-particles", type=int, default=512)
    ap.add_argument("--scaling", action="store_true", help="also train on 1/4 and 1/2 of the training events")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: emulator,eos,b")
    ap.add_argument("--bw-events", type=int, default=300, help="blast-wave events per eta/s (--blastwave)")
    ap.add_argument("--fo-parts", default=None,
                    help="use the finished chunks of an unfinished first-order run (its OUT.parquet.parts directory)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from qcdgen.hic.conditional.classifiers import evaluate_classifier, train_classifier
    from qcdgen.hic.conditional.emulator import evaluate_emulator, train_emulator
    from qcdgen.hic.conditional.pairs import build_pairs, concat_pairs

    os.makedirs(args.work, exist_ok=True)
    skip = set(args.skip.split(","))
    results, lines = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}, []

    def flush():
        text = "\n".join(lines)
        print(text[flush.done:], flush=True)
        flush.done = len(text)
        if args.results:
            from qcdgen.io.atomic import atomic_write_text
            atomic_write_text(args.results, text + "\n")
            atomic_write_text(os.path.splitext(args.results)[0] + ".json", json.dumps(results, indent=1, default=float))
    flush.done = 0

    if args.blastwave:
        by_eta = _blastwave(args.work, 7, args.bw_events)
        source, fo, b_files = "blast wave (|y|<1.2, oversample 4)", [], by_eta[0.08]
    else:
        by_eta = {}
        for f in _files(args.data, "eta*.parquet"):
            by_eta.setdefault(_eta_of(f), []).append(f)
        fo = _files(args.data, "fo_eta0.08*.parquet")
        source, b_files = f"hydro pairs in {args.data}", by_eta.get(0.08, [])
    if not by_eta:
        print(f"no eta/s runs found in {args.data}; use --blastwave", file=sys.stderr)
        return 2
    lines.append(f"# bench_emulator_classifiers: {source}; runs: "
                 + ", ".join(f"eta/s {k}: {len(v)} file(s)" for k, v in sorted(by_eta.items())))
    results["source"] = source
    results["files"] = {str(k): v for k, v in by_eta.items()}
    rng = np.random.default_rng(args.seed)

    if "emulator" not in skip:
        held_eta = 0.12 if 0.12 in by_eta and len(by_eta) > 2 else None
        train_parts = [build_pairs(v) for k, v in sorted(by_eta.items()) if k != held_eta]
        pd = concat_pairs(train_parts)
        perm = rng.permutation(len(pd))
        n_test = len(pd) // 5
        tr, te = pd.subset(np.sort(perm[n_test:])), pd.subset(np.sort(perm[:n_test]))
        t0 = time.perf_counter()
        emu = train_emulator(tr, epochs=args.epochs, seed=args.seed)
        t_train = time.perf_counter() - t0
        emu.save(os.path.join(args.work, "emu.pt"))
        t0 = time.perf_counter()
        emu.predict(te.profiles, te.conditions["eta_s"])
        rate = len(te) / (time.perf_counter() - t0)
        res = {"held-out events, training eta/s": evaluate_emulator(emu, te)}
        if held_eta is not None:
            res[f"unseen eta/s {held_eta}"] = evaluate_emulator(emu, build_pairs(by_eta[held_eta]))
        lines.append(f"## 1. Emulator: {len(tr)} training events (eta/s {sorted(k for k in by_eta if k != held_eta)}), "
                     f"{args.epochs} epochs, {t_train:.0f} s; prediction {rate:.0f} events/s (1 CPU thread)")
        lines.append("   e/h = emulator/hydro particles (self-correlation free, incl. non-flow), e/t = emulator/"
                     "smooth-spectrum target (noise removed), t/h = target/hydro; * = e/t outside 1 ± 0.05")
        lines += emulator_table(res)
        results["emulator"] = res | {"n_train": len(tr), "train_s": t_train, "events_per_s": rate}
        flush()
        if args.scaling:
            for frac in (0.25, 0.5):
                sub = tr.subset(np.sort(rng.permutation(len(tr))[:int(frac * len(tr))]))
                r = evaluate_emulator(train_emulator(sub, epochs=args.epochs, seed=args.seed), te)
                results["emulator"][f"scaling_{frac}"] = {"n_train": len(sub), "r2": r["r2"]}
                lines.append(f"   training size {len(sub):>5}: R² " + ", ".join(f"{k} {v:.3f}" for k, v in r["r2"].items()))
            lines.append(f"   training size {len(tr):>5}: R² " + ", ".join(
                f"{k} {v:.3f}" for k, v in res["held-out events, training eta/s"]["r2"].items()))
            flush()

    if "eos" not in skip:
        fo_pd = build_pairs(fo) if fo else (_partial_pairs(args.fo_parts, args.work) if args.fo_parts else None)
        if fo_pd is not None and by_eta.get(0.08):
            a, b = build_pairs(by_eta[0.08]), fo_pd
            what = (f"EoS: lattice crossover vs first order (eta/s 0.08)"
                    f"{'' if fo else ' (first-order run unfinished: its completed chunks)'}")
        else:
            lo, hi = min(by_eta), max(by_eta)
            a, b = build_pairs(by_eta[lo]), build_pairs(by_eta[hi])
            what = f"NO first-order run available: classifying eta/s {lo} vs {hi} instead of the EoS"
        lines.append(f"## 2. Classifier, {what}: {len(a)} + {len(b)} events, 30 % held out")
        results["eos"] = {"what": what}
        for rep in ("pointnet", "cnn"):
            t0 = time.perf_counter()
            model, te, y = train_classifier(a, b, rep=rep, steps=args.steps, max_particles=args.max_particles,
                                            train_k=(1, 2, 4, 8, 16), seed=args.seed)
            r = evaluate_classifier(model, te, y, events_per_sample=(1, 2, 4, 8, 16), repeats=10)
            ctrl, te2, y2 = train_classifier(a, b, rep=rep, steps=args.steps // 2, max_particles=args.max_particles,
                                             train_k=(1, 2, 4, 8, 16), seed=args.seed, shuffle_labels=True)
            rc = evaluate_classifier(ctrl, te2, y2, events_per_sample=(1, 4, 16), repeats=10)
            results["eos"][rep] = {"eval": r, "shuffled_control": rc, "seconds": time.perf_counter() - t0}
            lines.append(f"   {rep:>8}: " + "  ".join(f"k={x['k']}: {x['accuracy']:.3f}±{x['error']:.3f} ({x['n_samples']})"
                                                    for x in r["rows"] if x["accuracy"] is not None))
            lines.append(f"   {'shuffled':>8}: " + "  ".join(f"k={x['k']}: {x['accuracy']:.3f}±{x['error']:.3f}"
                                                       for x in rc["rows"] if x["accuracy"] is not None))
        flush()

    if "b" not in skip and b_files:
        pd = build_pairs(b_files)
        model, te, bt = train_classifier(pd, target="b", rep="pointnet", steps=args.steps,
                                         max_particles=args.max_particles, seed=args.seed)
        r = evaluate_classifier(model, te, bt)
        results["b"] = r
        lines.append(f"## 3. Impact parameter (PointNet, k = 1; {len(pd)} events, {r['all']['n_events']} held out): "
                     f"rms {_pm(r['all']['rms'])} fm (b spread {r['all']['b_spread']:.2f} fm)")
        for cls, c in r["classes"].items():
            lines.append(f"   {cls:>6} %: rms {_pm(c['rms'])} fm, bias {c['bias']:+.3f} fm, spread {c['b_spread']:.2f} fm "
                         f"({c['n_events']} events)")
        flush()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    flush()
    return 0


if __name__ == "__main__":
    from qcdgen.cli.main import run_guarded
    sys.exit(run_guarded(lambda: main(), prog="bench_emulator_classifiers"))
