"""``qcdgen lattice xy-wolff / xy-train / xy-sample``: the 2D XY model, Wolff-cluster ground truth and the CAN."""

from __future__ import annotations

import argparse

from qcdgen.cli import options


def register(sub) -> None:
    wolff = options.add_command(sub, "xy-wolff", run_xy_wolff,
                                "generate a 2D XY ensemble with Wolff clusters + over-relaxation + Metropolis (HDF5)")
    wolff.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (even, >= 2)")
    wolff.add_argument("--temperature", "-T", type=float, required=True, help="temperature T in units of J (> 0)")
    wolff.add_argument("--configs", type=int, required=True, help="configurations to save (over all chains)")
    wolff.add_argument("--out", required=True, help="output HDF5 ensemble")
    wolff.add_argument("--chains", type=int, default=4, help="independent chains (default 4)")
    wolff.add_argument("--thermalize", type=int, default=500, help="thermalisation steps per chain (default 500)")
    wolff.add_argument("--separation", type=int, default=None,
                       help="steps between saved configurations (default: 2(tau_int + dtau_int) from a pilot)")
    wolff.add_argument("--clusters", type=int, default=None,
                       help="Wolff clusters per step (default: about V / mean cluster size; 0: no clusters)")
    wolff.add_argument("--overrelax", type=int, default=1, help="over-relaxation sweeps per step (default 1)")
    wolff.add_argument("--metropolis", type=int, default=1, help="Metropolis sweeps per step (default 1)")
    options.add_run_options(wolff, device=False, checkpoint=True)
    register_can(sub)


def run_xy_wolff(args: argparse.Namespace) -> int:
    """Generate spins of the 2D XY model, H = -J sum_<ij> cos(theta_i - theta_j), weight exp(-H/T), with
    Wolff clusters (Wolff, PRL 62 (1989) 361), over-relaxation and Metropolis sweeps; the spacing of saved
    configurations follows tau_int of |M| and of the energy. --clusters 0 --overrelax 0 is plain Metropolis."""
    from qcdgen.lattice.xy.wolff import WolffSettings, generate_wolff_ensemble

    settings = WolffSettings(size=args.size, temperature=args.temperature, configs=args.configs, chains=args.chains,
                             seed=args.seed, thermalize=args.thermalize, separation=args.separation,
                             clusters=args.clusters, overrelax=args.overrelax, metropolis=args.metropolis)
    r = generate_wolff_ensemble(args.out, settings, checkpoint=args.checkpoint, progress=not args.no_progress)
    print(f"wrote {args.configs} configurations to {args.out} ({settings.sampler}, L={args.size}, "
          f"T={args.temperature:g}, {args.chains} chains)")
    if r.clusters:
        print(f"  {r.clusters} Wolff clusters per step, mean cluster size {r.cluster_size:.3f} V")
    print(f"  tau_int(|M|) = {r.tau_int.value:.2f} ± {r.tau_int.error:.2f}, tau_int(e) = "
          f"{r.tau_int_energy.value:.2f} ± {r.tau_int_energy.error:.2f} steps; separation {r.separation} steps")
    print(f"  {r.steps_per_second:.1f} chain steps/s; {r.seconds_per_independent:.3g} s per independent configuration")
    return 0


def register_can(sub) -> None:
    from qcdgen.cli import lattice_sampling_args as common
    from qcdgen.lattice.xy.can_settings import XYCANSettings

    d = XYCANSettings()
    train = options.add_command(sub, "xy-train", run_xy_train,
                                "train a continuous autoregressive network on the XY model by reverse KL (MODEL.pt)")
    train.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (>= --kernel-size)")
    train.add_argument("--temperature", "-T", type=float, required=True, help="temperature T in units of J (> 0)")
    train.add_argument("--out", required=True, help="model file (.pt)")
    train.add_argument("--channels", type=int, default=d.channels, help=f"hidden channels (default {d.channels})")
    train.add_argument("--depth", type=int, default=d.depth, help=f"masked convolutions (default {d.depth})")
    train.add_argument("--kernel-size", type=int, default=d.kernel_size, help=f"odd, >= 3 (default {d.kernel_size})")
    train.add_argument("--components", type=int, default=d.components,
                       help=f"von Mises mixture components per site (default {d.components})")
    common.add_optimiser_arguments(train, d)
    train.add_argument("--init", default=None,
                       help="start from this trained CAN (same L and architecture), e.g. one at a higher T")
    options.add_run_options(train, seed_default=d.seed, checkpoint=True)

    sample = options.add_command(sub, "xy-sample", run_xy_sample,
                                 "generate XY configurations with a trained CAN (HDF5)")
    sample.add_argument("model", help="model file from qcdgen lattice xy-train")
    common.add_sampling_arguments(sample, "proposals", 1000,
                                  "independence Metropolis-Hastings against exp(-H/T) (exact; default on)")


def run_xy_train(args: argparse.Namespace) -> int:
    """Train the continuous autoregressive network of Wang et al. (CPL 39 (2022) 120502) on exp(-H/T) alone:
    a masked PixelCNN with von Mises mixture conditionals, reverse KL with the score-function gradient.
    The loss is F_q = KL(q||p) - log Z."""
    from qcdgen.cli.lattice_flow import print_flow_evaluation
    from qcdgen.lattice.samplers import train_lattice_sampler
    from qcdgen.lattice.xy import XYAction

    action = XYAction(size=args.size, temperature=args.temperature)
    model = train_lattice_sampler("xy-can", action, args.out, dict(
        channels=args.channels, depth=args.depth, kernel_size=args.kernel_size, components=args.components,
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, seed=args.seed,
        eval_samples=args.eval_samples), device=args.device, checkpoint=args.checkpoint,
        progress=not args.no_progress, init=args.init)
    s = model.settings
    print(f"wrote {args.out}: XY CAN, {s.depth} masked convolutions x {s.channels} channels, {s.components} "
          f"von Mises components, L={args.size}, T={args.temperature:g}, trained {s.steps} steps in "
          f"{model.train_seconds:.1f} s; restarts after non-finite steps: {len(model.restarts)}")
    print_flow_evaluation(model, "")
    return 0


def run_xy_sample(args: argparse.Namespace) -> int:
    """Draw XY configurations from a trained CAN with their exact log q and correct them by independence
    Metropolis against exp(-H/T); the chain reports tau_int of |M|."""
    from qcdgen.cli import lattice_sampling_args as common
    from qcdgen.cli.lattice_flow import print_flow_sample_summary

    print_flow_sample_summary(args.out, common.sample("xy-can", args), tracked="|M|")
    return 0
