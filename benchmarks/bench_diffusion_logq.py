"""Cost of the diffusion model's exact log q: V vector–Jacobian products per drift evaluation against one per
colour of the network's receptive field (:mod:`qcdgen.diffusion.jacobian_colouring`), side by side.

For each lattice size L (d = 2) and network depth (PeriodicScoreCNN, ``blocks``; receptive radius
r = 2 + 2·blocks for 3-wide kernels) one probability-flow sample batch is drawn both ways from the same
seed. The table gives the VJPs per drift evaluation, the seconds per proposal and ODE step, the speed-up,
the share of the step spent in the O(V³) log-determinant, and the largest |Δ log q| between the two
paths (they must agree: both are exact). Weights are random with a small output layer (the cost does not depend on training).

    python benchmarks/bench_diffusion_logq.py                 # L = 8, 16, 32; blocks 1, 2 (a few minutes)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from qcdgen.diffusion import VESDE, ScoreModel, StationaryGaussian, flow_sample
from qcdgen.diffusion.jacobian_colouring import probe_count
from qcdgen.nn.periodic_cnn import PeriodicScoreCNN
from qcdgen.runtime import set_threads


def timed_sample(score, size, batch, steps, seed, colouring):
    t0 = time.perf_counter()
    out = flow_sample(score, score.sde, (batch, size, size), steps, torch.Generator().manual_seed(seed),
                      colouring=colouring)
    return out, time.perf_counter() - t0


def logdet_seconds(size: int, batch: int, repeats: int = 3) -> float:
    """Seconds of one batched slogdet of V×V step Jacobians (NumPy LAPACK, as the sampler does)."""
    v = size * size
    a = np.eye(v)[None] + 0.01 * np.random.default_rng(0).standard_normal((batch, v, v))
    t0 = time.perf_counter()
    for _ in range(repeats):
        np.linalg.slogdet(a)
    return (time.perf_counter() - t0) / repeats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--blocks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2, help="Heun steps (2 drift evaluations each)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"exact log q of probability-flow samples (Heun, {args.steps} steps, batch {args.batch}, "
          f"{args.channels} channels); torch {torch.__version__}, {args.threads} thread(s)")
    head = (f"{'L':>4} {'blocks':>6} {'r':>3} {'VJPs dense':>10} {'VJPs col.':>10} {'s/prop/step dense':>18} "
            f"{'s/prop/step col.':>17} {'speed-up':>9} {'logdet share':>12} {'max|dlogq|':>11}")
    print(head)
    print("-" * len(head))
    for size in args.sizes:
        for blocks in args.blocks:
            torch.manual_seed(blocks)
            net = PeriodicScoreCNN(dim=2, channels=args.channels, blocks=blocks)
            with torch.no_grad():  # a small residual on the Gaussian score, as after training: an orientation-
                for p in net.out.parameters():  # preserving Heun map even with few steps
                    p.mul_(0.05)
            score = ScoreModel(net, VESDE(), StationaryGaussian(torch.ones(size, size)))
            r = net.receptive_radius
            timed_sample(score, size, args.batch, args.steps, 0, colouring=True)  # warm-up (allocator, kernels)
            runs = {}
            for _ in range(2):  # alternate the two paths; keep each one's faster run
                for colouring in (False, True):
                    out, sec = timed_sample(score, size, args.batch, args.steps, 1, colouring=colouring)
                    runs[colouring] = (out, min(sec, runs.get(colouring, (None, math.inf))[1]))
            (dense, t_dense), (col, t_col) = runs[False], runs[True]
            per = args.batch * args.steps
            share = args.steps * logdet_seconds(size, args.batch) / t_col
            diff = float((dense.log_q - col.log_q).abs().max())
            print(f"{size:>4} {blocks:>6} {r:>3} {size * size:>10} {probe_count((size, size), r):>10} "
                  f"{t_dense / per:>18.3g} {t_col / per:>17.3g} {t_dense / t_col:>9.2f} {share:>12.2f} "
                  f"{diff:>11.2g}", flush=True)
    print("\nVJPs per drift evaluation: dense = V; col. = colours of the receptive box (2r+1)^d when 2r+1 divides L,"
          "\nat most V. logdet share = fraction of the coloured step spent in the V x V log-determinant, which"
          "\nstays O(V^3) per sample and step and dominates once the VJPs are cheap.")
    if not all(math.isfinite(x) for x in (t_dense, t_col)):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
