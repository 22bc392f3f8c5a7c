"""``qcdgen infer isobars features|closure``: Ru/Zr isobar imaging (Cheng et al., PRC 107 (2023) 064909)."""

from __future__ import annotations

import sys

from qcdgen.cli import options
from qcdgen.errors import InputError


def register_isobars(sub) -> None:
    """Add the ``isobars`` group to the ``qcdgen infer`` subparsers ``sub``."""
    grp = options.add_command_group(sub, "isobars", "96Ru/96Zr nuclear-structure imaging: features, closure")

    fe = options.add_command(grp, "features", run_features,
                             "Glauber+TRENTo features of one A=96 isobar per multiplicity bin")
    fe.add_argument("--nucleus", choices=["Ru", "Zr"], default="Zr", help="reference parameter set (default Zr)")
    for name, unit in (("beta2", ""), ("beta3", ""), ("a", " (fm)"), ("R", " (fm)")):
        fe.add_argument(f"--{name}", type=float, default=None, help=f"override {name}{unit} of the reference")
    fe.add_argument("--events", type=int, default=4000, help="events (default 4000)")
    fe.add_argument("--bins", type=int, default=10, help="multiplicity bins, 0-60%% to the top 0.05%% (default 10)")
    fe.add_argument("--ratio", action="store_true",
                    help="also simulate Ru at its reference and print Ru/this-nucleus ratios")
    fe.add_argument("--out", default=None, help="write observable,class,value,error CSV (qcdgen infer calibrate data)")
    options.add_seed_option(fe)

    cl = options.add_command(grp, "closure", run_closure_cmd,
                             "closure: posterior widths of Zr (beta2, beta3, a, R) from absolute features vs Ru/Zr ratios")
    cl.add_argument("--work", required=True, help="work directory (campaign, caches; rerun to resume)")
    cl.add_argument("--quick", action="store_true", help="12 bins, 14 design points, few events (minutes)")
    cl.add_argument("--bins", type=int, default=None, help="multiplicity bins (default 40; --quick 12)")
    cl.add_argument("--points", type=int, default=None, help="design points (default 40; --quick 14)")
    cl.add_argument("--events", type=int, default=None, help="events per design point (default 12000; --quick 3000)")
    cl.add_argument("--out", default=None, help="write the table here")
    options.add_seed_option(cl, default=1)


def run_features(args) -> int:
    """Simulate b-stratified Glauber (hard-disk, sigma_NN at 200 GeV) + TRENTo (p=0, k=2, w=0.5 fm)
    events of an A=96 Woods-Saxon nucleus and print P(N), <eps2^2>, <eps3^2>, <d_perp> per multiplicity
    bin (bins from the Ru reference, so Ru and Zr share them), with statistical errors."""
    import numpy as np

    from qcdgen.inference.data import data_csv_text
    from qcdgen.hic.isobars import (
        REFERENCE,
        bin_features,
        isobar_nucleus,
        multiplicity_edges,
        ratio_features,
        simulate_events,
    )
    from qcdgen.io.atomic import atomic_write_text, check_writable

    if args.out:
        check_writable(args.out, "--out")
    theta = dict(REFERENCE[args.nucleus])
    for k in theta:
        if getattr(args, k) is not None:
            theta[k] = getattr(args, k)
    nuc = isobar_nucleus(**theta, name=args.nucleus)
    ru = simulate_events(isobar_nucleus(**REFERENCE["Ru"], name="Ru"), args.events, args.seed + 1)
    edges = multiplicity_edges(ru, args.bins)
    f = bin_features(simulate_events(nuc, args.events, args.seed), edges)
    if not np.isfinite(f.values).any():
        raise InputError(f"no multiplicity bin has enough events (10) for a feature with --events {args.events}; "
                         "use more")
    tabs = [("", f)] + ([("Ru/", ratio_features(bin_features(ru, edges), f))] if args.ratio else [])
    print(f"{args.nucleus}: " + ", ".join(f"{k}={v:g}" for k, v in theta.items()) + f"; {args.events} events")
    for prefix, t in tabs:
        names = sorted({o for o, _ in t.keys}, key=[o for o, _ in t.keys].index)
        print(f"{prefix + 'bin':>8s} " + " ".join(f"{n:>22s}" for n in names))
        cols = [t.get(n) for n in names]
        for i, (_, c) in enumerate(k for k in t.keys if k[0] == names[0]):
            print(f"{c:>8s} " + " ".join(f"{v[i]:11.4g} ± {e[i]:<8.2g}" for v, e in cols))
    if args.out:
        rows = [(k, v, e) for k, v, e in zip(f.keys, f.values, f.errors) if np.isfinite(v) and np.isfinite(e)]
        atomic_write_text(args.out, data_csv_text(*zip(*rows)))
        print(f"wrote {args.out}")
    sys.stdout.flush()
    return 0


def run_closure_cmd(args) -> int:
    """Closure with Ru fixed at its reference: a maximin design over (beta2, beta3, a, R, norm), a
    resumable campaign of Zr+Zr runs, PCA+GP emulators of the absolute features and of the Ru/Zr
    ratios, and emcee posteriors given Zr pseudo-data at the Zr reference. Prints posterior median
    and width per parameter for each analysis, and whether the ratios constrain it."""
    from qcdgen.hic.isobars import CLOSURE_CONFIGS, run_closure
    from qcdgen.io.atomic import atomic_write_text, check_writable

    if args.out:
        check_writable(args.out, "--out")
    cfg = dict(CLOSURE_CONFIGS["quick" if args.quick else "full"])
    for k in ("bins", "points", "events"):
        if getattr(args, k) is not None:
            cfg[k] = getattr(args, k)
    res = run_closure(args.work, seed=args.seed, log=lambda m: print(m, flush=True), **cfg)
    text = res.table()
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")
        print(f"wrote {args.out}")
    return 0
