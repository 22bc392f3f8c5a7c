"""``qcdgen infer ...``: design → simulate (Dask) → emulate (PCA + GPs) → calibrate (emcee)."""

from __future__ import annotations

import sys

from qcdgen.cli import options
from qcdgen.errors import InputError


def register(commands) -> None:
    sub = options.add_command_group(commands, "infer",
                                    "Bayesian parameter estimation: design, simulation campaign, emulator, posterior")

    de = options.add_command(sub, "design", run_design, "space-filling maximin Latin hypercube design (CSV)")
    de.add_argument("--param", action="append", required=True, metavar="NAME=LO:HI",
                    help="a parameter and its range, e.g. eta_s=0.02:0.30 (repeat for each parameter)")
    de.add_argument("--points", type=int, required=True, help="number of design points (>= parameters + 1)")
    options.add_seed_option(de)
    de.add_argument("--out", required=True, help="design CSV file")

    si = options.add_command(sub, "simulate", run_simulate,
                             "run the heavy-ion generator at every design point (Dask distributed)")
    si.add_argument("design", help="design CSV (qcdgen infer design)")
    si.add_argument("--model", choices=["hydro", "blastwave", "angantyr", "surrogate"], default="blastwave")
    si.add_argument("--surrogate", default=None, metavar="S.pt",
                    help="trained event surrogate (qcdgen hic train) for --model surrogate; the design's "
                    "parameters must be its conditions, inside their training range")
    si.add_argument("--system", default="PbPb", help="collision system (default PbPb)")
    si.add_argument("--sqrts", type=float, default=2760.0, help="sqrt(s_NN) in GeV (default 2760)")
    si.add_argument("--events", type=int, default=500, help="events per design point (default 500)")
    options.add_seed_option(si)
    si.add_argument("--out", required=True, help="campaign directory (created; rerun to resume)")
    si.add_argument("--workers", type=int, default=None,
                    help="local worker processes (default: one per core, at most one per point; 0: in this process, no Dask)")
    si.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                    help="use a running Dask scheduler instead of a local cluster (shared file system needed)")
    si.add_argument("--connect-timeout", type=float, default=3.0,
                    help="seconds to wait for --scheduler before giving up (default 3)")
    si.add_argument("--centrality-classes", default=None,
                    help="comma-separated classes, e.g. 0-5,5-10 (default: ALICE classes 0-5 ... 70-80)")
    si.add_argument("--no-events", action="store_true", help="delete each point's event file once observed")
    options.add_run_options(si, seed=False, device=False)

    em = options.add_command(sub, "emulate", run_emulate,
                             "PCA + Gaussian-process emulator of a campaign's observables, with validation")
    em.add_argument("runs", help="campaign directory (qcdgen infer simulate)")
    em.add_argument("--out", required=True, help="emulator file (.pt)")
    em.add_argument("--variance", type=float, default=0.99,
                    help="fraction of the variance the kept principal components explain (default 0.99)")
    em.add_argument("--folds", type=int, default=5,
                    help="leave-points-out validation groups (default 5; 0: no validation)")
    em.add_argument("--observables", default=None, help="comma-separated observable names (default: all usable)")
    em.add_argument("--classes", default=None, help="comma-separated class labels, e.g. 0-5%%,20-30%% (default all)")
    em.add_argument("--restarts", type=int, default=2, help="extra random starts of each GP fit (default 2)")
    em.add_argument("--correct-with", default=None, metavar="RUNS",
                    help="multi-fidelity: a campaign of the expensive simulator at a few points; the emulator of "
                         "RUNS (the cheap simulator, e.g. a surrogate) is corrected by a discrepancy fitted to it")
    em.add_argument("--correction", choices=("linear", "constant"), default="linear",
                    help="discrepancy basis in the parameters (default linear; needs more runs than 1 + parameters)")
    options.add_seed_option(em)

    ca = options.add_command(sub, "calibrate", run_calibrate,
                             "posterior of the design parameters given data (emcee), with an HTML report")
    ca.add_argument("emulator", help="emulator file (qcdgen infer emulate)")
    ca.add_argument("data", help="CSV observable,class,value,error (or error_stat,error_sys), or the name of a "
                    "shipped table: alice-pbpb2760 (ALICE Pb-Pb 2.76 TeV)")
    ca.add_argument("--out", required=True, help="posterior samples (CSV)")
    ca.add_argument("--report", default=None, help="HTML report (corner plot, posterior predictive)")
    ca.add_argument("--json", default=None, metavar="FILE", help="also write the summary as JSON")
    ca.add_argument("--truth", default=None, metavar="NAME=VALUE,...",
                    help="known parameters (closure tests): marked in the report, checked against the intervals")
    ca.add_argument("--walkers", type=int, default=None, help="emcee walkers (default max(32, 4 x parameters))")
    ca.add_argument("--max-steps", type=int, default=20000,
                    help="most emcee steps; stops earlier once longer than 50 tau_int (default 20000)")
    options.add_run_options(ca, device=False)

    pr = options.add_command(sub, "predict", run_predict, "emulator prediction (mean and error) at a parameter point")
    pr.add_argument("emulator", help="emulator file (qcdgen infer emulate)")
    pr.add_argument("--at", required=True, metavar="NAME=VALUE,...", help="every parameter of the design")
    pr.add_argument("--observables", default=None, help="comma-separated observable names (default all)")
    pr.add_argument("--json", action="store_true", help="print the prediction as JSON")

    from qcdgen.cli.infer_npe import register_npe

    register_npe(sub)

    from qcdgen.cli.infer_isobars import register_isobars

    register_isobars(sub)


