"""``qcdgen inverse ...``: the posterior engine: spectral functions, neutron-star EoS, potentials."""

from __future__ import annotations

import sys

from qcdgen.cli.options import add_command, add_command_group, add_run_options


def register(commands) -> None:
    sub = add_command_group(commands, "inverse",
                            "inverse problems: spectral functions, neutron-star EoS (TOV), potentials")

    sp = add_command(sub, "spectral", run_spectral,
                     "reconstruct a spectral function rho(omega) from a Euclidean correlator")
    sp.add_argument("correlator", help="CSV with columns x,value,error (x = p for --kernel kl, tau otherwise)")
    sp.add_argument("--kernel", required=True, choices=["kl", "laplace", "thermal"],
                    help="kl: omega/(pi(omega^2+p^2)); laplace: exp(-omega tau); thermal: cosh(omega(tau-1/2T))/sinh(omega/2T)")
    sp.add_argument("--temperature", type=float, default=None, help="T for --kernel thermal (tau in [0, 1/T])")
    sp.add_argument("--method", required=True, choices=["nn", "p2p", "mem", "tikhonov", "gp"],
                    help="gp: Gaussian-process prior, exact posterior band (not an ensemble)")
    sp.add_argument("--marginalise", action="store_true",
                    help="with --method gp: integrate over the GP hyperparameters (emcee) instead of maximising "
                         "the evidence; wider, better-covering band, about 10x slower")
    sp.add_argument("--starts", type=int, default=1,
                    help="with --method nn: initialisations per fit, keeping the smoothest of those that fit as "
                         "well as the best (guards against a rare rough solution; default 1)")
    sp.add_argument("--omega-min", type=float, required=True)
    sp.add_argument("--omega-max", type=float, required=True)
    sp.add_argument("--omega-points", type=int, required=True)
    _outputs(sp, "omega,rho,rho_lo,rho_hi", "rho with its band and the fit's pulls")
    _run_options(sp, "fits in the ensemble (default 8; 1 = no band)", epochs=False)

    bench = add_command(sub, "spectral-bench", run_spectral_bench,
                        "the mock suite: MSE and KL of NN, NN-P2P, MEM and Tikhonov on known spectra")
    bench.add_argument("--kernel", default="kl", choices=["kl", "laplace", "thermal"])
    bench.add_argument("--temperature", type=float, default=None)
    bench.add_argument("--shapes", default="bw,gauss,double")
    bench.add_argument("--noise", default="1e-2,1e-3,1e-4,1e-5", help="comma-separated eps values")
    bench.add_argument("--methods", default="nn,p2p,mem,tikhonov")
    bench.add_argument("--repeats", type=int, default=2, help="noise realisations per cell (default 2)")
    bench.add_argument("--json", default=None, help="also write the rows as JSON to this file")
    _run_options(bench, None, epochs=False)

    tov = add_command(sub, "tov", run_tov,
                      "neural equation of state from neutron-star masses and radii (differentiable TOV)")
    tov.add_argument("observations", help="CSV with columns mass,mass_error,radius,radius_error (M_sun, km)")
    _outputs(tov, "energy_density,pressure,pressure_lo,pressure_hi (MeV/fm^3)", "the EoS and mass-radius bands")
    _run_options(tov, "ensemble members (default 8, at least 2)")

    pot = add_command(sub, "potential", run_potential,
                      "neural potential V(r) from energy levels (differentiable radial Schroedinger solver)")
    pot.add_argument("levels", help="CSV with columns n,l,E and optional error,width,width_error")
    pot.add_argument("--mass", type=float, required=True, help="reduced mass mu (hbar = 1)")
    _outputs(pot, "r,V,V_lo,V_hi (+ W,W_lo,W_hi with widths)", "V(r) with its band and the probed range")
    pot.add_argument("--r-max", type=float, default=None, help="box size (default: from the highest level)")
    pot.add_argument("--grid-points", type=int, default=None, help="interior grid points of the solver (default 160)")
    pot.add_argument("--origin", choices=["regular", "free"], default="regular",
                     help="regular: V is a smooth function of r^2 (V'(0) = 0, default); free: any V (Coulomb-like)")
    _run_options(pot, "ensemble members (default 8, at least 2)")

    nbs = add_command(sub, "nbs-potential", run_nbs_potential,
                      "HAL QCD: a neural potential from l = 0 NBS wave functions (Schroedinger residual)")
    nbs.add_argument("waves", nargs="?", default=None, help="CSV with columns state,energy,r,u (omit with --yukawa)")
    nbs.add_argument("--mass", type=float, required=True, help="reduced mass m of -u''/(2m) (hbar = 1)")
    nbs.add_argument("--kind", choices=["local", "separable"], default="local",
                     help="local V(r) (leading order, default) or separable U = omega nu(r) nu(r')")
    nbs.add_argument("--out", required=True, help="output CSV: r,V (local) or r,nu (separable)")
    nbs.add_argument("--yukawa", default=None, metavar="ALPHA,MU",
                     help="instead of a file: the lowest --states box states of V = -ALPHA exp(-MU r)/r")
    nbs.add_argument("--states", type=int, default=4, help="with --yukawa: states in the box (default 4)")
    nbs.add_argument("--r-max", type=float, default=12.0, help="with --yukawa: box radius (default 12)")
    nbs.add_argument("--steps", type=int, default=3000, help="Adam steps before L-BFGS (default 3000)")
    nbs.add_argument("--seed", type=int, default=0)


