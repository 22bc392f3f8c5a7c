"""``qcdgen lattice flow-train | flow-sample``: normalizing-flow sampler trained on the action alone."""

from __future__ import annotations

import argparse

from qcdgen.cli import lattice_sampling_args as common
from qcdgen.cli.options import add_command, add_run_options


def register(sub) -> None:
    """Add this sampler's subcommands to the ``qcdgen lattice`` subparsers ``sub``."""
    from qcdgen.lattice.flow_settings import FlowSettings

    d = FlowSettings()
    train = common.add_train_parser(
        sub, "flow-train", run_flow_train, 3, "train a normalizing flow on exp(-S) by reverse KL (no data; writes MODEL.pt)")
    train.add_argument("--coupling", choices=["affine", "rqs"], default=d.coupling,
                       help="affine (RealNVP) or rational-quadratic spline couplings (default affine)")
    train.add_argument("--layers", type=int, default=d.layers, help=f"coupling layers (default {d.layers})")
    train.add_argument("--channels", type=int, default=d.channels, help=f"hidden channels (default {d.channels})")
    train.add_argument("--hidden", type=int, default=d.hidden,
                       help=f"hidden conv layers per coupling net (default {d.hidden})")
    train.add_argument("--kernel-size", type=int, default=d.kernel_size, help=f"odd (default {d.kernel_size})")
    train.add_argument("--bins", type=int, default=d.bins, help=f"spline bins (rqs, default {d.bins})")
    train.add_argument("--bound", type=float, default=d.bound,
                       help=f"spline interval [-B, B], identity outside (rqs, default {d.bound:g})")
    common.add_optimiser_arguments(train, d)
    train.add_argument("--path-gradient", action="store_true",
                       help="path-gradient estimator (Vaitl et al. 2022): lower variance near the optimum")
    train.add_argument("--no-z2", action="store_true", help="do not make the flow odd in phi")
    train.add_argument("--no-spectral", action="store_true",
                       help="no learnable Fourier-space Gaussian layer before the couplings")
    train.add_argument("--zero-mode", action="store_true",
                       help="a learnable (odd) spline on the zero mode first: the two sectors of the broken phase")
    add_run_options(train, seed_default=d.seed, checkpoint=True)

    sample = add_command(sub, "flow-sample", run_flow_sample, "generate configurations with a trained flow (HDF5)")
    sample.add_argument("model", help="model file from qcdgen lattice flow-train")
    common.add_sampling_arguments(sample, "proposals", 1000,
                                  "independence Metropolis-Hastings against exp(-S) (exact; default on)")


def run_flow_train(args: argparse.Namespace) -> int:
    """Train a checkerboard coupling flow on the phi^4 action by minimising the reverse KL divergence
    (Albergo, Kanwar & Shanahan 2019). The loss is the variational free energy F_q = KL(q||p) - log Z,
    negative whenever log Z > KL."""
    model = common.train("flow", args, dict(
        coupling=args.coupling, layers=args.layers, channels=args.channels, hidden=args.hidden,
        kernel_size=args.kernel_size, bins=args.bins, bound=args.bound, z2=not args.no_z2,
        spectral=not args.no_spectral, zero_mode=args.zero_mode, path_gradient=args.path_gradient, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, seed=args.seed, eval_samples=args.eval_samples))
    print_train_summary(args.out, model)
    return 0


def print_train_summary(out, model) -> None:
    s = model.settings
    print(f"wrote {out}: {s.coupling} flow, {s.layers} layers{' + spectral' if s.spectral else ''}, trained "
          f"{s.steps} steps in {model.train_seconds:.1f} s; restarts after non-finite steps: {len(model.restarts)}")
    print_flow_evaluation(model, "free field")


def print_flow_evaluation(model, exact_name: str) -> None:
    """The last training loss and the post-training F_q, KL, ESS and log Z (with its exact value, if known)."""
    ev = model.evaluation
    if len(model.loss_values):
        print(f"  final training loss F_q = KL - log Z: {model.loss_values[-1]:.5g} "
              f"(batch ESS/N {model.ess_values[-1]:.3f})")
    else:
        print("  not trained (--steps 0): the flow is its prior")
    print(f"  on {ev['samples']} fresh samples: F_q = {ev['loss']:.5f} ± {ev['loss_error']:.2g}, "
          f"KL = F_q + log Z = {ev['kl']:.4g} ± {ev['kl_error']:.2g}, ESS/N {ev['ess']:.4f}")
    line = f"  log Z = {ev['log_z']:.5f} ± {ev['log_z_error']:.2g}"
    if model.exact_log_z is not None:
        line += f"  (exact {exact_name} {model.exact_log_z:.5f}, pull {model.log_z_pull:+.2f})"
    print(line)


def run_flow_sample(args: argparse.Namespace) -> int:
    """Draw proposals from a trained flow with their exact log q and, with --metropolis, correct
    them by independence Metropolis against exp(-S)."""
    print_flow_sample_summary(args.out, common.sample("flow", args))
    return 0


def print_flow_sample_summary(out, result, tracked: str = "|M|") -> None:
    print(f"wrote {result.configs} configurations to {out} ({result.sampler})")
    print(f"  {result.proposals_per_second:.1f} proposals/s; training took {result.train_seconds:.1f} s")
    m = result.metropolis
    if m is None:
        print("  no Metropolis correction: the configurations follow q, not exp(-S) (biased)")
        return
    print(f"  Metropolis acceptance {m.acceptance:.3f} ± {m.acceptance_error:.3f}, importance ESS/N "
          f"{m.importance_ess:.3f}, tau_int({tracked}) = {m.tau_int.value:.2f} ± {m.tau_int.error:.2f}")
    print(f"  log Z = {m.log_z.value:.5f} ± {m.log_z.error:.2g}")
