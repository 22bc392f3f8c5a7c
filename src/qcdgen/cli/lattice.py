"""``qcdgen lattice ...``: ground-truth ensembles, diffusion samplers and their validation."""

from __future__ import annotations

import argparse

from qcdgen.cli import options
from qcdgen.errors import InputError


def register(commands) -> None:
    sub = options.add_command_group(commands, "lattice", "lattice field theory: HMC ground truth, observables")

    hmc = options.add_command(sub, "hmc", run_hmc, "generate a phi^4 ensemble with HMC (HDF5)")
    hmc.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (>= 2)")
    hmc.add_argument("--kappa", type=float, required=True, help="hopping parameter (>= 0)")
    hmc.add_argument("--lam", type=float, required=True, help="quartic coupling lambda (>= 0)")
    hmc.add_argument("--dim", type=int, default=2, help="space-time dimension d, 1..4 (default 2)")
    hmc.add_argument("--fourier-acceleration", action="store_true", help="Fourier-accelerated kinetic term")
    add_markov_options(hmc, "|M|")

    observe = options.add_command(sub, "observe", run_observe, "observables of an ensemble, with Gamma-method errors")
    observe.add_argument("file", help="HDF5 ensemble written by qcdgen")
    observe.add_argument("--json", action="store_true", help='print {"observables": {name: {"value", "error"}}}')
    options.add_run_options(observe, seed=False, progress=False)

    train = options.add_command(sub, "train", run_train, "train a diffusion model on an ensemble (writes MODEL.pt)")
    train.add_argument("ensemble", help="HDF5 ensemble written by qcdgen lattice hmc")
    train.add_argument("--out", required=True, help="model file (.pt)")
    train.add_argument("--preset", choices=["quick", "paper"], default="quick",
                       help="quick: small CPU model (default); paper: wide network, long training (GPU)")
    train.add_argument("--steps", type=int, help="optimiser steps")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate (cosine decay)")
    train.add_argument("--channels", type=int, help="network width")
    train.add_argument("--blocks", type=int, help="residual blocks")
    train.add_argument("--sde", choices=["ve", "vp"])
    train.add_argument("--sigma", type=float, help="VE SDE: g(t) = sigma^t (default 25)")
    train.add_argument("--no-z2", action="store_true", help="do not make the score odd in phi")
    train.add_argument("--no-gaussian", action="store_true", help="no analytic Gaussian part in the score")
    train.add_argument("--global-pool", action="store_true",
                       help="give every block the lattice mean of its input (a global receptive field: broken phase)")
    train.add_argument("--heldout-fraction", type=float, help="fraction of each chain held out (default 0.2)")
    options.add_run_options(train, seed_default=None, checkpoint=True)

    sample = options.add_command(sub, "sample", run_sample, "generate configurations with a trained model (HDF5)")
    sample.add_argument("model", help="model file from qcdgen lattice train")
    sample.add_argument("--configs", type=int, required=True, help="number of proposals / configurations")
    sample.add_argument("--out", required=True, help="output HDF5 ensemble")
    sample.add_argument("--metropolis", action="store_true",
                        help="independence Metropolis-Hastings against exp(-S) with the ODE log q (exact)")
    sample.add_argument("--sampler", choices=["ode", "sde", "pc"], default="ode",
                        help="probability-flow ODE (default), Euler-Maruyama SDE, predictor-corrector")
    sample.add_argument("--ode-steps", type=int, default=12, help="ODE steps (default 12)")
    sample.add_argument("--solver", choices=["heun", "euler"], default="heun")
    sample.add_argument("--divergence", choices=["auto", "exact", "hutchinson"], default="auto",
                        help="log q: exact Jacobians (default up to 256 sites) or Hutchinson")
    sample.add_argument("--sde-steps", type=int, default=200)
    sample.add_argument("--chains", type=int, default=1, help="independent Metropolis chains (default 1)")
    sample.add_argument("--mala-steps", type=int, default=0, help="MALA steps on the true action per configuration")
    sample.add_argument("--mala-step-size", type=float, default=0.05)
    sample.add_argument("--batch-size", type=int, default=250)
    options.add_run_options(sample)

    validate = options.add_command(sub, "validate", run_validate,
                           "validate a generated ensemble against a reference (HTML/JSON)")
    validate.add_argument("generated", help="generated HDF5 ensemble")
    validate.add_argument("--reference", required=True, help="reference HDF5 ensemble (e.g. HMC)")
    validate.add_argument("--training", default=None, help="training ensemble (default: recorded in GEN.h5)")
    validate.add_argument("--report", default=None, help="write a self-contained HTML report here")
    validate.add_argument("--json", action="store_true", help='print {"passed", "rows": [...]} as JSON')
    validate.add_argument("--max-pull", type=float, default=3.0, help="largest |pull| that passes (default 3)")
    options.add_run_options(validate, seed=False, progress=False)

    from qcdgen.cli import lattice_compare, lattice_flow, lattice_path, lattice_u1
    from qcdgen.cli import lattice_xy

    lattice_flow.register(sub)
    lattice_path.register(sub)
    from qcdgen.cli import lattice_transport
    lattice_transport.register(sub)
    lattice_u1.register(sub)
    lattice_xy.register(sub)
    lattice_compare.register(sub)
    from qcdgen.cli import lattice_cl
    lattice_cl.register(sub)
    from qcdgen.cli import lattice_effective_action
    lattice_effective_action.register(sub)


