"""``qcdgen lattice u1-hmc / u1-train / u1-sample``: 2D U(1) gauge theory, HMC and the gauge-equivariant flow."""

from __future__ import annotations

import argparse

from qcdgen.cli import options


def register(sub) -> None:
    from qcdgen.cli.lattice import add_markov_options

    hmc = options.add_command(sub, "u1-hmc", run_u1_hmc, "generate a 2D U(1) gauge ensemble with HMC (HDF5)")
    hmc.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (>= 2)")
    hmc.add_argument("--beta", type=float, required=True, help="Wilson coupling beta (> 0)")
    add_markov_options(hmc, "Q")
    register_flow(sub)


def run_u1_hmc(args: argparse.Namespace) -> int:
    """Generate 2D U(1) gauge links with HMC, Wilson action S = -beta sum_P cos(theta_P); the spacing of saved
    configurations follows tau_int of the topological charge Q."""
    from qcdgen.cli.lattice import markov_flags, run_markov
    from qcdgen.lattice.u1.hmc import U1HMCSettings

    return run_markov(args, U1HMCSettings(size=args.size, beta=args.beta, **markov_flags(args)))


def register_flow(sub) -> None:
    from qcdgen.cli import lattice_sampling_args as common
    from qcdgen.lattice.u1.flow_settings import U1FlowSettings

    d = U1FlowSettings()
    train = options.add_command(sub, "u1-train", run_u1_train,
                                "train a gauge-equivariant flow on the U(1) Wilson action by reverse KL (writes MODEL.pt)")
    train.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (a multiple of 4)")
    train.add_argument("--beta", type=float, required=True, help="Wilson coupling beta (> 0)")
    train.add_argument("--out", required=True, help="model file (.pt)")
    train.add_argument("--layers", type=int, default=d.layers, help=f"coupling layers (default {d.layers})")
    train.add_argument("--hidden", type=int, default=d.hidden, help=f"hidden channels of each coupling net (default {d.hidden})")
    train.add_argument("--kernel-size", type=int, default=d.kernel_size, help=f"odd (default {d.kernel_size})")
    train.add_argument("--bins", type=int, default=d.bins, help=f"circular spline bins (default {d.bins})")
    train.add_argument("--prior", choices=("uniform", "plaquette"), default=d.prior,
                       help="base distribution: Haar-uniform links (Kanwar et al.) or i.i.d. von Mises plaquettes at "
                            "the action's beta (exact in 2D up to one global constraint)")
    common.add_optimiser_arguments(train, d)
    train.add_argument("--path-gradient", action="store_true", help="path-gradient estimator (Vaitl et al. 2022)")
    train.add_argument("--init", default=None,
                       help="start from this trained U(1) flow (same L and architecture), e.g. one at a smaller beta")
    options.add_run_options(train, seed_default=d.seed, checkpoint=True)

    sample = options.add_command(sub, "u1-sample", run_u1_sample,
                                 "generate U(1) gauge configurations with a trained flow (HDF5)")
    sample.add_argument("model", help="model file from qcdgen lattice u1-train")
    sample.add_argument("--size", "-L", type=int, default=None, help="refuse a model trained for another L")
    sample.add_argument("--beta", type=float, default=None, help="refuse a model trained for another beta")
    common.add_sampling_arguments(sample, "proposals", 1000,
                                  "independence Metropolis-Hastings against exp(-S) (exact; default on)")


def run_u1_train(args: argparse.Namespace) -> int:
    """Train the gauge-equivariant flow of Kanwar et al. (PRL 125 (2020) 121601) on exp(-S) alone: plaquette-masked
    couplings with circular splines, reverse KL. The loss is F_q = KL(q||p) - log Z."""
    from qcdgen.cli.lattice_flow import print_flow_evaluation
    from qcdgen.lattice.samplers import train_lattice_sampler
    from qcdgen.lattice.u1 import U1Action

    action = U1Action(size=args.size, beta=args.beta)
    model = train_lattice_sampler("u1-flow", action, args.out, dict(
        layers=args.layers, hidden=args.hidden, kernel_size=args.kernel_size, bins=args.bins, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, warmup=args.warmup, seed=args.seed, eval_samples=args.eval_samples,
        path_gradient=args.path_gradient, prior=args.prior), device=args.device, checkpoint=args.checkpoint,
        progress=not args.no_progress, init=args.init)
    s = model.settings
    print(f"wrote {args.out}: U(1) gauge-equivariant flow, {s.prior} prior, {s.layers} layers, L={args.size}, beta={args.beta:g}, "
          f"trained {s.steps} steps in {model.train_seconds:.1f} s; restarts after non-finite steps: {len(model.restarts)}")
    print_flow_evaluation(model, "torus")
    return 0


def run_u1_sample(args: argparse.Namespace) -> int:
    """Draw U(1) link configurations from a trained flow with their exact log q and correct them by independence
    Metropolis against exp(-S); the chain reports tau_int of the topological charge."""
    from qcdgen.cli import lattice_sampling_args as common
    from qcdgen.cli.lattice_flow import print_flow_sample_summary

    if args.size is not None or args.beta is not None:
        check_model_lattice(args.model, args.size, args.beta)
    print_flow_sample_summary(args.out, common.sample("u1-flow", args), tracked="Q")
    return 0


def check_model_lattice(model: str, size: int | None, beta: float | None) -> None:
    """Refuse a model file trained for another L or beta than the ones asked for."""
    from qcdgen.errors import InputError
    from qcdgen.io import load_checkpoint
    from qcdgen.lattice.samplers.u1_flow import MODEL_KIND

    trained = load_checkpoint(model, MODEL_KIND)["action"]
    if size is not None and int(trained["size"]) != size:
        raise InputError(f"{model} was trained for L={trained['size']}, not --size {size}; train one for L={size}")
    if beta is not None and float(trained["beta"]) != beta:
        raise InputError(f"{model} was trained for beta={trained['beta']:g}, not --beta {beta:g}; train one for that beta")
