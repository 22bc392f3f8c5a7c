"""Surrogate against the simulators it clones, side by side in one run, Pb–Pb 2.76 TeV.

    python benchmarks/bench_surrogate.py MODEL.pt [--events 100] [--eta-s 0.12] [--ode-steps 8,4] [--device cpu|cuda]

For three centrality classes: events/s and particles/s of the hydro-inspired generator, of
Pythia 8 Angantyr (when ``qcdgen[pythia]`` is installed) and of the surrogate (conditioned on
η/s and the impact parameters of the generator's own events, so multiplicities are comparable),
plus memory per event. The ratio column is surrogate speed over each generator's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from qcdgen.hic.generators.angantyr import pythia_available
from qcdgen.hic.surrogate.model import sample_events
from qcdgen.hic.surrogate.pipeline import load_pipeline_model

sys.path.insert(0, os.path.dirname(__file__))
from bench_hic import CLASSES, measure  # noqa: E402  (the generator timing of bench_hic.py)


def surrogate_row(loaded, cls, b_values: np.ndarray, eta_s: float, device: str, n_steps: int) -> dict:
    values = {"eta_s": np.full(len(b_values), eta_s), "b": b_values}
    raw = np.stack([values[n] for n in loaded.conditions], axis=1)
    cond = torch.as_tensor(loaded.scaler.transform(raw), dtype=torch.float32)
    sample_events(loaded.model, cond[:2], n_steps=n_steps, device=device)          # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    n, species, x = sample_events(loaded.model, cond, n_steps=n_steps, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"model": f"surrogate ({n_steps} Heun)", "centrality": f"{cls[0]:g}-{cls[1]:g}%", "events": len(b_values),
            "s_per_event": seconds / len(b_values), "events_per_s": len(b_values) / seconds,
            "mean_particles": float(n.double().mean()), "particles_per_s": float(n.sum()) / seconds,
            "memory_bytes_per_event": (species.element_size() * species.numel() + x.element_size() * x.numel())
            / len(b_values)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--eta-s", type=float, default=0.12)
    parser.add_argument("--ode-steps", default="8,4", help="comma-separated Heun step counts, one row each")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    loaded = load_pipeline_model(args.model, args.device)
    rows = []
    for cls in CLASSES:
        hydro = measure("blastwave", cls, args.events, "PbPb", 2760.0)
        rows.append(hydro)
        if pythia_available():
            rows.append(measure("angantyr", cls, max(3, args.events // 20), "PbPb", 2760.0))
        from qcdgen.hic.generation import make_generator

        events, _ = make_generator("blastwave", system="PbPb", sqrts=2760.0, centrality=cls).generate(
            args.events, np.random.default_rng(7))
        for steps in (int(v) for v in args.ode_steps.split(",")):
            rows.append(surrogate_row(loaded, cls, np.asarray(events.b, dtype=float), args.eta_s, args.device, steps))
        print(f"  measured {cls}", file=sys.stderr)
    print(f"Pb-Pb 2.76 TeV, {os.cpu_count()} CPU cores, torch {torch.__version__}, device {args.device}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'model':22} {'class':8} {'events':>6} {'ms/event':>9} {'events/s':>9} {'particles':>9} "
          f"{'particles/s':>11} {'kB/event RAM':>12}")
    for r in rows:
        print(f"{r['model']:22} {r['centrality']:8} {r['events']:6d} {1e3 * r['s_per_event']:9.1f} "
              f"{r['events_per_s']:9.2f} {r['mean_particles']:9.0f} {r['particles_per_s']:11.0f} "
              f"{r['memory_bytes_per_event'] / 1e3:12.1f}")
    for cls in CLASSES:
        label = f"{cls[0]:g}-{cls[1]:g}%"
        for sur in (r for r in rows if r["centrality"] == label and r["model"].startswith("surrogate")):
            for r in rows:
                if r["centrality"] == label and not r["model"].startswith("surrogate"):
                    print(f"{label}: {sur['model']} / {r['model']} speed = "
                          f"{sur['events_per_s'] / r['events_per_s']:.2f}")
    return 0


if __name__ == "__main__":
    from qcdgen.cli.main import run_guarded

    sys.exit(run_guarded(main, prog=os.path.basename(__file__)))