def _names(text):
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def run_design(args) -> int:
    """A maximin Latin hypercube over the box of the --param ranges (Morris-Mitchell phi_p criterion).
    The CSV keeps the ranges as '# range NAME LO HI' lines, so later steps refuse points outside."""
    from qcdgen.inference.design import make_design, min_distance, parse_param, write_design
    from qcdgen.io.atomic import check_writable

    params = [parse_param(p) for p in args.param]
    check_writable(args.out, "design")
    design = make_design(params, args.points, seed=args.seed)
    write_design(args.out, design)
    print(f"wrote {len(design)} design points over {', '.join(design.names)} to {args.out} "
          f"(smallest distance in the unit cube {min_distance(design.box.to_unit(design.points)):.3f})")
    return 0


def run_simulate(args) -> int:
    """Run the generator (as qcdgen hic generate) and the observables (as qcdgen hic observe --json)
    at every design point; each point gets its own seed from --seed and its index, so the results do
    not depend on --workers. Finished points are skipped when the command is rerun."""
    from qcdgen.hic.campaign import simulate_design

    classes = None
    if args.centrality_classes:
        from qcdgen.hic.initial import parse_centrality

        try:
            classes = [parse_centrality(c) for c in args.centrality_classes.split(",") if c.strip()]
        except InputError as exc:
            raise InputError(f"--centrality-classes: {exc}") from None
    s = simulate_design(args.design, args.out, model=args.model, system=args.system, sqrts=args.sqrts,
                        events=args.events, seed=args.seed, workers=args.workers, scheduler=args.scheduler,
                        centrality_classes=classes, keep_events=not args.no_events, progress=not args.no_progress,
                        connect_timeout=args.connect_timeout, surrogate=args.surrogate)
    if s.ran == 0:
        print(f"all {s.n_points} design points in {s.out} are finished; nothing to do")
    else:
        skipped = f" ({s.skipped} finished points skipped)" if s.skipped else ""
        print(f"ran {s.ran} design points in {s.seconds:.1f} s on {s.where}{skipped}; results in {s.out}")
    return 0


def run_emulate(args) -> int:
    """Standardise -> PCA (components explaining --variance) -> one GP per component (anisotropic RBF +
    white noise), the dropped components' variance added back to the predictive covariance (Bernhard
    et al., Nature Phys. 15 (2019) 1113). Leave-points-out validation: printed and written to
    OUT.validation.csv."""
    from qcdgen.inference.emulator import emulate_runs, validation_path

    emu, val = emulate_runs(args.runs, args.out, variance=args.variance, folds=args.folds or None,
                            observables=_names(args.observables), classes=_names(args.classes),
                            seed=args.seed, restarts=args.restarts, correct_with=args.correct_with,
                            correction=args.correction)
    kept = float(sum(emu.explained[:emu.n_components]))
    print(f"emulator of {len(emu.keys)} outputs over {', '.join(emu.box.names)} from {emu.n_train} points: "
          f"{emu.n_components} principal components ({100 * kept:.2f}% of the variance)"
          + (f"; {len(emu.excluded)} outputs left out (undefined or constant)" if emu.excluded else ""))
    if val is not None:
        s = val.summary()
        print(f"leave-points-out ({s['folds']} folds): RMS z {s['rms_z']:.2f}, |z| < 1: {100 * s['within_1sigma']:.0f}% "
              f"(68% expected), |z| < 2: {100 * s['within_2sigma']:.0f}% (95%), median relative error "
              f"{s['median_relative_error']:.2g}; table: {validation_path(args.out)}")
        worst = ", ".join(f"{w['observable']} {w['class']} ({w['rms_z']:.1f})" for w in s["worst"][:3])
        print(f"largest RMS z: {worst}")
    c = emu.info.get("correction")
    if c:
        shifts = sorted(c["relative_shift_at_centre"].items(), key=lambda kv: -abs(kv[1]))[:3]
        print(f"{c['basis']} discrepancy from {c['runs']} expensive runs: chi2/ndf {c['chi2']:.1f}/{c['ndf']}, "
              f"leave-one-out RMS z {c['loo_rms_z']:.2f}; largest shifts at the centre: "
              + ", ".join(f"{k} {100 * v:+.1f}%" for k, v in shifts))
    print(f"wrote {args.out}")
    return 0


