"""``qcdgen hic ...``: heavy-ion ground truth: generate events, convert simulator files, observe."""

from __future__ import annotations

import sys

from qcdgen.cli import options
from qcdgen.errors import InputError


def register(commands) -> None:
    sub = options.add_command_group(commands, "hic",
                                    "heavy-ion collisions: event generators, file formats, flow observables")

    gen = options.add_command(sub, "generate", run_generate,
                      "generate events (Parquet): real viscous hydro, the blast-wave generator or Pythia 8 Angantyr")
    gen.add_argument("--model", choices=["hydro", "blastwave", "angantyr"], default="blastwave",
                     help="hydro: TRENTo + (2+1)D viscous hydro + Cooper-Frye (seconds per event); "
                          "blastwave: the fast hydro-inspired blast wave (default)")
    gen.add_argument("--system", default="PbPb", help="collision system, e.g. PbPb, AuAu, XeXe, UU, pPb, OO (default PbPb)")
    gen.add_argument("--sqrts", type=float, default=2760.0, help="sqrt(s_NN) in GeV (default 2760)")
    gen.add_argument("--events", type=int, required=True, help="number of events")
    options.add_seed_option(gen)
    gen.add_argument("--out", required=True, help="output Parquet file")
    gen.add_argument("--eta-s", type=float, default=None, help="shear viscosity over entropy density (hydro, blastwave; default 0.08)")
    gen.add_argument("--beta2", type=float, default=None, help="quadrupole deformation of both nuclei (hydro, blastwave)")
    gen.add_argument("--centrality", default=None, help="centrality class LO-HI in percent, e.g. 0-10 (default minimum bias)")
    gen.add_argument("--positions", action="store_true", help="also store emission points t,x,y,z (hydro, blastwave)")
    gen.add_argument("--chunk-events", type=int, default=100, help="events per chunk / resume unit (default 100)")
    gen.add_argument("--eos", choices=["lattice", "first_order", "conformal"], default=None,
                     help="hydro equation of state (default lattice: HotQCD + hadron gas; first_order: bag model, Tc 170 MeV)")
    gen.add_argument("--oversample", type=int, default=None,
                     help="(initial profile, final state) pairs: also write each event's charged dN/(dy pT dpT dphi) "
                          "averaged over K extra particlizations of the same fluid to OUT.profiles.h5 (hydro, blastwave; "
                          "blastwave writes profiles only when this is given)")
    options.add_run_options(gen, seed=False, device=False)

    observe = options.add_command(sub, "observe", run_observe,
                          "multiplicities, spectra, flow cumulants, pT fluctuations of an event file")
    observe.add_argument("file", help="Parquet event file (qcdgen hic generate / convert)")
    observe.add_argument("--json", action="store_true", help='print {"observables": {NAME: {"value", "error"}}}')
    observe.add_argument("--plots", default=None, help="directory for PNG plots (created if missing)")
    observe.add_argument("--centrality-classes", default=None,
                         help="comma-separated classes, e.g. 0-5,5-10,10-20 (default: ALICE classes 0-5 ... 70-80)")
    observe.add_argument("--errors", choices=["jackknife", "bootstrap"], default="jackknife")

    tr = options.add_command(sub, "train", run_train,
                     "train the event surrogate p(event | conditions) on event files from any simulator")
    tr.add_argument("files", nargs="+", help="Parquet event files (qcdgen hic generate / convert)")
    tr.add_argument("--condition", default="", help="comma-separated event fields to condition on, e.g. eta_s,b")
    tr.add_argument("--out", required=True, help="model file (.pt)")
    tr.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    tr.add_argument("--batch-events", type=int, default=32)
    tr.add_argument("--k-particles", type=int, default=256, help="particles subsampled per event and step")
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--eta-max", type=float, default=None, help="keep only |eta| < ETA_MAX (default: all)")
    tr.add_argument("--max-events", type=int, default=None)
    options.add_run_options(tr, restart=True)

    sa = options.add_command(sub, "sample", run_sample, "generate events with a trained surrogate (Parquet)")
    sa.add_argument("model", help="model file from qcdgen hic train / finetune")
    sa.add_argument("--out", required=True, help="output Parquet event file")
    sa.add_argument("--events", type=int, default=None, help="number of events (default with --like: all)")
    sa.add_argument("--condition", default=None, help="e.g. eta_s=0.1,b=8 (every model condition)")
    sa.add_argument("--like", default=None, help="take the conditions event by event from this reference file")
    sa.add_argument("--ode-steps", type=int, default=8, help="flow-matching integration steps (default 8)")
    sa.add_argument("--solver", choices=["heun", "euler"], default="heun")
    options.add_run_options(sa)

    ft = options.add_command(sub, "finetune", run_finetune,
                     "adapt a trained surrogate to a small new dataset (e.g. 500 events at a new beta2)")
    ft.add_argument("model", help="model file from qcdgen hic train")
    ft.add_argument("files", nargs="+", help="Parquet event files with the same condition fields")
    ft.add_argument("--out", required=True, help="fine-tuned model file (.pt)")
    ft.add_argument("--steps", type=int, default=500)
    ft.add_argument("--lr", type=float, default=1e-4)
    ft.add_argument("--parts", choices=["all", "decoder"], default="all",
                    help="all: adapt everything; decoder: freeze the encoder")
    ft.add_argument("--batch-events", type=int, default=32)
    ft.add_argument("--k-particles", type=int, default=256)
    ft.add_argument("--max-events", type=int, default=None)
    options.add_run_options(ft, restart=True)

    val = options.add_command(sub, "validate", run_validate,
                      "judge generated events against reference events by physics (HTML/JSON report)")
    val.add_argument("generated", help="generated Parquet event file (qcdgen hic sample)")
    val.add_argument("--reference", required=True, help="reference Parquet event file (the simulator)")
    val.add_argument("--report", default=None, help="write a self-contained HTML report here")
    val.add_argument("--json", action="store_true", help='print {"passed", "rows": [...]} as JSON')
    val.add_argument("--centrality-classes", default=None, help="e.g. 0-5,5-10,10-20 (default: ALICE classes with >= 20 events)")
    val.add_argument("--errors", choices=["jackknife", "bootstrap"], default="jackknife")
    val.add_argument("--max-pull", type=float, default=3.0, help="smallest pull threshold (raised for many rows; default 3)")
    val.add_argument("--auc-threshold", type=float, default=0.55)
    val.add_argument("--tolerance", type=float, default=0.05,
                     help="relative accuracy the headline ratios must meet where their errors allow (default 0.05)")
    options.add_run_options(val, device=False)

    convert = options.add_command(sub, "convert", run_convert,
                          "convert OSCAR2013/OSCAR1999/UrQMD f19/HepMC3/JETSCAPE files to Parquet")
    convert.add_argument("input", help="simulator output file (gzip-compressed is read too)")
    convert.add_argument("output", help="Parquet event file to write")
    convert.add_argument("--format", default=None, help="input format (default: detected from the header)")
    options.add_run_options(convert, seed=False, device=False)

    from qcdgen.cli import hic_conditional

    hic_conditional.register(sub)


