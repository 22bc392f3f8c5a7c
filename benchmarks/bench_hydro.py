"""Cost of the (2+1)D viscous hydro per Pb–Pb event, beside the blast-wave (and the surrogate).

    python benchmarks/bench_hydro.py [--quick] [--device cpu|cuda] [--threads 1] [--batch 4]

Per centrality class (0–5 %, 20–30 %) and cell size (0.2, 0.1 fm): one TRENTo Pb–Pb 2.76 TeV
profile (norm 95, τ0 = 0.6 fm, Bjorken start, η/s = 0.08, conformal EoS, b_π = 5) evolved with
:func:`qcdgen.hic.hydro.evolve` on a [−15, 15]² fm grid until the hottest cell is below
T_sw = 0.15 GeV (no particlization: that is the freeze-out helper's cost). Then a batch of
``--batch`` events at dx = 0.2 fm (events/s batched) and, for scale, the blast-wave generator's
seconds per event (it includes its particle sampling). ``--surrogate C.pt`` adds the seconds per
event of a point-cloud surrogate (``qcdgen hic train``, conditioned on b and/or centrality, and
optionally eta_s), sampled with 8 Heun steps at each class's median TRENTo impact parameter (or the
class midpoint); without it that column says n/a. ``--quick``: dx = 0.4 and 0.2 fm, batch 2.
Results go to stdout as a table and to benchmarks/results/hydro.json.

Anchor: MUSIC (github MUSIC-fluid/MUSIC, the field's standard viscous hydro), run in boost-invariant
(2+1)D mode on the very same e0 by :mod:`music_anchor`: ``--music PATH/MUSIChydro`` times it beside
every single-event row (same grid, time step, limiter, η/s, EoS and stopping energy density; MUSIC's
CPU seconds include its start-up and its freeze-out surface finder, 1.6 % of its time). Without
``--music`` the MUSIC column shows the figures recorded on this machine type (``MUSIC_RECORDED``, with
their source). No citable published per-event cost of MUSIC or VISH2+1 was found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

CLASSES = [(0, 5), (20, 30)]
#: MUSIC CPU seconds per event, measured 2026-12-03 with ``python benchmarks/music_anchor.py --music MUSIChydro``
#: (MUSIC commit 1fd9f40, GSL 2.7.1, g++ 12.2 -O3, 1 OpenMP thread, 2-core Xeon; benchmarks/RESULTS.md)
MUSIC_RECORDED = {("0-5%", 0.2): 61.3, ("0-5%", 0.1): 460.0, ("20-30%", 0.2): 39.1, ("20-30%", 0.1): 279.8}
CLOCK = [time.process_time]   # CPU seconds of this process (--clock cpu, default on the CPU) or wall seconds
HALF_WIDTH, NORM, TAU0, ETA_S, T_SW, TAU_MAX = 15.0, 95.0, 0.6, 0.08, 0.15, 25.0


def profiles(centrality, dx, n_events, seed=1):
    from qcdgen.hic.initial import Grid, sample_initial_states
    n = 2 * int(round(HALF_WIDTH / dx))
    grid = Grid(n=n, max=0.5 * n * dx)
    st = sample_initial_states("PbPb", 2760.0, n_events, np.random.default_rng(seed), centrality=centrality,
                               grid=grid, keep_profiles=True)
    return st.profiles


def run_hydro(prof, dx, device):
    from qcdgen.hic.hydro import evolve
    from qcdgen.hic.hydro.initial import initial_energy_density
    e0 = initial_energy_density(prof, norm=NORM, tau0=TAU0)
    start = CLOCK[0]()
    res = evolve(e0, dx=dx, tau0=TAU0, tau_end=TAU_MAX, eta_s=ETA_S, save_taus=[TAU_MAX], stop_T=T_SW,
                 device=device)
    return CLOCK[0]() - start, res


def blastwave_seconds(centrality, n=20):
    from qcdgen.hic.generation import make_generator
    gen = make_generator("blastwave", system="PbPb", sqrts=2760.0, centrality=centrality)
    rng = np.random.default_rng(1)
    gen.generate(2, rng)
    start = CLOCK[0]()
    gen.generate(n, rng)
    return (CLOCK[0]() - start) / n


def surrogate_seconds(path, centrality, n=20, device="cpu"):
    """Seconds per event of a ``qcdgen hic train`` model sampled in this class (particles written to Parquet)."""
    import tempfile

    from qcdgen.hic.initial import sample_initial_states
    from qcdgen.hic.surrogate.pipeline import load_pipeline_model, sample_pipeline

    names = load_pipeline_model(path, "cpu").conditions
    b = sample_initial_states("PbPb", 2760.0, 200, np.random.default_rng(3), centrality=centrality).b
    known = {"b": float(np.median(b)), "centrality": 0.5 * (centrality[0] + centrality[1]), "eta_s": ETA_S}
    missing = [c for c in names if c not in known]
    if missing:
        raise SystemExit(f"error: --surrogate is conditioned on {missing}; this benchmark knows only {sorted(known)}")
    cond = {c: known[c] for c in names}
    with tempfile.TemporaryDirectory() as tmp:
        sample_pipeline(path, out=Path(tmp) / "warm.parquet", events=2, condition=cond, progress=False, device=device)
        start = CLOCK[0]()
        sample_pipeline(path, out=Path(tmp) / "g.parquet", events=n, condition=cond, progress=False, device=device)
        return (CLOCK[0]() - start) / n


def music_seconds(binary, prof, dx, clock):
    """MUSIC's seconds for this profile (:func:`music_anchor.run_music`, same e0 as :func:`run_hydro`)."""
    from music_anchor import run_music

    from qcdgen.hic.hydro.initial import initial_energy_density
    e0 = initial_energy_density(prof, norm=NORM, tau0=TAU0)
    try:
        m = run_music(binary, e0, dx, TAU0, ETA_S, T_SW, Path(__file__).parent / "results" / "music" / f"dx{dx}")
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from None
    if m["returncode"] != 0:
        raise SystemExit(f"error: MUSIC exited with code {m['returncode']} (log: {m['log']})")
    return (m["cpu_s"] if clock == "cpu" else m["wall_s"]), "measured"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--surrogate", default=None, help="point-cloud surrogate model (qcdgen hic train) to time "
                                                          "beside the hydro")
    parser.add_argument("--music", default=None, metavar="MUSICHYDRO",
                        help="a MUSIC binary to time on the same profiles (see benchmarks/music_anchor.py)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default=None,
                        help="seconds measured: cpu (this process's CPU time; robust on a shared machine; default "
                             "on the CPU) or wall (default with --device cuda)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "hydro.json"))
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    clock = args.clock or ("cpu" if args.device == "cpu" else "wall")
    CLOCK[0] = time.process_time if clock == "cpu" else time.perf_counter
    dxs = (0.4, 0.2) if args.quick else (0.2, 0.1)
    batch = 2 if args.quick else args.batch
    rows = []
    for cls in CLASSES:
        bw = blastwave_seconds(cls)
        sur = surrogate_seconds(args.surrogate, cls, device=args.device) if args.surrogate else None
        for dx in dxs:
            prof = profiles(cls, dx, 1)
            secs, res = run_hydro(prof[0], dx, args.device)
            name = f"{cls[0]}-{cls[1]}%"
            music, music_src = music_seconds(args.music, prof[0], dx, clock) if args.music else \
                (MUSIC_RECORDED.get((name, dx)), "recorded")
            rows.append({"centrality": name, "dx_fm": dx, "cells": int(prof.shape[-1]) ** 2,
                         "steps": res.steps, "tau_stop_fm": float(res.tau_stop), "s_per_event": secs,
                         "batch": 1, "events_per_s": 1.0 / secs, "blastwave_s_per_event": bw,
                         "surrogate_s_per_event": sur, "music_s_per_event": music, "music_source": music_src})
            print(f"  measured {rows[-1]['centrality']} dx={dx}: {secs:.1f} s", file=sys.stderr)
        dx = dxs[-1] if args.quick else 0.2
        prof = profiles(cls, dx, batch, seed=2)
        secs, res = run_hydro(prof, dx, args.device)
        rows.append({"centrality": f"{cls[0]}-{cls[1]}%", "dx_fm": dx, "cells": int(prof.shape[-1]) ** 2,
                     "steps": res.steps, "tau_stop_fm": float(res.tau_stop), "s_per_event": secs / batch,
                     "batch": batch, "events_per_s": batch / secs, "blastwave_s_per_event": bw,
                     "surrogate_s_per_event": sur, "music_s_per_event": None, "music_source": None})
        print(f"  measured {rows[-1]['centrality']} batch {batch}: {secs:.1f} s", file=sys.stderr)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Pb-Pb 2.76 TeV, eta/s={ETA_S}, tau0={TAU0} fm, stop at T<{T_SW} GeV, device {args.device}, "
          f"{args.threads} thread(s), load average {load:.1f}, {clock} seconds")
    print(f"{'class':8} {'dx fm':>5} {'cells':>7} {'steps':>5} {'tau_end':>7} {'batch':>5} {'s/event':>8} "
          f"{'events/s':>8} {'blastwave s/ev':>14} {'surrogate':>9} {'MUSIC s/ev':>10} {'MUSIC/qcdgen':>12}")
    cell = lambda v, w, f: f"{v:{w}{f}}" if v is not None else f"{'n/a':>{w}}"  # noqa: E731
    for r in rows:
        m = r["music_s_per_event"]
        print(f"{r['centrality']:8} {r['dx_fm']:5.2f} {r['cells']:7d} {r['steps']:5d} {r['tau_stop_fm']:7.2f} "
              f"{r['batch']:5d} {r['s_per_event']:8.2f} {r['events_per_s']:8.4f} "
              f"{r['blastwave_s_per_event']:14.4f} {cell(r['surrogate_s_per_event'], 9, '.4f')} {cell(m, 10, '.1f')} "
              + cell(m / r["s_per_event"] if m is not None else None, 12, ".1f"))
    if args.music:
        print(f"MUSIC: {args.music}, timed here on the same profiles ({clock} seconds)")
    else:
        print("MUSIC column: CPU seconds recorded 2026-12-03 by benchmarks/music_anchor.py (MUSIC commit 1fd9f40, "
              "1 thread, this machine type); pass --music PATH to time it here")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"device": args.device, "threads": args.threads, "load_average": load, "clock": clock,
                               "rows": rows}, indent=1))
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
