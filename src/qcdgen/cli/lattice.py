"""``qcdgen lattice ...``: ground-truth ensembles and their observables."""

from __future__ import annotations

import argparse
import sys

from qcdgen.cli.formatting import print_estimates, print_json


def register(commands) -> None:
    lattice = commands.add_parser("lattice", help="lattice field theory: HMC ground truth, observables")
    sub = lattice.add_subparsers(dest="lattice_command", metavar="COMMAND")
    lattice.set_defaults(run=lambda args: lattice.print_help())

    hmc = sub.add_parser("hmc", help="generate a phi^4 ensemble with HMC (HDF5)",
                         description="Generate a real scalar phi^4 ensemble with HMC, in hopping form "
                                     "S = sum_x [-2 kappa sum_mu phi(x)phi(x+mu) + (1-2 lam) phi^2 + lam phi^4].")
    hmc.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (>= 2)")
    hmc.add_argument("--kappa", type=float, required=True, help="hopping parameter (>= 0)")
    hmc.add_argument("--lam", type=float, required=True, help="quartic coupling lambda (>= 0)")
    hmc.add_argument("--configs", type=int, required=True, help="number of configurations to save")
    hmc.add_argument("--out", required=True, help="output HDF5 file")
    hmc.add_argument("--dim", type=int, default=2, help="space-time dimension d, 1..4 (default 2)")
    hmc.add_argument("--chains", type=int, default=4, help="independent chains run as one batch (default 4)")
    hmc.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    hmc.add_argument("--thermalize", type=int, default=500,
                     help="thermalisation trajectories, step size tuned meanwhile (default 500)")
    hmc.add_argument("--separation", type=int, default=None,
                     help="trajectories between saved configurations (default: ceil(2 tau_int(|M|)) from a pilot run)")
    hmc.add_argument("--integrator", choices=["omelyan", "leapfrog"], default="omelyan")
    hmc.add_argument("--trajectory-length", type=float, default=1.0, help="MD time per trajectory (default 1)")
    hmc.add_argument("--target-acceptance", type=float, default=0.8, help="step-size tuning target (default 0.8)")
    hmc.add_argument("--fourier-acceleration", action="store_true", help="Fourier-accelerated kinetic term")
    hmc.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    hmc.add_argument("--checkpoint", default=None, help="checkpoint file (default OUT.ckpt.pt); resumed if present")
    hmc.add_argument("--no-progress", action="store_true", help="no progress bar")
    hmc.set_defaults(run=run_hmc)

    observe = sub.add_parser("observe", help="observables of an ensemble, with Gamma-method errors")
    observe.add_argument("file", help="HDF5 ensemble written by qcdgen")
    observe.add_argument("--json", action="store_true", help='print {"observables": {name: {"value", "error"}}}')
    observe.add_argument("--device", default="cpu")
    observe.set_defaults(run=run_observe)


def run_hmc(args: argparse.Namespace) -> int:
    from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble

    settings = HMCSettings(
        size=args.size, kappa=args.kappa, lam=args.lam, configs=args.configs, dim=args.dim,
        chains=args.chains, seed=args.seed, thermalize=args.thermalize, separation=args.separation,
        integrator=args.integrator, trajectory_length=args.trajectory_length,
        target_acceptance=args.target_acceptance, fourier_acceleration=args.fourier_acceleration,
        device=args.device,
    )
    settings.action()  # refuse bad physics parameters before touching any file
    result = generate_hmc_ensemble(args.out, settings, checkpoint=args.checkpoint,
                                   progress=not args.no_progress and sys.stderr.isatty())
    print_run_summary(args.out, result)
    return 0


def print_run_summary(out, result) -> None:
    tau = result.tau_int_abs_m
    print(f"wrote {result.settings.configs} configurations to {out}")
    print(f"  step size {result.step_size:.4g} x {result.n_steps} steps ({result.settings.integrator}), "
          f"acceptance {result.acceptance.value:.3f} ± {result.acceptance.error:.2g}")
    print(f"  <exp(-dH)> = {result.exp_minus_dh.value:.4f} ± {result.exp_minus_dh.error:.4f} (exact: 1), "
          f"<dH> = {result.mean_dh.value:.3g} ± {result.mean_dh.error:.2g}")
    print(f"  tau_int(|M|) = {tau.value:.2f} ± {tau.error:.2f} trajectories; "
          f"saved every {result.separation} trajectories "
          f"(tau_int of the saved series {result.tau_int_saved.value:.2f})")
    print(f"  {result.trajectories_per_second:.1f} trajectories/s over {result.settings.chains} chains")


def run_observe(args: argparse.Namespace) -> int:
    from qcdgen.lattice.analysis import observables_json, observe_file

    estimates = observe_file(args.file, device=args.device)
    if args.json:
        print_json(observables_json(estimates))
    else:
        print_estimates(f"observables of {args.file}", estimates)
    return 0
