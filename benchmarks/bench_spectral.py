"""Spectral-reconstruction mock suite: NN, NN-P2P, MEM and Tikhonov side by side in one run.

    python benchmarks/bench_spectral.py [--kernel kl] [--repeats 3] [--noise 1e-2,1e-3,1e-4,1e-5]

Breit–Wigner, Gaussian and double-peak spectra; noise σ_i = ε D_i; every method fits the same
noisy correlators. Prints MSE (± standard error over noise realisations), KL and seconds per fit,
and writes benchmarks/results/spectral_<kernel>.json. Same table as ``qcdgen inverse spectral-bench``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

from qcdgen.inverse.spectral.api import METHOD_LABELS
from qcdgen.inverse.spectral.pipeline import bench_best_method, format_bench_table, run_spectral_bench


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="kl", choices=["kl", "laplace", "thermal"])
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--shapes", default="bw,gauss,double")
    parser.add_argument("--noise", default="1e-2,1e-3,1e-4,1e-5")
    parser.add_argument("--methods", default="nn,p2p,mem,tikhonov")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    out = Path(__file__).parent / "results" / f"spectral_{args.kernel}.json"
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)   # per-fit notes (e.g. Tikhonov's χ² target): counted below
        rows = run_spectral_bench(shapes=args.shapes, noises=args.noise, methods=args.methods, kernel=args.kernel,
                                  temperature=args.temperature, repeats=args.repeats, seed=args.seed,
                                  progress=sys.stderr.isatty(), json_out=out)
    print(f"spectral mock suite, kernel {args.kernel}, {args.repeats} noise realisations per cell, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {time.perf_counter() - start:.0f} s total")
    print(format_bench_table(rows))
    best = bench_best_method(rows)
    print("\nsmallest MSE: " + ", ".join(f"{s} ε={n:g}: {METHOD_LABELS[m]}" for (s, n), m in best.items()))
    if caught:
        first = {}
        for w in caught:
            first.setdefault(str(w.message).split(":")[0], str(w.message))
        print(f"{len(caught)} fit warnings, e.g. " + "; ".join(first.values()))
    print(f"rows written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
