"""Events per second: real hydro against its initial-state-conditioned clones (issue 21, one table).

Rows, all on the same machine, one torch thread, CPU seconds (``time.process_time``) so that a shared
machine does not inflate them (wall seconds beside):

- ``blast wave``: the hydro-inspired generator (``--model blastwave``), for scale;
- ``hydro``: ``qcdgen hic generate --model hydro`` (TRENTo → (2+1)D viscous hydro → Cooper–Frye → decays),
  Pb–Pb 2.76 TeV 0–50 %, at the settings of the paired training data (dx = 0.4 fm, 6 extra
  particlizations for the smooth spectrum) and at the generator's defaults (dx = 0.3 fm, no oversampling);
- ``spectra diffusion``: p(spectrum | profile, η/s) sampled by the probability-flow ODE (``--ode-steps``
  Heun steps) and Poisson-sampled into an event (``qcdgen hic spectra-sample``);
- ``emulator``: the DenseNet profile → (dNch/dη, ⟨pT⟩, V₂, V₃) per event (``qcdgen hic emulator-predict``):
  no particles, the observables directly;
- ``point-cloud surrogate``: the conditional point-cloud model of ``qcdgen hic train`` conditioned on
  (η/s, b), trained on the same hydro events (``qcdgen hic sample``).

    python benchmarks/bench_conditional_speed.py --pairs P.h5 --spectra S.pt --emulator E.pt --surrogate C.pt

Any model file left out skips its row. ``--device cuda`` times the networks on a GPU (the hydro stays on
the CPU here). Sun et al. (PRC 112 (2025) L051903) quote ~10⁵× (hybrid model 120 CPU minutes per event
against 0.1 s per event for the diffusion model on a GPU).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QCDGEN_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def timed(fn, *args, **kwargs):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - c, time.perf_counter() - w


def hydro_rows(n_events: int, seed: int):
    from qcdgen.hic.generation import generate_to_file

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("hydro (dx 0.4, oversample 6)", dict(dx=0.4, oversample=6)),
                             ("hydro (defaults, dx 0.3)", {})):
            out = Path(tmp) / f"h{len(rows)}.parquet"
            _, cpu, wall = timed(generate_to_file, out, model="hydro", n_events=n_events, seed=seed, chunk_events=n_events,
                                 progress=False, centrality=(0.0, 50.0), **extra)
            rows.append((label, n_events, cpu, wall, "events (particles)"))
        out = Path(tmp) / "bw.parquet"
        _, cpu, wall = timed(generate_to_file, out, model="blastwave", n_events=16 * n_events, seed=seed,
                             progress=False, centrality=(0.0, 50.0))
        rows.append(("blast wave (hydro-inspired, not hydro)", 16 * n_events, cpu, wall, "events (particles)"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", required=True, help="paired dataset whose profiles feed the clones (qcdgen hic pairs)")
    ap.add_argument("--spectra", default=None, help="spectra-diffusion model (qcdgen hic spectra-train)")
    ap.add_argument("--emulator", default=None, help="profile emulator (qcdgen hic emulator-train)")
    ap.add_argument("--surrogate", default=None, help="point-cloud surrogate (qcdgen hic train --condition eta_s,b)")
    ap.add_argument("--hydro-events", type=int, default=8)
    ap.add_argument("--events", type=int, default=512, help="events per clone row")
    ap.add_argument("--ode-steps", type=int, default=40)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results_conditional_speed.txt")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from qcdgen.hic.conditional.pairs import load_pairs
    from qcdgen.io.atomic import atomic_write_text

    pd = load_pairs(args.pairs)
    idx = np.resize(np.arange(len(pd)), args.events)
    sub = pd.subset(idx)
    eta = float(np.nanmedian(pd.conditions["eta_s"]))
    rows = hydro_rows(args.hydro_events, args.seed)
    if args.spectra:
        from qcdgen.hic.conditional.spectra_diffusion import generate_events, load_spectra_model

        model = load_spectra_model(args.spectra)
        _, cpu, wall = timed(generate_events, model, sub, eta, steps=args.ode_steps, device=args.device,
                             extrapolate=True)
        rows.append((f"spectra diffusion ({args.ode_steps} Heun steps, {args.device})", len(sub), cpu, wall,
                     "events (particles)"))
    if args.emulator:
        from qcdgen.hic.conditional.emulator import load_emulator

        emu = load_emulator(args.emulator)
        _, cpu, wall = timed(emu.predict, sub.profiles, eta)
        rows.append(("DenseNet emulator (cpu)", len(sub), cpu, wall, "observables only"))
    if args.surrogate:
        from qcdgen.hic.surrogate.pipeline import sample_pipeline

        with tempfile.TemporaryDirectory() as tmp:
            _, cpu, wall = timed(sample_pipeline, args.surrogate, out=Path(tmp) / "g.parquet", events=len(sub),
                                 condition={"eta_s": eta, "b": float(np.nanmedian(pd.conditions["b"]))},
                                 progress=False, device=args.device)
        rows.append((f"point-cloud surrogate (8 Heun steps, {args.device})", len(sub), cpu, wall, "events (particles)"))
    ref = rows[0][2] / rows[0][1]
    lines = [f"# initial-state-conditioned clones vs hydro, Pb-Pb 2.76 TeV 0-50 %, torch {torch.__version__}, "
             f"{torch.get_num_threads()} thread, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}",
             f"{'method':<44} {'N':>6} {'CPU s/event':>12} {'wall s/event':>13} {'events/CPU s':>13} "
             f"{'x hydro (dx 0.4)':>17}  output"]
    for label, n, cpu, wall, what in rows:
        lines.append(f"{label:<44} {n:>6} {cpu / n:>12.4g} {wall / n:>13.4g} {n / cpu:>13.4g} {ref / (cpu / n):>17.4g}"
                     f"  {what}")
    text = "\n".join(lines) + "\n"
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
