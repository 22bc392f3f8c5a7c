"""``qcdgen lattice fm-train | fm-sample | sb-train | sb-sample``: flow matching and the Schrödinger bridge,
trained on an HMC ensemble and sampled by their ODE with exact log q (Metropolis-corrected by default)."""

from __future__ import annotations

import argparse
import math

from qcdgen.cli import lattice_sampling_args as common
from qcdgen.cli.options import add_command, add_run_options

SAMPLERS = {"fm": "flow-matching", "sb": "schrodinger-bridge"}


def register(sub) -> None:
    """Add the ``fm-*`` and ``sb-*`` subcommands to the ``qcdgen lattice`` subparsers ``sub``."""
    # defaults live in FlowMatchingSettings / BridgeSettings (not imported here: the parser stays light)
    for prefix, name in SAMPLERS.items():
        what = "flow matching (linear interpolant)" if prefix == "fm" else "a Schroedinger bridge ([SF]2M)"
        train = add_command(sub, f"{prefix}-train", run_train, f"train {what} on an HMC ensemble (writes MODEL.pt)")
        train.set_defaults(transport=name)
        train.add_argument("ensemble", help="HDF5 ensemble written by qcdgen lattice hmc")
        train.add_argument("--out", required=True, help="model file (.pt)")
        train.add_argument("--steps", type=int, help="optimiser steps (default 2000)")
        train.add_argument("--batch-size", type=int, help="configurations per step (default 128)")
        train.add_argument("--lr", type=float, help="peak learning rate, cosine decay (default 3e-3)")
        train.add_argument("--channels", type=int, help="network width (default 16)")
        train.add_argument("--blocks", type=int, help="residual blocks (default 2)")
        train.add_argument("--no-z2", action="store_true", help="do not make the velocity odd in phi")
        train.add_argument("--no-gaussian", action="store_true", help="no analytic Gaussian part in the velocity")
        train.add_argument("--heldout-fraction", type=float, help="fraction of each chain held out (default 0.2)")
        if prefix == "sb":
            train.add_argument("--sigma", type=float, help="bridge noise level sigma (default 0.5)")
            train.add_argument("--coupling", choices=["sinkhorn", "independent"],
                               help="minibatch entropic OT plan (default) or independent pairs")
            train.add_argument("--t-min", type=float, help="training times in [t_min, 1 - t_min] (default 0.01)")
            train.add_argument("--sinkhorn-iters", type=int, help="Sinkhorn iterations per batch (default 100)")
        add_run_options(train, seed_default=None, checkpoint=True)

        sample = add_command(sub, f"{prefix}-sample", run_sample,
                             f"generate configurations with a trained {name} model (HDF5)")
        sample.set_defaults(transport=name)
        sample.add_argument("model", help=f"model file from qcdgen lattice {prefix}-train")
        common.add_sampling_arguments(sample, "proposals", 250,
                                      "independence Metropolis-Hastings against exp(-S) with the ODE log q "
                                      "(exact with exact divergences; default on)")
        sample.add_argument("--ode-steps", type=int, default=12, help="ODE steps (default 12)")
        sample.add_argument("--solver", choices=["heun", "euler"], default="heun")
        sample.add_argument("--divergence", choices=["auto", "exact", "hutchinson"], default="auto",
                            help="log q: exact Jacobians (default up to 256 sites) or Hutchinson")


def run_train(args: argparse.Namespace) -> int:
    """Train a transport sampler (flow matching or Schroedinger bridge) on the configurations of
    ENSEMBLE.h5; the last --heldout-fraction of each chain is kept aside for the memorisation check."""
    from qcdgen.lattice.samplers import train_lattice_sampler

    flags = dict(steps=args.steps, batch_size=args.batch_size, lr=args.lr, channels=args.channels,
                 blocks=args.blocks, heldout_fraction=args.heldout_fraction, seed=args.seed,
                 odd=False if args.no_z2 else None, gaussian=False if args.no_gaussian else None)
    if args.transport == "schrodinger-bridge":
        flags.update(sigma=args.sigma, coupling=args.coupling, t_min=args.t_min, sinkhorn_iters=args.sinkhorn_iters)
    model = train_lattice_sampler(args.transport, args.ensemble, args.out, flags, device=args.device,
                                  checkpoint=args.checkpoint, progress=not args.no_progress)
    print(f"wrote {args.out}: trained {model.settings.steps} steps on {model.training_configs} configurations "
          f"in {model.train_seconds:.1f} s; final loss {model.loss_values[-1]:.4g}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from qcdgen.lattice.samplers import sample_lattice_sampler

    result = sample_lattice_sampler(args.model, args.out, dict(
        configs=args.configs, metropolis=args.metropolis, chains=args.chains, batch_size=args.batch_size,
        seed=args.seed, ode_steps=args.ode_steps, solver=args.solver, divergence=args.divergence),
        sampler=args.transport, device=args.device, checkpoint=args.checkpoint, progress=not args.no_progress)
    print(f"wrote {result.configs} configurations to {args.out}")
    print(f"  {result.proposals_per_second:.1f} proposals/s (log q: {result.divergence})")
    if result.summary is not None:
        tau = result.tau_int_abs_m
        print(f"  Metropolis acceptance {result.acceptance:.3f} ± {result.acceptance_error:.3f}, importance ESS/N "
              f"{result.importance_ess:.3f}, tau_int(|M|) = {tau.value:.2f} ± {tau.error:.2f}"
              f"{'' if result.exact else '  (approximate: Hutchinson log q)'}")
        print(f"  log Z = {result.log_z.value:.4f} ± {result.log_z.error:.4f}")
        if result.exact_log_z is not None:
            pull = f": pull {result.log_z_pull:+.2f}" if math.isfinite(result.log_z_pull) else ""
            print(f"  exact log Z (free field) {result.exact_log_z:.4f}{pull}")
    else:
        print("  no Metropolis correction: the ensemble is not exact (exact = 0)")
    return 0
