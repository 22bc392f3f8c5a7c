"""2D XY model: CAN + independence Metropolis against Wolff, and the cost per independent configuration.

For L = 8, 16 and T = 0.7, 0.9, 1.1 (below, near and above T_KT ≈ 0.893) every row has

- a Wolff ensemble (clusters + over-relaxation + Metropolis, :mod:`qcdgen.lattice.xy.wolff`): the reference;
- a plain Metropolis run (``--clusters 0 --overrelax 0``): its τ_int and cost only;
- the continuous autoregressive network (Wang et al., CPL 39 (2022) 120502) trained by reverse KL and
  corrected by independence Metropolis, compared with Wolff: energy per site e, helicity modulus Υ and
  vortex density ρ_v, pull = (CAN − Wolff)/√(σ²_CAN + σ²_Wolff), Γ-method errors on both sides.

The CANs are annealed: at L = 8 the first T (1.1) is trained from scratch, each lower T starts from the
weights of the one above; the L = 16 nets are fine-tuned from the L = 8 net at the same T (the masked
convolutions do not depend on L). Cost per independent configuration = 2 τ_int / (configurations per CPU second), τ_int
the larger of τ_int(|M|) and τ_int(e) (Γ method; for CAN+MH τ_int(|M|) of the Metropolis chain), and for the
CAN also (training + sampling CPU seconds) / (N / 2τ_int), the training amortised over this one ensemble
(the training CPU seconds include the stages the net was annealed from). Times are CPU seconds of this
single-threaded process (``time.process_time``), so a busy shared machine does not inflate them.

    OMP_NUM_THREADS=1 python benchmarks/bench_xy.py            # the table (tens of CPU minutes)
    OMP_NUM_THREADS=1 python benchmarks/bench_xy.py --quick    # L = 8 only, short runs: a few minutes
    OMP_NUM_THREADS=1 python benchmarks/bench_xy.py --preset long --sizes 8   # 5-12x more CAN training (~17 min)

Per-row JSON, ensembles and models go to benchmarks/results/bench_xy/ (a rerun reuses finished rows); the
table is rewritten after every row to ``--out`` (default benchmarks/results_xy.txt); the vortex figure
(the last of 4 Wolff configurations on L = 32 at T = 0.7, 0.85 < T_KT and 1.1 > T_KT;
``--figure-only`` draws just that) to benchmarks/results/xy_vortices.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("QCDGEN_THREADS", "1")

import torch  # noqa: E402

from qcdgen.io import atomic_write_text, read_ensemble  # noqa: E402
from qcdgen.lattice.xy import XYAction  # noqa: E402
from qcdgen.lattice.xy.observables import measure_xy  # noqa: E402
from qcdgen.lattice.xy.wolff import WolffSettings, generate_wolff_ensemble  # noqa: E402

HERE = Path(__file__).parent
MIN_INDEPENDENT = 50  # as qcdgen lattice validate: below N/(2 tau_int) = 50 the Gamma-method errors are not trusted
OBS = (("energy", "e"), ("helicity_modulus", "Υ"), ("vortex_density", "ρ_v"))
PRESETS = {
    # wolff/metropolis configs; CAN: steps from scratch, annealing steps, L-transfer steps, batch, proposals
    "full": dict(wolff=3000, metro=400, scratch=500, anneal=250, transfer=120, batch=128, batch16=64, proposals=3000),
    "quick": dict(wolff=800, metro=200, scratch=150, anneal=80, transfer=40, batch=64, batch16=32, proposals=800),
    # 5-12x the full preset's training (the full preset's L = 8 rows at T = 0.7, 1.1 are under-trained)
    "long": dict(wolff=3000, metro=400, scratch=2500, anneal=1500, transfer=1500, batch=128, batch16=64, proposals=6000),
}


def _cpu() -> float:
    return time.process_time()


def _estimates(path: Path) -> dict:
    ens = read_ensemble(path)
    action = XYAction.from_dict(ens.attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = measure_xy(ens.field("cpu"), action, chains=ens.chain)
    return {k: {"value": v.value, "error": v.error, "tau_int": v.tau_int} for k, v in est.items()}


def run_markov(path: Path, settings: WolffSettings) -> dict:
    """A Wolff or Metropolis run: estimates, τ_int and CPU seconds per independent configuration."""
    if path.exists():
        path.unlink()
    cpu, wall = _cpu(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = generate_wolff_ensemble(path, settings, progress=False)
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
    tau = max(r.tau_int.value, r.tau_int_energy.value)
    cpu_per_step = r.seconds["production"] * (cpu / wall) / r.steps  # CPU s per chain step (load-corrected)
    return {"sampler": settings.sampler, "tau_int_steps": tau, "tau_abs_m": r.tau_int.value,
            "tau_abs_m_error": r.tau_int.error, "tau_e": r.tau_int_energy.value, "clusters": r.clusters,
            "separation": r.separation, "cpu_seconds": cpu, "cost": 2.0 * tau * cpu_per_step,
            "estimates": _estimates(path)}


def train_can(out: Path, size: int, temperature: float, steps: int, batch: int, seed: int, init: Path | None,
              init_size: int | None) -> float:
    """Train (or fine-tune) a CAN; returns the CPU seconds. ``init`` of another L is re-sized first."""
    from qcdgen.lattice.samplers import load_sampler_model, save_sampler_model, train_lattice_sampler
    from qcdgen.lattice.xy.can import CAN

    if init is not None and init_size != size:  # the masked convolutions are the same at any L
        start = load_sampler_model(init, "cpu", "xy-can")
        s = start.settings
        net = CAN(size, channels=s.channels, depth=s.depth, kernel_size=s.kernel_size, components=s.components)
        net.load_state_dict(start.module.state_dict())
        resized = out.with_name(out.stem + ".init.pt")
        save_sampler_model(resized, dataclasses.replace(start, module=net,
                                                        action=XYAction(size=size, temperature=temperature)))
        init = resized
    cpu = _cpu()
    train_lattice_sampler("xy-can", XYAction(size=size, temperature=temperature), out,
                          dict(steps=steps, batch_size=batch, lr=3e-3 if init is None else 1e-3,
                               warmup=50 if init is None else 10, seed=seed, eval_samples=512),
                          progress=False, init=init)
    return _cpu() - cpu


def run_can(model: Path, out: Path, proposals: int, seed: int) -> dict:
    from qcdgen.lattice.samplers import sample_lattice_sampler

    if out.exists():
        out.unlink()
    cpu = _cpu()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = sample_lattice_sampler(model, out, dict(configs=proposals, batch_size=500, seed=seed), sampler="xy-can",
                                   progress=False)
    cpu = _cpu() - cpu
    est = _estimates(out)
    tau_m = getattr(r.tau_int, "value", r.tau_int)
    taus = [x for x in (tau_m, est["energy"]["tau_int"]) if math.isfinite(x)]
    tau = max(taus, default=math.nan)
    return {"acceptance": r.acceptance, "tau_int": tau, "tau_abs_m": tau_m, "ess": r.importance_ess,
            "cpu_seconds": cpu, "cost": 2.0 * tau * cpu / proposals, "estimates": est}


def run_row(size: int, temperature: float, p: dict, work: Path, seed: int, train_cpu: dict) -> dict:
    tag = f"L{size}_T{temperature:g}"
    cached = work / f"{tag}.json"
    if cached.exists():
        row = json.loads(cached.read_text())
        train_cpu[(size, temperature)] = row["can"]["train_cpu_cumulative"]
        return row
    print(f"[{time.strftime('%H:%M:%S')}] {tag}: Wolff", flush=True)
    wolff = run_markov(work / f"{tag}_wolff.h5", WolffSettings(size=size, temperature=temperature,
                                                               configs=p["wolff"], chains=4, seed=seed))
    print(f"[{time.strftime('%H:%M:%S')}] {tag}: Metropolis", flush=True)
    metro = run_markov(work / f"{tag}_metro.h5", WolffSettings(size=size, temperature=temperature, configs=p["metro"],
                                                               chains=4, seed=seed + 1, clusters=0, overrelax=0))
    temps = sorted({t for (_, t) in train_cpu} | {temperature}, reverse=True)
    above = [t for t in temps if t > temperature and (size, t) in train_cpu]
    model = work / f"{tag}_can.pt"
    if size != 8 and (8, temperature) in train_cpu:  # transfer from L = 8 at this T
        init, init_size, steps = work / f"L8_T{temperature:g}_can.pt", 8, p["transfer"]
        before = train_cpu[(8, temperature)]
    elif above:  # anneal from the next higher T at this L
        t0 = min(above)
        init, init_size, steps = work / f"L{size}_T{t0:g}_can.pt", size, p["anneal"]
        before = train_cpu[(size, t0)]
    else:
        init, init_size, steps, before = None, None, p["scratch"], 0.0
    batch = p["batch"] if size <= 8 else p["batch16"]
    print(f"[{time.strftime('%H:%M:%S')}] {tag}: CAN training {steps} steps (init {init.name if init else 'none'})",
          flush=True)
    cpu = train_can(model, size, temperature, steps, batch, seed, init, init_size)
    train_cpu[(size, temperature)] = before + cpu
    print(f"[{time.strftime('%H:%M:%S')}] {tag}: CAN sampling", flush=True)
    can = run_can(model, work / f"{tag}_can.h5", p["proposals"], seed + 2)
    can.update(proposals=p["proposals"], train_steps=steps, train_cpu=cpu, train_cpu_cumulative=before + cpu,
               init=init.name if init else None)
    n_ind = p["proposals"] / (2.0 * max(can["tau_int"], 0.5))
    can["cost_amortised"] = (can["train_cpu_cumulative"] + can["cpu_seconds"]) / n_ind
    pulls = {}
    for name, _ in OBS:
        a, b = can["estimates"][name], wolff["estimates"][name]
        sigma = math.hypot(a["error"], b["error"])
        pulls[name] = (a["value"] - b["value"]) / sigma if sigma > 0 else math.nan
    row = {"size": size, "temperature": temperature, "wolff": wolff, "metropolis": metro, "can": can, "pulls": pulls}
    atomic_write_text(cached, json.dumps(row, indent=1))
    return row


def _fmt(est: dict) -> str:
    err = est["error"]
    if not err > 0:
        return f"{est['value']:.4f}(0)"
    digits = max(0, -int(math.floor(math.log10(err))) + 1)
    return f"{est['value']:.{digits}f}({round(err * 10 ** digits):d})"


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "A. CAN + independence Metropolis against Wolff (pull = (CAN - Wolff)/sqrt(s1^2 + s2^2))", ""]
    head = f"{'L':>3} {'T':>4} | " + " | ".join(f"{sym + ' Wolff':>14} {sym + ' CAN+MH':>14} {'pull':>5}"
                                                 for _, sym in OBS) + f" | {'acc':>5} {'N_ind':>6}"
    lines += [head, "-" * len(head)]
    for r in rows:
        cells = [f"{_fmt(r['wolff']['estimates'][n]):>14} {_fmt(r['can']['estimates'][n]):>14} {r['pulls'][n]:+5.2f}"
                 for n, _ in OBS]
        n_ind = r["can"]["proposals"] / (2.0 * max(r["can"]["tau_int"], 0.5)) if "proposals" in r["can"] else math.nan
        flag = "  < 50 independent: errors not trustworthy" if n_ind < MIN_INDEPENDENT else ""
        lines.append(f"{r['size']:>3} {r['temperature']:>4g} | " + " | ".join(cells)
                     + f" | {r['can']['acceptance']:5.3f} {n_ind:6.0f}{flag}")
    lines += ["", "B. Cost per independent configuration (CPU s, 1 thread); tau_int in steps (Wolff/Metropolis: "
              "max of |M| and e) or proposals (CAN+MH)", ""]
    head = (f"{'L':>3} {'T':>4} | {'tau Wolff':>9} {'Wolff':>9} | {'tau Metro':>9} {'Metro':>9} | {'tau CAN':>8} "
            f"{'CAN+MH':>9} {'train s':>8} {'CAN amort.':>10}")
    lines += [head, "-" * len(head)]
    for r in rows:
        w, m, c = r["wolff"], r["metropolis"], r["can"]
        lines.append(f"{r['size']:>3} {r['temperature']:>4g} | {w['tau_int_steps']:9.2f} {w['cost']:9.2e} | "
                     f"{m['tau_int_steps']:9.1f} {m['cost']:9.2e} | {c['tau_int']:8.2f} {c['cost']:9.2e} "
                     f"{c['train_cpu_cumulative']:8.0f} {c['cost_amortised']:10.2e}")
    lines += ["", "CAN rows: training steps (init) / importance ESS per proposal:"]
    lines += [f"  L={r['size']} T={r['temperature']:g}: {r['can']['train_steps']} steps from "
              f"{r['can']['init'] or 'scratch'}, ESS/N = {r['can']['ess']:.3f}" for r in rows]
    return "\n".join(lines) + "\n"


def vortex_figure(work: Path, out: Path, size: int = 32, temperatures=(0.7, 0.85, 1.1), seed: int = 0) -> Path:
    """Wolff configurations on L = ``size`` at each T, drawn by :func:`qcdgen.report.xy_plots.write_vortex_plot`."""
    from qcdgen.report.xy_plots import write_vortex_plot

    panels = {}
    for t in temperatures:
        path = work / f"vortex_L{size}_T{t:g}.h5"
        if not path.exists():
            generate_wolff_ensemble(path, WolffSettings(size=size, temperature=t, configs=4, chains=2, seed=seed,
                                                        thermalize=400, separation=1), progress=False)
        panels[t] = read_ensemble(path).field("cpu")[-1].numpy()
    return write_vortex_plot(panels, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="L = 8 only, short runs (an end-to-end check)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="training/statistics preset (default full; --quick = quick; long: 5-12x more training)")
    parser.add_argument("--sizes", default=None, help="comma-separated L (default 8,16; --quick: 8)")
    parser.add_argument("--temperatures", default="1.1,0.9,0.7")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=None, help="per-row JSON, ensembles, models (default benchmarks/results/"
                                                     "bench_xy[_quick])")
    parser.add_argument("--out", default=None, help="table (default benchmarks/results_xy[_quick].txt)")
    parser.add_argument("--figure", default=None, help="vortex figure PNG (default benchmarks/results/xy_vortices.png)")
    parser.add_argument("--no-figure", action="store_true")
    parser.add_argument("--figure-only", action="store_true", help="only the vortex figure (about a CPU minute)")
    parser.add_argument("--table-only", action="store_true", help="only the table of the rows already finished")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    preset = args.preset or ("quick" if args.quick else "full")
    p = PRESETS[preset]
    sizes = [int(s) for s in (args.sizes or ("8" if preset == "quick" else "8,16")).split(",")]
    temps = sorted((float(t) for t in args.temperatures.split(",")), reverse=True)
    suffix = "" if preset == "full" else f"_{preset}"
    work = Path(args.work or HERE / "results" / f"bench_xy{suffix}")
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or HERE / f"results_xy{suffix}.txt")
    header = (f"XY benchmark ({preset}): Wolff {p['wolff']} configs, Metropolis {p['metro']}, CAN {p['proposals']} "
              f"proposals; torch {torch.__version__}, {torch.get_num_threads()} thread; started "
              f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
    if args.table_only:
        rows = []
        for size in sizes:
            for t in temps:
                cached = work / f"L{size}_T{t:g}.json"
                if cached.exists():
                    row = json.loads(cached.read_text())
                    row["can"].setdefault("proposals", p["proposals"])
                    rows.append(row)
        text = table(rows, header.replace("started", "table of the cached rows in " + str(work) + ", rendered")
                     + f"; {len(rows)}/{len(sizes) * len(temps)} rows done")
        atomic_write_text(out, text)
        print(text)
        return 0
    if not args.no_figure:
        fig = vortex_figure(work, Path(args.figure or HERE / "results" / "xy_vortices.png"), seed=args.seed)
        print(f"wrote {fig}", flush=True)
    if args.figure_only:
        return 0
    rows, train_cpu = [], {}
    for size in sizes:
        for t in temps:
            rows.append(run_row(size, t, p, work, args.seed, train_cpu))
            text = table(rows, header + f"; {len(rows)}/{len(sizes) * len(temps)} rows done")
            atomic_write_text(out, text)
            print(text, flush=True)
    bad = [r for r in rows for n, _ in OBS if not abs(r["pulls"][n]) < 3.0]
    print(f"saved {out}; {len(bad)} |pull| >= 3")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
