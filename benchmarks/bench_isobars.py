"""Isobar closure (issue 19 part 7; Cheng et al., PRC 107 (2023) 064909): which of (β₂, β₃, a, R)
of ⁹⁶Zr do absolute Glauber/TRENTo features and Ru/Zr ratios constrain?

One command, prints a table (and writes it to --results):

    OMP_NUM_THREADS=1 python benchmarks/bench_isobars.py            # 40 bins, 34 points (~1 h, loaded 2-core box)
    OMP_NUM_THREADS=1 python benchmarks/bench_isobars.py --quick    # 12 bins, 14 points (minutes)

Pseudo-data: Zr+Zr at the Zr reference (β₂, β₃, a, R) = (0.06, 0.20, 0.52 fm, 5.02 fm), Ru+Ru at
(0.16, 0, 0.46 fm, 5.09 fm) (STAR PRC 105 (2022) 014901; Zhang & Jia PRL 128 (2022) 022301).
The campaign is resumable: rerun the same command to continue (work directory --work).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="12 bins, 14 design points, small event counts")
    ap.add_argument("--work", default=None, help="work directory (default /tmp/qcdgen_isobars_{quick,full})")
    ap.add_argument("--results", default=None, help="also write the table here (e.g. benchmarks/results_isobars.txt)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None, help="emcee steps per posterior (default: the preset's)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from qcdgen.hic.isobars import CLOSURE_CONFIGS, run_closure
    from qcdgen.io.atomic import atomic_write_text

    cfg = dict(CLOSURE_CONFIGS["quick" if args.quick else "full"])
    if args.max_steps is not None:
        cfg["max_steps"] = args.max_steps
    work = args.work or f"/tmp/qcdgen_isobars_{'quick' if args.quick else 'full'}"
    t0 = time.perf_counter()
    res = run_closure(work, seed=args.seed, log=lambda m: print(f"[{time.perf_counter() - t0:7.0f} s] {m}",
                                                                flush=True), **cfg)
    wall = time.perf_counter() - t0
    head = [f"isobar closure ({'quick' if args.quick else 'full'}): {json.dumps(cfg)}",
            f"truth (Zr): {res.truth}; Ru fixed at its reference; prior {res.prior}",
            (f"outputs/PCA components: absolute {res.info['absolute_outputs']}/{res.info['absolute_components']}, "
             f"ratios {res.info['ratios_outputs']}/{res.info['ratios_components']}; "
             f"response systematics (absolute only) {res.info['response']}"),
            (f"training-run MC noise (median, relative to the data error: absolute "
             f"{res.info['absolute_train_noise']:.2f}, ratios {res.info['ratios_train_noise']:.2f}) "
             + ("added to the likelihood on top of the GP nugget" if res.info["train_noise_added"]
                else "carried by the GP nugget only"))]
    mc = [f"  {k}: steps {r.mcmc.steps}, tau_max {max(r.mcmc.tau):.0f}, converged {r.mcmc.converged}, "
          f"max Rhat {max(r.mcmc.rhat):.3f}, chi2/ndf at MAP {r.chi2_map:.1f}/{r.ndf}, "
          f"truth in 95%: {''.join('y' if t else 'n' for t in r.truth_inside(0.95))}"
          for k, r in res.analyses.items()]
    joint = []
    if res.joint is not None:
        m = res.joint.mcmc
        joint = ["", ("Ratios with Ru free as well (9 parameters; Ru truth = its reference): which combinations "
                      "the ratios constrain"), res.joint.table(),
                 (f"  joint: steps {m.steps}, tau_max {max(m.tau):.0f}, converged {m.converged}, "
                  f"max Rhat {max(m.rhat):.3f}, acceptance {m.acceptance:.2f}")]
    text = "\n".join(head + ["", res.table(), "", "MCMC:"] + mc + joint + [f"wall time {wall:.0f} s"]) + "\n"
    print(text)
    if args.results:
        atomic_write_text(args.results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