def run_calibrate(args) -> int:
    """Posterior p(theta | data) with a Gaussian likelihood (covariance = data + emulator) and a uniform
    prior on the design's box, sampled with emcee; burn-in and thinning from the autocorrelation time.
    Prints median, 68%/95% intervals, MAP, tau_int and split R-hat per parameter, and chi2/ndf at the MAP."""
    from qcdgen.report.inference import run_calibration

    r = run_calibration(args.emulator, data_path(args.data), args.out, report=args.report, json_path=args.json,
                        truth=args.truth, walkers=args.walkers, max_steps=args.max_steps, seed=args.seed,
                        progress=not args.no_progress)
    _print_summary(r)
    wrote = [args.out] + [p for p in (args.report, args.json) if p]
    print(f"wrote {', '.join(wrote)}")
    return 0


def data_path(name: str) -> str:
    """A data file's path; the names of tables shipped with qcdgen (``alice-pbpb2760``) stand for their files."""
    from qcdgen.hic.data import shipped_data_path

    shipped = shipped_data_path(name)
    return name if shipped is None else str(shipped)


def _print_summary(r) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="posterior")
    cols = ["parameter", "median", "68% interval", "95% interval", "MAP", "tau_int", "R-hat"]
    if r.truth is not None:
        cols.append("truth")
    for c in cols:
        table.add_column(c, justify="left" if c == "parameter" else "right")
    for s in r.summary():
        row = [s["parameter"], f"{s['median']:.4g}", f"[{s['lo68']:.4g}, {s['hi68']:.4g}]",
               f"[{s['lo95']:.4g}, {s['hi95']:.4g}]", f"{s['map']:.4g}", f"{s['tau_int']:.1f}", f"{s['rhat']:.3f}"]
        if r.truth is not None:
            row.append(f"{s['truth']:.4g}" + ("" if s["truth_in_95"] else " (outside 95%)"))
        table.add_row(*row)
    Console(file=sys.stdout, width=120).print(table)
    m = r.mcmc
    print(f"emcee: {m.walkers} walkers x {m.steps} steps, burn-in {m.burn}, thin {m.thin}, {len(m.samples)} samples, "
          f"acceptance {m.acceptance:.2f}" + ("" if m.converged else "; NOT converged (chain < 50 tau): raise --max-steps"))
    chi = f"{r.chi2_map / r.ndf:.2f}" if r.ndf > 0 else "n/a"
    print(f"chi2/ndf at the MAP: {r.chi2_map:.2f}/{r.ndf} = {chi}")


def run_predict(args) -> int:
    """The emulator's mean and standard deviation (GP + dropped components) at one parameter point."""
    import numpy as np

    from qcdgen.inference.emulator import load_emulator, select_outputs

    emu = load_emulator(args.emulator)
    theta = emu.box.parse_point(args.at, "--at")
    idx = select_outputs(emu.keys, _names(args.observables), None)
    mean, cov = emu.predict(theta, idx=idx)
    std = np.sqrt(np.diag(cov))
    rows = [{"observable": emu.keys[j][0], "class": emu.keys[j][1], "value": m, "error": s}
            for j, m, s in zip(idx, mean, std)]
    if args.json:
        from qcdgen.cli.formatting import print_json

        print_json({"parameters": dict(zip(emu.box.names, theta.tolist())), "predictions": rows})
    else:
        for r in rows:
            print(f"{r['observable']:>24s} {r['class']:>8s} {r['value']:.6g} +- {r['error']:.2g}")
    return 0
