"""``qcdgen infer npe`` and ``qcdgen infer posterior``: amortised neural posterior estimation."""

from __future__ import annotations

import sys

from qcdgen.cli import options


def register_npe(sub) -> None:
    """Add the two NPE commands to the ``qcdgen infer`` subparsers ``sub``."""
    npe = options.add_command(sub, "npe", run_npe,
                              "train a neural posterior estimator (conditional normalizing flow) on a campaign")
    npe.add_argument("runs", help="campaign directory (qcdgen infer simulate)")
    npe.add_argument("--out", required=True, help="NPE file (.pt)")
    npe.add_argument("--bags", type=int, default=None, metavar="K",
                     help="train on bags of K events from each point's event_features.csv (a DeepSet encoder) "
                          "instead of the per-point observables")
    npe.add_argument("--epochs", type=int, default=200, help="most training epochs (early stopping; default 200)")
    npe.add_argument("--sbc", type=int, default=0, metavar="N",
                     help="hold out N design points and run simulation-based calibration on them (default 0: none)")
    npe.add_argument("--observables", default=None, help="comma-separated observable names (default: all usable)")
    options.add_run_options(npe, device=False)

    po = options.add_command(sub, "posterior", run_posterior, "posterior samples of a trained NPE given data")
    po.add_argument("npe", help="NPE file (qcdgen infer npe)")
    po.add_argument("data", help="CSV observable,class,value,error (an event-feature table for a --bags NPE), "
                    "or a shipped table's name (alice-pbpb2760)")
    po.add_argument("--samples", type=int, default=10000, help="posterior draws (default 10000)")
    po.add_argument("--out", default=None, help="posterior samples (CSV)")
    options.add_seed_option(po)


def run_npe(args) -> int:
    """Neural posterior estimation: a conditional neural spline flow q(theta | x) (zuko) trained on the
    campaign's (parameters, observables) pairs, or with --bags K on bags of K events through a
    permutation-invariant DeepSet encoder. The prior is the design's box. Amortised: a new
    observation then costs milliseconds (qcdgen infer posterior). --sbc N holds out N design points
    and prints rank-uniformity p-values and the expected coverage on them."""
    from qcdgen.inference.npe import npe_runs

    names = [t.strip() for t in args.observables.split(",") if t.strip()] if args.observables else None
    res, sbc = npe_runs(args.runs, args.out, bags=args.bags, epochs=args.epochs, seed=args.seed, sbc=args.sbc,
                        observables=names, progress=not args.no_progress)
    s, info = res.summary(), res.info
    what = f"bags of {args.bags} events" if args.bags else f"{len(res.model.inputs)} observables"
    print(f"NPE of {', '.join(res.model.names)} from {info['pairs']} simulations ({what}, "
          f"{info['train_points']} design points): trained in {s['train_seconds']:.1f} s, {s['epochs_run']} epochs, "
          f"best validation loss {s['best_val_loss']:.3f} at epoch {s['best_epoch']}")
    if sbc is not None:
        p = ", ".join(f"{n} {v:.3g}" for n, v in zip(res.model.names, sbc.p_values))
        cov = ", ".join(f"{100 * a:.0f}%: " + "/".join(f"{100 * c:.0f}" for c in v) for a, v in sbc.coverage.items())
        print(f"SBC on {len(sbc.ranks)} held-out points ({sbc.n_posterior} draws each): rank uniformity p {p} "
              f"-> {'passed' if sbc.passed() else 'FAILED'}; expected coverage {cov}")
        if len(sbc.ranks) < 200:
            print(f"note: {len(sbc.ranks)} held-out points give a weak test; 200 or more are recommended")
    print(f"wrote {args.out}")
    return 0


def run_posterior(args) -> int:
    """Draws from the trained NPE's q(theta | data): one network pass, no MCMC. The data's error
    column is not used (the NPE learned the simulator's own noise); every observable the NPE was
    trained on must be in the data, and no other. Prints mean, standard deviation and 68%/95%
    intervals, and the time the draws took."""
    from qcdgen.cli.infer import data_path
    from qcdgen.inference.npe import posterior_file

    r = posterior_file(args.npe, data_path(args.data), samples=args.samples, seed=args.seed, out=args.out)
    if r.used_events is not None and r.total_events != r.used_events:
        print(f"note: the NPE was trained on bags of {r.used_events} events; using the first {r.used_events} "
              f"of {r.total_events}")
    print(f"{'parameter':>16s} {'mean':>10s} {'std':>10s} {'68% interval':>24s} {'95% interval':>24s}")
    for s in r.summary():
        print(f"{s['parameter']:>16s} {s['mean']:10.4g} {s['std']:10.3g} "
              f"{'[%.4g, %.4g]' % (s['lo68'], s['hi68']):>24s} {'[%.4g, %.4g]' % (s['lo95'], s['hi95']):>24s}")
    print(f"{len(r.samples)} posterior draws in {r.milliseconds:.1f} ms (amortised: no training, no MCMC)")
    if args.out:
        print(f"wrote {args.out}")
    sys.stdout.flush()
    return 0
