"""Flow matching and the Schrödinger bridge against HMC: 2D φ⁴ at λ = 0.022, L = 8 and 16, with pulls.

Runs :func:`qcdgen.lattice.compare_samplers.compare_samplers` (the ``study`` preset, the settings of
benchmarks/bench_samplers.py and of the VE diffusion rows in RESULTS.md) for plain HMC (the
reference), Fourier-accelerated HMC (the training data, independent of the reference) and the two
transport samplers: ``flow-matching`` (linear interpolant) and ``schrodinger-bridge`` ([SF]²M bridge
matching, σ = 0.5, minibatch Sinkhorn coupling), each trained on the HMC-FA ensemble with the diffusion
sampler's network and budget, sampled by its ODE with exact log q (L ≤ 16: ≤ 256 sites) and corrected
by independence Metropolis. Every corrected ensemble is validated against plain HMC (pull of every
observable, memorisation check); the table of pulls is printed per (L, κ).

    python benchmarks/bench_transport.py                   # kappa = 0.21 (L = 8, 16), then 0.265 (L = 8, 16)
    python benchmarks/bench_transport.py --samplers hmc,hmc-fa,diffusion,flow-matching,schrodinger-bridge
    python benchmarks/bench_transport.py --quick           # about a minute: L = 4 free field, quick preset

Rows run one at a time; after each one the tables so far are written to ``--table``
(default benchmarks/results_transport.txt). Ensembles, models and row JSON go to ``--out-dir``
(benchmarks/results/transport/): a rerun resumes there, reading finished rows back.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

from qcdgen.io import atomic_write_text
from qcdgen.lattice.compare_samplers import CompareSettings, compare_samplers
from qcdgen.lattice.compare_samplers.settings import HMC_SAMPLERS, REFERENCE
from qcdgen.lattice.validation import validate_ensembles

HERE = Path(__file__).parent
#: observables of the pull table (all of them enter each row's PASS/FAIL; these are printed)
SHOWN = ("abs_m", "m2", "chi2_abs", "binder", "phi2", "action_density", "kappa4", "G_r1", "xi2")


def pull_table(rows, max_abs_pull: float) -> str:
    """Reference (plain HMC) and every validated sampler side by side: value ± error (pull) per observable."""
    ref = next(r for r in rows if r.sampler == REFERENCE)
    others = [r for r in rows if r.sampler != REFERENCE]
    tables = {}
    for r in others:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = validate_ensembles(r.ensemble, ref.ensemble, max_abs_pull=max_abs_pull)
        tables[r.sampler] = ({c.observable: c for c in result.table.rows}, result)
    names = [n for n in SHOWN if n in tables.get(others[0].sampler, ({},))[0]] if others else []
    head = f"{'observable':<15}{'hmc (reference)':>22}" + "".join(f"{s:>38}" for s in tables)
    lines = [head, "-" * len(head)]
    for name in names:
        first = tables[others[0].sampler][0][name]
        line = f"{name:<15}{first.reference:>13.6g} ± {first.reference_error:<7.2g}"
        for s, (cells, _) in tables.items():
            c = cells.get(name)  # an observable without a finite estimate is left out of that table
            line += f"{'-':>38}" if c is None else f"{c.generated:>20.6g} ± {c.generated_error:<7.2g}({c.pull:+5.2f})"
        lines.append(line)
    def verdict(res):
        chi2, ndf = res.table.chi2()
        worst = max(abs(c.pull) for c in res.table.rows)
        return f"chi2/ndf {chi2:.1f}/{ndf}, max|pull| {worst:.2f} {'PASS' if res.passed else 'FAIL'}"

    lines.append(f"{'all observables':<37}" + "".join(f"{verdict(res):>38}" for _, res in tables.values()))
    checks = {s: ", ".join(f"{c.name} {'ok' if c.passed else 'FAILED'}" for c in res.checks)
              for s, (_, res) in tables.items()}
    lines.append(f"{'checks':<37}" + "".join(f"{v:>38}" for v in checks.values()))
    return "\n".join(lines)


def report(header: str, settings: CompareSettings, studies: list) -> str:
    from qcdgen.lattice.compare_samplers import SamplerStudy, assign_payoffs

    rows = [r for st in studies for r in st.rows]
    assign_payoffs(rows)
    out = [header, "", SamplerStudy(settings=settings, rows=rows, out_dir=Path("."), reused=[]).format()]
    for st in studies:
        if len(st.rows) > 1:
            r0 = st.rows[0]
            out += ["", f"Pulls against plain HMC, L = {r0.size}, kappa = {r0.kappa:g}, lambda = {settings.lam:g} "
                        f"(value ± error (pull); Gamma-method errors)", pull_table(st.rows, settings.max_abs_pull)]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,16")
    parser.add_argument("--kappas", default="0.21,0.265")
    parser.add_argument("--lam", type=float, default=0.022)
    parser.add_argument("--samplers", default="hmc,hmc-fa,flow-matching,schrodinger-bridge")
    parser.add_argument("--preset", choices=["quick", "study"], default="study")
    parser.add_argument("--quick", action="store_true", help="end-to-end check: L = 4, kappa = 0.2, lambda = 0, "
                                                             "quick preset, table to benchmarks/results/transport_quick.txt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out-dir", help="ensembles, models and row JSON (a rerun resumes; default "
                                          "benchmarks/results/transport/)")
    parser.add_argument("--table", help="tables so far, rewritten after every row (default benchmarks/results_transport.txt)")
    parser.add_argument("--progress", action="store_true", help="progress bars (default: one line per row)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.kappas, args.lam, args.preset = "4", "0.2", 0.0, "quick"
    out_dir = Path(args.out_dir or HERE / "results" / ("transport_quick" if args.quick else "transport"))
    table = Path(args.table or (HERE / "results" / "transport_quick.txt" if args.quick
                                else HERE / "results_transport.txt"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    samplers = tuple(args.samplers.split(","))
    base = CompareSettings(sizes=(4,), kappas=(0.2,), lam=args.lam, samplers=samplers, preset=args.preset,
                           seed=args.seed, device=args.device)  # checks the sampler names
    samplers = base.samplers  # study order, reference first
    header = (f"Transport samplers vs HMC, 2D phi^4, lambda = {args.lam:g}, preset {args.preset}, torch "
              f"{torch.__version__}, {torch.get_num_threads()} thread(s), {platform.processor() or platform.machine()}")
    start, studies, reused, failed = time.perf_counter(), [], 0, False
    points = [(int(s), float(k)) for k in args.kappas.split(",") for s in args.sizes.split(",")]
    for size, kappa in points:  # kappa by kappa: every L at the first kappa before the next kappa
        if True:
            study = None
            for k in range(1, len(samplers) + 1):  # one row at a time: the table is rewritten after each
                if samplers[k - 1] in HMC_SAMPLERS and k < len(samplers) and samplers[k] in HMC_SAMPLERS:
                    continue
                settings = CompareSettings(sizes=(size,), kappas=(kappa,), lam=args.lam, samplers=samplers[:k],
                                           preset=args.preset, seed=args.seed, device=args.device)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # short-chain Gamma-method window warnings
                    study = compare_samplers(settings, out_dir, progress=args.progress)
                done = f"wall {time.perf_counter() - start:.0f} s so far"
                atomic_write_text(table, report(f"{header}; {done}; unfinished", base, studies + [study]))
                print(f"L={size} kappa={kappa:g}: {study.rows[-1].sampler} done ({done})", file=sys.stderr, flush=True)
            studies.append(study)
            reused += len(study.reused)
            failed |= not study.passed
    wall = time.perf_counter() - start
    text = report(f"{header}; wall {wall:.0f} s ({reused} rows reused from {out_dir})", base, studies)
    atomic_write_text(table, text)
    print(text)
    print(f"saved {table}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