def _outputs(parser, columns: str, plot: str) -> None:
    """--out (the result table, a CSV with ``columns``) and --plot (a PNG of ``plot``): every fit writes both."""
    parser.add_argument("--out", required=True, help=f"output CSV: {columns}")
    parser.add_argument("--plot", default=None, help=f"PNG of {plot}")


def _run_options(parser, ensemble_help: str | None, epochs: bool = True) -> None:
    """--ensemble, --epochs, --seed, --device, --no-progress: shared by the fitting commands."""
    if ensemble_help is not None:
        parser.add_argument("--ensemble", type=int, default=8, help=ensemble_help)
    if epochs:
        parser.add_argument("--epochs", type=int, default=None, help="optimiser steps per member (default: the library's)")
    add_run_options(parser)


def _epochs(args) -> dict:
    return {} if args.epochs is None else {"epochs": args.epochs}


def run_spectral(args) -> int:
    """Reconstruct rho(omega) >= 0 from D(x) = int K(x, omega) rho(omega) d omega. The integral is
    the rectangle sum over the uniform grid omega_min..omega_max (omega_points points). The
    band is the mean +- std of an ensemble of fits to pseudo-data resampled within the errors; with
    --method gp it is the Gaussian-process posterior mean +- 1 sigma."""
    from qcdgen.report.pipelines import run_spectral as pipeline

    res = pipeline(args.correlator, kernel=args.kernel, temperature=args.temperature, method=args.method,
                   omega_min=args.omega_min, omega_max=args.omega_max, omega_points=args.omega_points,
                   out=args.out, plot=args.plot, ensemble=args.ensemble, seed=args.seed, device=args.device,
                   progress=not args.no_progress, options=_spectral_options(args))
    peak = int(res.rho.argmax())
    sys.stdout.write(f"wrote {args.out}: {res.omega.size} omega points, method {args.method}, "
                     + ("posterior band, " if res.band == "posterior" else f"{res.members.shape[0]} members, ")
                     + f"chi2/point {res.chi2_per_point:.3g}, "
                     f"peak rho({res.omega[peak]:.4g}) = {res.rho[peak]:.4g} "
                     f"[{res.rho_lo[peak]:.4g}, {res.rho_hi[peak]:.4g}], {res.seconds_per_member:.2f} s per fit\n")
    if args.plot:
        sys.stdout.write(f"wrote {args.plot}\n")
    return 0


def _spectral_options(args) -> dict:
    if args.marginalise and args.method != "gp":
        from qcdgen.errors import InputError

        raise InputError("--marginalise applies to --method gp only")
    if args.starts != 1 and args.method != "nn":
        from qcdgen.errors import InputError

        raise InputError("--starts applies to --method nn only")
    options = {"marginalise": True} if args.marginalise else {}
    return options | ({"starts": args.starts} if args.starts != 1 else {})