def _centrality(text):
    if text is None:
        return None
    from qcdgen.hic.initial import parse_centrality

    try:
        return parse_centrality(text)
    except InputError as exc:
        raise InputError(f"--centrality: {exc}") from None


def run_generate(args) -> int:
    """Generate heavy-ion events into a Parquet event file. --model hydro runs TRENTo initial
    states through (2+1)D viscous hydrodynamics, Cooper-Frye particlization and resonance decays,
    and writes each event's initial entropy profile (64x64) to OUT-stem.profiles.h5.
    --model blastwave is a hydro-INSPIRED generator (Glauber-TRENTo geometry, hadron resonance
    gas, blast-wave Cooper-Frye with linear-response flow, resonance decays), not hydrodynamics.
    --model angantyr runs Pythia 8
    Angantyr (needs pip install 'qcdgen[pythia]'), which has no hydrodynamic flow.
    An interrupted run resumes when the same command is rerun."""
    from qcdgen.hic.generation import generate_to_file

    settings = {"system": args.system, "sqrts": args.sqrts, "centrality": _centrality(args.centrality)}
    if args.model in ("hydro", "blastwave"):
        settings |= {"positions": args.positions, "beta2": args.beta2, "oversample": args.oversample}
        if args.eos is not None and args.model != "hydro":
            raise InputError("--eos is a hydro option (--model hydro)")
        if args.eos is not None:
            settings["eos"] = args.eos
        if args.eta_s is not None:
            settings["eta_s"] = args.eta_s
    else:
        settings |= {"eta_s": args.eta_s, "beta2": args.beta2, "positions": args.positions or None,
                     "oversample": args.oversample, "eos": args.eos}
    summary = generate_to_file(args.out, model=args.model, n_events=args.events, seed=args.seed,
                               chunk_events=args.chunk_events, progress=not args.no_progress, **settings)
    resumed = f" ({summary.resumed_chunks} chunks resumed)" if summary.resumed_chunks else ""
    print(f"wrote {summary.n_events} {args.model} events to {summary.path}{resumed}: "
          f"{summary.events_per_second:.1f} events/s, mean multiplicity {summary.mean_multiplicity:.0f}")
    if summary.sidecar is not None:
        print(f"initial entropy profiles{' and spectra' if args.oversample else ''} (keyed by event_id = row) "
              f"in {summary.sidecar}")
    return 0


