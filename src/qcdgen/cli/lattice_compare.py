"""``qcdgen lattice compare-samplers``: HMC, HMC-FA and the generative samplers against L and kappa."""

from __future__ import annotations

import argparse

from qcdgen.cli.options import add_command, add_run_options
from qcdgen.errors import InputError


def register(sub) -> None:
    """Add ``compare-samplers`` to the ``qcdgen lattice`` subparsers ``sub``."""
    # defaults live in CompareSettings / PRESETS (not imported here: the parser stays light); None = preset value
    p = add_command(sub, "compare-samplers", run_compare_samplers,
                    "critical slowing down: cost per independent configuration of every sampler vs L")
    p.add_argument("--size", "-L", required=True, help="lattice sizes, comma-separated (e.g. 8,16,32)")
    p.add_argument("--kappa", required=True, help="hopping parameters, comma-separated (e.g. 0.21,0.265)")
    p.add_argument("--lam", type=float, default=0.022, help="quartic coupling lambda (default 0.022)")
    p.add_argument("--dim", type=int, default=2, help="space-time dimension d, 1..3 (default 2)")
    p.add_argument("--samplers", default="hmc,hmc-fa,diffusion,flow,path",
                   help="comma-separated subset of hmc,hmc-fa,diffusion,flow,path (default all; hmc is always run)"
                        " and, when named, flow-matching,schrodinger-bridge")
    p.add_argument("--preset", choices=["quick", "study"], default="quick",
                   help="quick: small runs for tests and demos (default); study: the benchmark's settings")
    p.add_argument("--out-dir", default="sampler-study", help="ensembles, models and row JSON (default sampler-study)")
    p.add_argument("--report", default=None, help="write a self-contained HTML report here")
    p.add_argument("--json", action="store_true", help='print {"rows": [...], "settings": {...}} as JSON')
    p.add_argument("--hmc-configs", type=int, help="configurations saved per HMC ensemble")
    p.add_argument("--proposals", type=int, help="proposals of each generative sampler")
    p.add_argument("--diffusion-steps", type=int, help="diffusion training steps")
    p.add_argument("--flow-steps", type=int, help="flow training steps")
    p.add_argument("--path-steps", type=int, help="path-sampler training steps")
    p.add_argument("--chains", type=int, default=4, help="HMC chains run as one batch (default 4)")
    p.add_argument("--mh-chains", type=int, default=1, help="independence-Metropolis chains (default 1)")
    p.add_argument("--max-pull", type=float, default=3.0, help="largest |pull| against HMC that passes (default 3)")
    add_run_options(p)


def parse_list(text: str, flag: str, kind: type, what: str) -> tuple:
    """'8,16' -> (8, 16); an empty list or a bad item is an InputError naming ``flag``."""
    items = [t.strip() for t in str(text).split(",")]
    if not any(items):
        raise InputError(f"{flag} must be a comma-separated list of {what}, got an empty list")
    try:
        return tuple(kind(t) for t in items)
    except ValueError:
        raise InputError(f"{flag} must be a comma-separated list of {what}, got {text!r}") from None


def run_compare_samplers(args: argparse.Namespace) -> int:
    """For every lattice size and kappa run plain HMC (the reference), Fourier-accelerated HMC, and
    train + sample the diffusion, flow and path samplers with Metropolis correction; validate each
    against HMC and tabulate acceptance, ESS, tau_int(|M|), the cost per independent
    configuration and when training pays off. Finished rows in --out-dir are reused."""
    from qcdgen.cli.formatting import print_json
    from qcdgen.io import check_writable
    from qcdgen.lattice.compare_samplers import CompareSettings, compare_samplers

    settings = CompareSettings(
        sizes=parse_list(args.size, "--size", int, "integers >= 2"),
        kappas=parse_list(args.kappa, "--kappa", float, "numbers >= 0"), lam=args.lam, dim=args.dim,
        samplers=parse_list(args.samplers, "--samplers", str, "sampler names"), preset=args.preset,
        hmc_configs=args.hmc_configs, proposals=args.proposals, diffusion_steps=args.diffusion_steps,
        flow_steps=args.flow_steps, path_steps=args.path_steps, chains=args.chains, mh_chains=args.mh_chains,
        max_abs_pull=args.max_pull, seed=args.seed, device=args.device)
    if args.report:
        check_writable(args.report, "HTML report")  # before hours of sampling, not after
    study = compare_samplers(settings, args.out_dir, progress=not args.no_progress)
    if args.report:
        from qcdgen.report.sampler_study import write_study_report

        write_study_report(study, args.report)
    if args.json:
        print_json(study.to_dict())
        return 0
    print(study.format())
    print(f"\nensembles, models and row JSON in {study.out_dir}"
          + (f" ({len(study.reused)} finished rows reused)" if study.reused else "")
          + (f"; report: {args.report}" if args.report else ""))
    return 0
