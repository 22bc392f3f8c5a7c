"""``qcdgen lattice path-train | path-sample``: the trajectory-balance path sampler (no training data)."""

from __future__ import annotations

import argparse
import math
from qcdgen.cli.lattice_sampling_args import add_sampling_arguments


def register(sub) -> None:
    """Add this sampler's subcommands to the ``qcdgen lattice`` subparsers ``sub``."""
    # defaults live in PathSettings (not imported here: the parser stays light); None = not given
    train = sub.add_parser(
        "path-train", help="train a stochastic path sampler on exp(-S) alone (writes MODEL.pt)",
        description="Train a controlled-SDE path sampler of the phi^4 action by trajectory balance "
                    "(Sendera et al. 2024) or log-variance (Richter & Berner 2024); no ensemble needed. "
                    "Prints log Z = log <exp(-W)> with its error (and the pull against the exact log Z at lam = 0).")
    train.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (>= 2)")
    train.add_argument("--kappa", type=float, required=True, help="hopping parameter (>= 0)")
    train.add_argument("--lam", type=float, required=True, help="quartic coupling lambda (>= 0)")
    train.add_argument("--dim", type=int, default=2, help="space-time dimension d, 1..4 (default 2)")
    train.add_argument("--out", required=True, help="model file (.pt)")
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
    train.add_argument("--seed", type=int, help="random seed (default 0)")
    train.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    train.add_argument("--checkpoint", default=None, help="checkpoint file (default OUT.ckpt.pt); resumed if present")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=run_path_train)

    sample = sub.add_parser("path-sample", help="generate configurations with a trained path sampler (HDF5)")
    sample.add_argument("model", help="model file from qcdgen lattice path-train")
    add_sampling_arguments(sample, "paths", 500, "independence Metropolis-Hastings in path space with weight exp(-W) (exact; default on)")
    sample.set_defaults(run=run_path_sample)


def _estimate(value: float, error: float) -> str:
    return f"{value:.4f} ± {error:.4f}"


def run_path_train(args: argparse.Namespace) -> int:
    from qcdgen.lattice.actions import Phi4Action
    from qcdgen.lattice.exact import exact_log_partition
    from qcdgen.lattice.path_sampler import PathSettings, pull, train_lattice_path_sampler

    action = Phi4Action(size=args.size, kappa=args.kappa, lam=args.lam, dim=args.dim)
    given = dict(time_steps=args.time_steps, sigma=args.sigma, sigma0=args.sigma0, channels=args.channels,
                 blocks=args.blocks, backward=args.backward, grad_clip=args.grad_clip, loss=args.loss,
                 steps=args.steps, batch_size=args.batch_size, lr=args.lr, eval_paths=args.eval_paths, seed=args.seed)
    settings = PathSettings(z2=not args.no_z2, **{k: v for k, v in given.items() if v is not None})
    model = train_lattice_path_sampler(action, args.out, settings, device=args.device, checkpoint=args.checkpoint,
                                       progress=not args.no_progress)
    ev = model.evaluation
    print(f"wrote {args.out}: trained {settings.steps} steps ({settings.loss}) in {model.train_seconds:.1f} s; "
          f"final loss {model.loss_values[-1]:.4g}")
    print(f"  over {settings.eval_paths} fresh paths: <W> = {_estimate(ev['mean_work'], ev['mean_work_error'])}, "
          f"importance ESS/N {ev['ess']:.3f}")
    line = f"  log Z = {_estimate(ev['log_z'], ev['log_z_error'])}"
    log_z_tb = model.metrics.get("log_z_tb")
    if log_z_tb is not None and len(log_z_tb):
        line += f" (learned log Z_theta {log_z_tb[-1]:.4f}, a lower bound -<W> at the optimum)"
    print(line)
    exact = exact_log_partition(action)
    if exact is not None:
        p = pull(ev["log_z"], ev["log_z_error"], exact)
        print(f"  exact log Z (free field) {exact:.4f}: pull {p:+.2f}" if math.isfinite(p) else
              f"  exact log Z (free field) {exact:.4f}")
    restarts = model.restarts
    print(f"  restarts: {len(restarts)}" + (" (" + ", ".join(f"step {r['step']}: {r['cause']}" for r in restarts) + ")"
                                            if restarts else ""))
    return 0


def run_path_sample(args: argparse.Namespace) -> int:
    from qcdgen.lattice.path_sampler import sample_lattice_path_sampler

    result = sample_lattice_path_sampler(args.model, args.out, args.configs, metropolis=args.metropolis,
                                         chains=args.chains, batch_size=args.batch_size, seed=args.seed,
                                         device=args.device, checkpoint=args.checkpoint,
                                         progress=not args.no_progress)
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
