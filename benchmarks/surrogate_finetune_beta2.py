"""Fine-tuning study: does a surrogate adapted with 500 events at a new β₂ learn the β₂ dependence of v₂{2}?

    python benchmarks/surrogate_finetune_beta2.py BASE.pt FT.parquet REF_NEW.parquet REF_OLD.parquet \
        [--events 300] [--steps 500] [--lr 3e-4] [--parts all|decoder] [--work DIR]

BASE.pt was trained at the old β₂ (here: Pb, β₂ = 0). FT.parquet holds the small new dataset (500
central events at the new β₂); REF_NEW / REF_OLD are independent reference samples at the new and old
β₂ with the same conditions. The script fine-tunes, generates events like each reference (conditions
copied event by event), and prints per centrality class:

    v₂{2} truth old, truth new, base@old, base@new, fine-tuned@new (jackknife errors),
    the truth ratio new/old and the model ratio fine-tuned@new / base@old, with their pull, and
    fine-tuned@new / truth new (the absolute check, which keeps the base model's own bias).

The β₂ dependence is recovered when the two ratios agree and the base model (which never saw the new
β₂) does not reproduce the new truth.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from qcdgen.hic.observables.summary import observe_file
from qcdgen.hic.surrogate.pipeline import finetune_pipeline, sample_pipeline

CLASSES = [(0.0, 5.0), (5.0, 10.0)]


def v22(path, max_events=None) -> dict:
    summary = observe_file(path, centrality_classes=CLASSES, max_events=max_events, warn=False)
    out = {}
    for label in summary.class_labels:
        est = summary.per_class[label]["v2{2}"]
        out[label] = (est.value, est.error, summary.class_events[label])
    return out


def ratio(a, b):
    (x, dx), (y, dy) = a, b
    r = x / y
    return r, abs(r) * math.hypot(dx / x, dy / y)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("finetune_data")
    parser.add_argument("reference_new")
    parser.add_argument("reference_old")
    parser.add_argument("--events", type=int, default=300, help="generated events per sample (default 300)")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--parts", choices=["all", "decoder"], default="all")
    parser.add_argument("--work", default="benchmarks/results/finetune_beta2")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tuned = work / "finetuned.pt"
    t0 = time.perf_counter()
    fit = finetune_pipeline(args.base, [args.finetune_data], out=tuned, steps=args.steps, lr=args.lr, parts=args.parts,
                            device=args.device, progress=sys.stderr.isatty())
    print(f"fine-tuned on {args.finetune_data}: {args.steps} steps in {fit.seconds:.0f} s", flush=True)
    samples = {"base@old": (args.base, args.reference_old), "base@new": (args.base, args.reference_new),
               "tuned@new": (tuned, args.reference_new)}
    values = {"truth old": v22(args.reference_old), "truth new": v22(args.reference_new)}
    for name, (model, like) in samples.items():
        out = work / f"{name.replace('@', '_')}.parquet"
        s = sample_pipeline(model, out=out, events=args.events, like=like, device=args.device,
                            progress=sys.stderr.isatty())
        print(f"{name}: {s.n_events} events in {s.seconds:.0f} s", flush=True)
        values[name] = v22(out)
    columns = ["truth old", "truth new", "base@old", "base@new", "tuned@new"]
    print(f"\nv2{{2}} (charged, |eta| < 0.8, 0.2 < pT < 5 GeV; jackknife errors; events in brackets); "
          f"fine-tuning {args.steps} steps, lr {args.lr:g}, parts {args.parts}")
    print(f"{'class':8}" + "".join(f"{c:>22}" for c in columns)
          + f"{'truth new/old':>18}{'model tuned/base@old':>22}{'pull':>7}{'tuned@new vs truth':>20}")
    rows = []
    for label in values["truth old"]:
        cells = {c: values[c][label] for c in columns}
        rt = ratio(cells["truth new"][:2], cells["truth old"][:2])
        rm = ratio(cells["tuned@new"][:2], cells["base@old"][:2])
        pull = (rm[0] - rt[0]) / math.hypot(rm[1], rt[1])
        direct = ratio(cells["tuned@new"][:2], cells["truth new"][:2])  # the absolute check, base bias included
        print(f"{label:8}" + "".join(f"{c[0]:>12.4f} ± {c[1]:.4f}"[:22].rjust(22) for c in cells.values())
              + f"{rt[0]:>11.3f} ± {rt[1]:.3f}{rm[0]:>15.3f} ± {rm[1]:.3f}{pull:>+7.2f}"
              + f"{direct[0]:>12.3f} ± {direct[1]:.3f}")
        rows.append({"class": label, **{c: {"value": v[0], "error": v[1], "events": v[2]} for c, v in cells.items()},
                     "truth_ratio": rt, "model_ratio": rm, "pull": pull, "tuned_over_truth": direct})
    (work / "finetune_beta2.json").write_text(json.dumps({"rows": rows, "args": vars(args),
                                                          "seconds": time.perf_counter() - t0}, indent=1))
    return 0


if __name__ == "__main__":
    from qcdgen.cli.main import run_guarded

    sys.exit(run_guarded(main, prog=os.path.basename(__file__)))