def add_markov_options(parser, tracked: str) -> None:
    """The Markov-chain flags every HMC ensemble command takes (``tracked``: the observable that sets the spacing)."""
    parser.add_argument("--configs", type=int, required=True, help="number of configurations to save")
    parser.add_argument("--out", required=True, help="output HDF5 file")
    parser.add_argument("--chains", type=int, default=4, help="independent chains run as one batch (default 4)")
    options.add_seed_option(parser)
    parser.add_argument("--thermalize", type=int, default=500,
                        help="thermalisation trajectories, step size tuned meanwhile (default 500)")
    parser.add_argument("--separation", type=int, default=None,
                        help=f"trajectories between saved configurations (default: ceil(2 tau_int({tracked})) from a pilot run)")
    parser.add_argument("--integrator", choices=["omelyan", "leapfrog"], default="omelyan")
    parser.add_argument("--trajectory-length", type=float, default=1.0, help="MD time per trajectory (default 1)")
    parser.add_argument("--target-acceptance", type=float, default=0.8, help="step-size tuning target (default 0.8)")
    parser.add_argument("--checkpoint-seconds", type=float, default=60.0,
                        help="seconds between checkpoints (default 60; one is always written on Ctrl-C)")
    options.add_run_options(parser, seed=False, checkpoint=True)


def markov_flags(args: argparse.Namespace) -> dict:
    """The :class:`~qcdgen.lattice.hmc_ensemble.MarkovSettings` fields from :func:`add_markov_options` flags."""
    return dict(configs=args.configs, chains=args.chains, seed=args.seed, thermalize=args.thermalize,
                separation=args.separation, integrator=args.integrator, trajectory_length=args.trajectory_length,
                target_acceptance=args.target_acceptance, device=args.device)


def run_markov(args: argparse.Namespace, settings) -> int:
    """Run an HMC ensemble of any theory (settings checked first) and print its summary."""
    from qcdgen.lattice.hmc_ensemble import generate_hmc_ensemble

    settings.action()  # refuse bad physics parameters before touching any file
    if not args.checkpoint_seconds >= 0:
        raise InputError(f"--checkpoint-seconds must be a number >= 0, got {args.checkpoint_seconds}")
    result = generate_hmc_ensemble(args.out, settings, checkpoint=args.checkpoint,
                                   checkpoint_seconds=args.checkpoint_seconds, progress=not args.no_progress)
    print_run_summary(args.out, result)
    return 0


def run_hmc(args: argparse.Namespace) -> int:
    """Generate a real scalar phi^4 ensemble with HMC, in hopping form
    S = sum_x [-2 kappa sum_mu phi(x)phi(x+mu) + (1-2 lam) phi^2 + lam phi^4]."""
    from qcdgen.lattice.hmc_ensemble import HMCSettings

    return run_markov(args, HMCSettings(size=args.size, kappa=args.kappa, lam=args.lam, dim=args.dim,
                                        fourier_acceleration=args.fourier_acceleration, **markov_flags(args)))