def run_spectral_bench(args) -> int:
    """Breit-Wigner, Gaussian and double-peak spectra, noise sigma_i = eps * D_i; every method fits
    the same noisy data; +- is the standard error over --repeats noise realisations."""
    from qcdgen.inverse.spectral.pipeline import format_bench_table
    from qcdgen.inverse.spectral.pipeline import run_spectral_bench as pipeline

    rows = pipeline(shapes=args.shapes, noises=args.noise, methods=args.methods, kernel=args.kernel,
                    temperature=args.temperature, repeats=args.repeats, seed=args.seed, device=args.device,
                    progress=not args.no_progress, json_out=args.json)
    sys.stdout.write(f"mock suite, kernel {args.kernel}: MSE over the omega grid (± standard error over "
                     f"{args.repeats} noise realisations), KL(truth || reconstruction), seconds per fit\n")
    sys.stdout.write(format_bench_table(rows) + "\n")
    return 0


def run_tov(args) -> int:
    """Fit a causal, monotone neural EoS (joined to a standard crust) to mass-radius observations
    through a differentiable TOV solver; an ensemble over resampled observations gives bands."""
    from qcdgen.report.pipelines import run_tov as pipeline

    res = pipeline(args.observations, out=args.out, plot=args.plot, ensemble=args.ensemble, seed=args.seed,
                   device=args.device, progress=not args.no_progress, **_epochs(args))
    sys.stdout.write(f"{res.summary()}\n")
    return 0


def run_potential(args) -> int:
    """Fit V(r) (and -W(r) <= 0 when widths are given) to levels (n, l, E): n = 1 is the lowest
    state of each l; hbar = 1. The band is only meaningful where the wavefunctions probe."""
    from qcdgen.report.pipelines import run_potential as pipeline

    extra = _epochs(args) | ({} if args.grid_points is None else {"grid_points": args.grid_points})
    res = pipeline(args.levels, mass=args.mass, out=args.out, plot=args.plot, r_max=args.r_max,
                   origin=args.origin, ensemble=args.ensemble, seed=args.seed, device=args.device,
                   progress=not args.no_progress, **extra)
    sys.stdout.write(f"{res.summary()}\n")
    return 0


def run_nbs_potential(args) -> int:
    """Learn U(r, r') from NBS wave functions by minimising the Schroedinger residual (Ishii, Aoki, Hatsuda,
    PRL 99 (2007) 022001), then check it forward: the learned potential's levels against the given energies."""
    from qcdgen.errors import InputError
    from qcdgen.inverse.schrodinger import nbs

    if (args.waves is None) == (args.yukawa is None):
        raise InputError("give either a wave-function CSV (state,energy,r,u) or --yukawa ALPHA,MU, not both or neither")
    if args.yukawa is not None:
        try:
            alpha, mu = (float(v) for v in args.yukawa.split(","))
        except ValueError:
            raise InputError(f"--yukawa must be ALPHA,MU (two numbers), got {args.yukawa!r}") from None
        data = nbs.nbs_data_from_potential(nbs.yukawa(alpha, mu), mass=args.mass, r_max=args.r_max,
                                           n_points=max(200, int(50 * args.r_max)), states=args.states)
    else:
        data = nbs.read_nbs_csv(args.waves, args.mass)
    fit = nbs.fit_nbs_potential(data, kind=args.kind, steps=args.steps, seed=args.seed)
    nbs.write_fit_csv(fit, args.out)
    sys.stdout.write(f"{fit.kind} potential from {len(data.energies)} states, relative residual {fit.residual:.3g}\n")
    sys.stdout.write(f"{'state':>6s} {'E given':>12s} {'E learned U':>12s} {'difference':>12s}\n")
    for k, (e, s) in enumerate(zip(fit.energies, fit.solved_energies), 1):
        sys.stdout.write(f"{k:6d} {e:12.6g} {s:12.6g} {s - e:+12.3g}\n")
    sys.stdout.write(f"wrote {args.out}\n")
    return 0
