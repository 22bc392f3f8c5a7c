"""``qcdgen lattice path-train | path-sample``: the trajectory-balance path sampler (no training data)."""

from __future__ import annotations

import argparse
import math

from qcdgen.cli import lattice_sampling_args as common
from qcdgen.cli.options import add_command, add_run_options


def register(sub) -> None:
    """Add this sampler's subcommands to the ``qcdgen lattice`` subparsers ``sub``."""
    # defaults live in PathSettings (not imported here: the parser stays light); None = not given
    train = common.add_train_parser(
        sub, "path-train", run_path_train, 4, "train a stochastic path sampler on exp(-S) alone (writes MODEL.pt)")
    train.add_argument("--time-steps", type=int, help="SDE steps K")
    train.add_argument("--sigma", type=float, help="diffusion coefficient")
    train.add_argument("--sigma0", type=float, help="width of the initial Gaussian")
    train.add_argument("--channels", type=int, help="drift-network width")
    train.add_argument("--blocks", type=int, help="residual blocks")
    train.add_argument("--backward", choices=["learned", "fixed"], help="learned backward drift or the fixed reference")
    train.add_argument("--grad-clip", type=float, help="clip of grad log R in the drift")
    train.add_argument("--loss", choices=["tb", "logvar"], help="trajectory balance or log-variance")
    train.add_argument("--steps", type=int, help="optimiser steps")
    train.add_argument("--batch-size", type=int, help="paths per step")
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--eval-paths", type=int, help="fresh paths for the final log Z estimate")
    train.add_argument("--no-z2", action="store_true", help="do not make the drifts odd in phi")
    add_run_options(train, seed_default=None, checkpoint=True)

    sample = add_command(sub, "path-sample", run_path_sample,
                         "generate configurations with a trained path sampler (HDF5)")
    sample.add_argument("model", help="model file from qcdgen lattice path-train")
    common.add_sampling_arguments(sample, "paths", 500,
                                  "independence Metropolis-Hastings in path space with weight exp(-W) (exact; default on)")


def _estimate(value: float, error: float) -> str:
    return f"{value:.4f} ± {error:.4f}"


def run_path_train(args: argparse.Namespace) -> int:
    """Train a controlled-SDE path sampler of the phi^4 action by trajectory balance (Sendera et al. 2024)
    or log-variance (Richter & Berner 2024); no ensemble needed. Prints log Z = log <exp(-W)> with its
    error (and the pull against the exact log Z at lam = 0)."""
    model = common.train("path", args, dict(
        time_steps=args.time_steps, sigma=args.sigma, sigma0=args.sigma0, channels=args.channels,
        blocks=args.blocks, backward=args.backward, grad_clip=args.grad_clip, loss=args.loss, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, eval_paths=args.eval_paths, seed=args.seed, z2=not args.no_z2))
    settings, ev = model.settings, model.evaluation
    print(f"wrote {args.out}: trained {settings.steps} steps ({settings.loss}) in {model.train_seconds:.1f} s; "
          f"final loss {model.loss_values[-1]:.4g}")
    print(f"  over {settings.eval_paths} fresh paths: <W> = {_estimate(ev['mean_work'], ev['mean_work_error'])}, "
          f"importance ESS/N {ev['ess']:.3f}")
    line = f"  log Z = {_estimate(ev['log_z'], ev['log_z_error'])}"
    log_z_tb = model.metrics.get("log_z_tb")
    if log_z_tb is not None and len(log_z_tb):
        line += f" (learned log Z_theta {log_z_tb[-1]:.4f}, a lower bound -<W> at the optimum)"
    print(line)
    if model.exact_log_z is not None:
        print(f"  exact log Z (free field) {model.exact_log_z:.4f}: pull {model.log_z_pull:+.2f}"
              if math.isfinite(model.log_z_pull) else f"  exact log Z (free field) {model.exact_log_z:.4f}")
    restarts = model.restarts
    print(f"  restarts: {len(restarts)}" + (" (" + ", ".join(f"step {r['step']}: {r['cause']}" for r in restarts) + ")"
                                            if restarts else ""))
    return 0


def run_path_sample(args: argparse.Namespace) -> int:
    result = common.sample("path", args)
    print(f"wrote {result.configs} configurations to {args.out}")
    print(f"  {result.proposals_per_second:.1f} paths/s; <W> = {_estimate(result.mean_work.value, result.mean_work.error)}, "
          f"importance ESS/N {result.importance_ess:.3f}, log Z = {_estimate(result.log_z.value, result.log_z.error)}")
    if result.summary is not None:
        s = result.summary
        tau = s.tau_int_abs_m
        print(f"  Metropolis acceptance {s.acceptance:.3f} ± {s.acceptance_error:.3f}, "
              f"tau_int(|M|) = {tau.value:.2f} ± {tau.error:.2f} (exact: path-space IMH with weight exp(-W))")
    else:
        print("  no Metropolis correction: the endpoints are biased (exact = 0)")
    return 0