def _classes(text):
    if text is None:
        return None
    from qcdgen.hic.initial import parse_centrality

    try:
        return [parse_centrality(part) for part in text.split(",") if part.strip()]
    except InputError as exc:
        raise InputError(f"--centrality-classes: {exc}") from None


def run_observe(args) -> int:
    from qcdgen.cli.formatting import print_json
    from qcdgen.hic.centrality import ALICE_CLASSES
    from qcdgen.hic.observables import observe_file

    classes = _classes(args.centrality_classes) or ALICE_CLASSES
    plots = None
    if args.plots:  # refuse a bad output path before reading a single event
        from qcdgen.report.hic_plots import check_plot_dir

        plots = check_plot_dir(args.plots, "--plots")
    summary = observe_file(args.file, centrality_classes=classes, errors=args.errors)
    if plots is not None:
        from qcdgen.report.hic_plots import write_observable_plots

        written = write_observable_plots(summary, plots)
        print(f"wrote {len(written)} plots to {plots}", file=sys.stderr)
    if args.json:
        print_json(summary.to_json_dict())
    else:
        _print_observables(args.file, summary)
    return 0


#: columns of the per-class table of ``qcdgen hic observe``
OBSERVE_CLASS_COLUMNS = ("dNch/deta", "mean_pt", "v2{2}", "v2{4}", "v3{2}", "rho2")


def _value_text(est, flag) -> str:
    """``0.0607(27)``; ``n/a`` for a value reported as NaN; ``*`` marks a flagged value."""
    import math

    if not math.isfinite(est.value):
        return "n/a"
    text = str(est) if math.isfinite(est.error) and est.error > 0 else f"{est.value:.4g} (err n/a)"
    return text + ("*" if flag is not None else "")


def _print_observables(path, summary) -> None:
    """All-events table (value, error, note; no τ_int: events are independent) and, with
    classes, one row per class with events for the headline observables."""
    import math

    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=120)
    table = Table(title=f"{path}: all {summary.n_events} events")
    for column in ("observable", "value", "error", "note"):
        table.add_column(column, justify="left" if column in ("observable", "note") else "right")
    for name, est in summary.observables.items():
        flag = summary.flag(name)
        note = "" if flag is None else flag.brief()
        table.add_row(name, f"{est.value:.6g}" if math.isfinite(est.value) else "n/a",
                      f"{est.error:.2g}" if math.isfinite(est.error) else "n/a", note)
    console.print(table)
    rows = [lab for lab in summary.class_labels if summary.class_events.get(lab, 0) >= 2]
    if not rows:
        return
    per = Table(title=f"per centrality class ({summary.centrality_source} centrality)")
    per.add_column("class")
    per.add_column("events", justify="right")
    for name in OBSERVE_CLASS_COLUMNS:
        per.add_column(name, justify="right")
    for lab in rows:
        obs = summary.per_class[lab]
        per.add_row(lab, str(summary.class_events[lab]),
                    *(_value_text(obs[n], summary.flag(n, lab)) if n in obs else "-" for n in OBSERVE_CLASS_COLUMNS))
    console.print(per)
    empty = len(summary.classes) - len(rows)
    print("n/a: undefined or impossible value (nulled); *: flagged (few events, unresolved or error n/a).")
    print("Details: the warnings above, and \"flag\"/\"reason\" of each observable in --json."
          + (f" {empty} classes with < 2 events not shown." if empty else ""))


