"""Critical slowing down of every sampler: HMC, HMC-FA, diffusion, flow and path sampler, 2D φ⁴ at λ = 0.022.

For each lattice size L and hopping parameter κ (symmetric phase κ = 0.21, near the transition
κ = 0.265) it runs :func:`qcdgen.lattice.compare_samplers.compare_samplers` at the ``study`` preset:
plain Omelyan HMC (the reference), Fourier-accelerated HMC, and the three generative samplers
trained and sampled with Metropolis correction, each validated against HMC. Reported per row:
training seconds, configurations per second, acceptance, importance ESS/N, τ_int(|M|), the cost per
independent configuration 2 τ_int / (configurations per second), when training pays off against
the cheaper HMC, log Z, the largest |pull| against HMC.

    python benchmarks/bench_samplers.py                      # L = 8, 16; κ = 0.21, 0.265 (aimed at 30-40 CPU min)
    python benchmarks/bench_samplers.py --preset quick --sizes 6 --kappas 0.21   # a minute: end-to-end check

The ensembles, models and per-row JSON go to benchmarks/results/bench_samplers/ (an interrupted run
resumes there); the table is saved to benchmarks/results/bench_samplers.json and an HTML report
to benchmarks/results/bench_samplers.html.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

from qcdgen.io import atomic_write_text
from qcdgen.lattice.compare_samplers import SAMPLERS, CompareSettings, compare_samplers
from qcdgen.report.sampler_study import write_study_report

RESULTS = Path(__file__).parent / "results"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,16")
    parser.add_argument("--kappas", default="0.21,0.265")
    parser.add_argument("--lam", type=float, default=0.022)
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--preset", choices=["quick", "study"], default="study")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out-dir", default=str(RESULTS / "bench_samplers"),
                        help="ensembles, models and row JSON (kept: a rerun resumes)")
    parser.add_argument("--json", default=str(RESULTS / "bench_samplers.json"))
    parser.add_argument("--report", default=str(RESULTS / "bench_samplers.html"))
    parser.add_argument("--progress", action="store_true", help="progress bars (default: one line per row)")
    args = parser.parse_args(argv)
    settings = CompareSettings(sizes=tuple(int(s) for s in args.sizes.split(",")),
                               kappas=tuple(float(k) for k in args.kappas.split(",")), lam=args.lam,
                               samplers=tuple(args.samplers.split(",")), preset=args.preset, seed=args.seed,
                               device=args.device)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short-chain Γ-method window warnings; the errors carry the information
        study = compare_samplers(settings, args.out_dir, progress=args.progress)
    wall = time.perf_counter() - start
    print(f"\nSampler study, 2D phi^4, lambda = {settings.lam:g}, preset {settings.preset}, device {settings.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}; "
          f"wall {wall:.0f} s ({len(study.reused)} rows reused from {args.out_dir})\n")
    print(study.format())
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, study.to_json())
    write_study_report(study, args.report)
    print(f"\nsaved {args.json} and {args.report}")
    return 0 if study.passed else 1


if __name__ == "__main__":
    sys.exit(main())
