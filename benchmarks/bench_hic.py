"""Events per second of each heavy-ion generator, per centrality class, measured in one run.

    python benchmarks/bench_hic.py [--events 200] [--system PbPb --sqrts 2760] [--quick]

For every (generator, centrality class): wall time per event, events/s, mean number of
final particles, particles/s, and bytes per event in memory (awkward) and on disk (Parquet,
zstd). Angantyr rows appear when the ``pythia8mc`` wheel is installed (``qcdgen[pythia]``).
Results go to stdout as a table and to benchmarks/results/hic.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np

from qcdgen.hic.events import write_events
from qcdgen.hic.generation import make_generator
from qcdgen.hic.generators.angantyr import pythia_available

CLASSES = [(0, 5), (20, 30), (50, 60)]


def measure(model: str, centrality, n_events: int, system: str, sqrts: float, seed: int = 1) -> dict:
    gen = make_generator(model, system=system, sqrts=sqrts, centrality=centrality)
    rng = np.random.default_rng(seed)
    gen.generate(2, rng)                       # warm-up: tables, Pythia initialisation
    start = time.perf_counter()
    events, _ = gen.generate(n_events, rng)
    seconds = time.perf_counter() - start
    mult = ak.num(events.particles).to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e.parquet"
        write_events(path, events)
        disk = os.path.getsize(path)
    return {"model": model, "centrality": f"{centrality[0]:g}-{centrality[1]:g}%", "events": n_events,
            "s_per_event": seconds / n_events, "events_per_s": n_events / seconds,
            "mean_particles": float(mult.mean()), "particles_per_s": float(mult.sum() / seconds),
            "memory_bytes_per_event": events.layout.nbytes / n_events, "disk_bytes_per_event": disk / n_events}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--system", default="PbPb")
    parser.add_argument("--sqrts", type=float, default=2760.0)
    parser.add_argument("--quick", action="store_true", help="20 events per row")
    args = parser.parse_args(argv)
    n = 20 if args.quick else args.events
    models = ["blastwave"] + (["angantyr"] if pythia_available() else [])
    rows = []
    for model in models:
        for cls in CLASSES:
            rows.append(measure(model, cls, n if model == "blastwave" else max(5, n // 20), args.system, args.sqrts))
            print(f"  measured {model} {cls}", file=sys.stderr)
    header = f"{'model':9} {'class':8} {'events':>6} {'ms/event':>9} {'events/s':>9} {'particles':>9} " \
             f"{'particles/s':>11} {'kB/event RAM':>12} {'kB/event disk':>13}"
    print(f"{args.system} at sqrt(s_NN) = {args.sqrts:g} GeV, {os.cpu_count()} CPU cores")
    print(header)
    for r in rows:
        print(f"{r['model']:9} {r['centrality']:8} {r['events']:6d} {1e3 * r['s_per_event']:9.1f} "
              f"{r['events_per_s']:9.2f} {r['mean_particles']:9.0f} {r['particles_per_s']:11.0f} "
              f"{r['memory_bytes_per_event'] / 1e3:12.1f} {r['disk_bytes_per_event'] / 1e3:13.1f}")
    if not pythia_available():
        print("(angantyr rows need: pip install 'qcdgen[pythia]')")
    out = Path(__file__).parent / "results" / "hic.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"system": args.system, "sqrts": args.sqrts, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