def _report_fit(fit, what: str) -> None:
    last = {t: float(v[-1]) for t, v in fit.terms.items() if len(v)}
    terms = ", ".join(f"{t} {v:.4g}" for t, v in last.items())
    print(f"{what} {fit.path}: {int(fit.steps[-1]) + 1 if len(fit.steps) else 0} steps in {fit.seconds:.0f} s; "
          f"final loss terms: {terms}")


def run_train(args) -> int:
    """PointNet encoder -> latent z, zuko flow prior p(z|c), negative-binomial multiplicity,
    species head and flow-matching momentum decoder. Checkpoints to OUT.ckpt.pt and resumes
    when the same command is rerun. Multi-GPU: torchrun --nproc_per_node=K -m qcdgen hic train ...
    --device cuda."""
    from qcdgen.hic.surrogate.pipeline import train_pipeline

    fit = train_pipeline(args.files, conditions=args.condition, out=args.out, steps=args.steps,
                         batch_events=args.batch_events, k_particles=args.k_particles, lr=args.lr,
                         eta_max=args.eta_max, max_events=args.max_events, seed=args.seed, device=args.device,
                         progress=not args.no_progress, resume=not args.restart)
    _report_fit(fit, "trained")
    return 0


def run_finetune(args) -> int:
    from qcdgen.hic.surrogate.pipeline import finetune_pipeline

    fit = finetune_pipeline(args.model, args.files, out=args.out, steps=args.steps, lr=args.lr, parts=args.parts,
                            batch_events=args.batch_events, k_particles=args.k_particles,
                            max_events=args.max_events, seed=args.seed, device=args.device,
                            progress=not args.no_progress, resume=not args.restart)
    _report_fit(fit, "fine-tuned")
    return 0


def run_sample(args) -> int:
    from qcdgen.hic.surrogate.pipeline import sample_pipeline

    s = sample_pipeline(args.model, out=args.out, events=args.events, condition=args.condition, like=args.like,
                        n_steps=args.ode_steps, solver=args.solver, seed=args.seed, device=args.device,
                        progress=not args.no_progress)
    print(f"wrote {s.n_events} surrogate events to {s.path}: {s.events_per_second:.1f} events/s, "
          f"mean multiplicity {s.mean_multiplicity:.0f}")
    return 0


def run_validate(args) -> int:
    """Per centrality class and species: multiplicities, dN/dy, <pT>, pT spectra, v2{2}, v3{2},
    v2{4}, pT fluctuations as generated/reference ratios with errors and pulls, chi2/ndf with
    jackknife correlations, and a classifier two-sample test (AUC). Exit code 0 = pass, 1 = fail."""
    from qcdgen.cli.formatting import print_validation
    from qcdgen.report.pipelines import validate_events

    result = validate_events(args.generated, args.reference, centrality_classes=_classes(args.centrality_classes),
                             report=args.report, errors=args.errors, seed=args.seed, max_abs_pull=args.max_pull,
                             auc_threshold=args.auc_threshold, tolerance=args.tolerance,
                             progress=not args.no_progress)
    return print_validation(result, args.report, args.json)


def run_convert(args) -> int:
    from qcdgen.hic.formats import convert

    n = convert(args.input, args.output, format=args.format, progress=not args.no_progress)
    print(f"wrote {n} events to {args.output}")
    return 0