def print_run_summary(out, result) -> None:
    tau, label = result.tau_int, result.settings.action().tracked_label
    print(f"wrote {result.settings.configs} configurations to {out}")
    print(f"  step size {result.step_size:.4g} x {result.n_steps} steps ({result.settings.integrator}), "
          f"acceptance {result.acceptance.value:.3f} ± {result.acceptance.error:.2g}")
    print(f"  <exp(-dH)> = {result.exp_minus_dh.value:.4f} ± {result.exp_minus_dh.error:.4f} (exact: 1), "
          f"<dH> = {result.mean_dh.value:.3g} ± {result.mean_dh.error:.2g}")
    print(f"  tau_int({label}) = {tau.value:.2f} ± {tau.error:.2f} trajectories; "
          f"saved every {result.separation} trajectories "
          f"(tau_int of the saved series {result.tau_int_saved.value:.2f})")
    print(f"  {result.trajectories_per_second:.1f} trajectories/s over {result.settings.chains} chains")


def run_observe(args: argparse.Namespace) -> int:
    from qcdgen.cli.formatting import print_estimates, print_json
    from qcdgen.lattice.observe import observables_json, observe_file

    estimates = observe_file(args.file, device=args.device)
    if args.json:
        print_json(observables_json(estimates))
    else:
        print_estimates(f"observables of {args.file}", estimates)
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train a score-based diffusion model (VE SDE, g(t)=sigma^t) on the HMC configurations of
    ENSEMBLE.h5; the last --heldout-fraction of each chain is kept aside for the memorisation check."""
    from qcdgen.lattice.samplers import train_lattice_sampler
    from qcdgen.lattice.samplers.diffusion import loss_curve_path

    model = train_lattice_sampler("diffusion", args.ensemble, args.out, dict(
        preset=args.preset, steps=args.steps, batch_size=args.batch_size, lr=args.lr, channels=args.channels,
        blocks=args.blocks, sde=args.sde, sigma=args.sigma, heldout_fraction=args.heldout_fraction, seed=args.seed,
        odd=False if args.no_z2 else None, gaussian=False if args.no_gaussian else None,
        global_pool=True if args.global_pool else None),
        device=args.device, checkpoint=args.checkpoint, progress=not args.no_progress)
    print(f"wrote {args.out} and {loss_curve_path(args.out)}: trained {model.settings.steps} steps on "
          f"{model.training_configs} configurations "
          f"in {model.train_seconds:.1f} s; final loss {model.loss_values[-1]:.4g}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from qcdgen.lattice.samplers import sample_lattice_sampler

    result = sample_lattice_sampler(args.model, args.out, dict(
        configs=args.configs, sampler=args.sampler, metropolis=args.metropolis, chains=args.chains,
        ode_steps=args.ode_steps, solver=args.solver, divergence=args.divergence, sde_steps=args.sde_steps,
        mala_steps=args.mala_steps, mala_step_size=args.mala_step_size, batch_size=args.batch_size, seed=args.seed),
        sampler="diffusion", device=args.device, progress=not args.no_progress)
    print_sample_summary(args.out, result)
    return 0


def print_sample_summary(out, result) -> None:
    print(f"wrote {result.settings.configs} configurations to {out}")
    print(f"  {result.proposals_per_second:.1f} proposals/s ({result.settings.sampler}, log q: {result.divergence})")
    if result.settings.metropolis:
        tau = result.tau_int_abs_m
        print(f"  Metropolis acceptance {result.acceptance:.3f} ± {result.acceptance_error:.3f}, importance ESS/N {result.importance_ess:.3f}, "
              f"tau_int(|M|) = {tau.value:.2f} ± {tau.error:.2f}"
              f"{'' if result.exact else '  (approximate: Hutchinson log q)'}")
    if result.settings.mala_steps:
        print(f"  MALA acceptance {result.mala_acceptance:.3f} over {result.settings.mala_steps} steps")


def run_validate(args: argparse.Namespace) -> int:
    from qcdgen.cli.formatting import print_validation
    from qcdgen.io import check_writable
    from qcdgen.lattice.validation import validate_ensembles
    from qcdgen.report import write_report

    if args.report:
        check_writable(args.report, "HTML report")  # before the analysis, not after
    result = validate_ensembles(args.generated, args.reference, training=args.training,
                                max_abs_pull=args.max_pull, device=args.device)
    if args.report:
        write_report(result, html_path=args.report)
    return print_validation(result, args.report, args.json)
