"""Real hydro (``--model hydro``) against ALICE Pb–Pb 2.76 TeV and the blast-wave, class by class.

    python benchmarks/hic_hydro_alice.py [--events 10] [--bw-events 400] [--quick] [--cache DIR]

Per centrality class (geometric, from b; default 0–5, 20–30, 40–50 %): model ± statistical
error (jackknife over events), ALICE ± total error and pulls (model − ALICE)/√(σ_model² + σ_ALICE²)
for dN_ch/dη (|η| < 0.5), v₂{2}, v₂{4}, v₃{2} (charged, |η| < 0.8, 0.2 < p_T < 5 GeV) and ⟨p_T⟩ of
π⁺, K⁺, p (|y| < 0.5; ALICE only in 0–5 %), from :func:`qcdgen.hic.observables.observe`.
ALICE data and their sources: benchmarks/hic_alice_comparison.py (src/qcdgen/hic/data/alice_pbpb2760.csv).

Non-linear response (same acceptance; Q_n = Σ e^{inφ}, M particles, per event; ℰ_n = ε_n e^{inΦ_n}
of the TRENTo profile, same frame as the particles):

- v₂{4}/v₂{2} with the Q-cumulant ⟨4⟩ (Bilandzic et al., PRC 83 (2011) 044913, eq. (18));
- V₄ = Q₄/M regressed on ℰ₄ and ℰ₂², V₄ = k₄ ℰ₄ + k₄₂₂ ℰ₂² (real k, complex least squares), and
  r(V₄, ℰ₂²) = Re⟨V₄ ℰ₂*²⟩ / √(⟨|V₄|²⟩ ⟨|ℰ₂|⁴⟩) with the unbiased ⟨|V₄|²⟩ = ⟨(|Q₄|² − M)/(M(M − 1))⟩.
  The blast-wave has v₄ = k₄ ε₄ by construction (linear response), so its k₄₂₂ measures only the
  ε₄–ε₂² geometry correlation the regression cannot separate; a larger k₄₂₂ in hydro is mode mixing.

Hydro events are generated in rounds of ``--chunk`` events per class, and the table is rewritten
(atomically) after every round, so a run stopped early leaves a valid table; with ``--cache`` the
chunks are kept (Parquet + .npz) and a rerun resumes. ``--quick``: 2 hydro events per class at
dx = 0.4 fm and 100 blast-wave events (a smoke test, not physics).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from hic_alice_comparison import MEAN_PT_SPECIES, REFERENCE  # noqa: E402  (the ALICE table and its loader)

CLASSES = [(0, 5), (20, 30), (40, 50)]
SHOWN = [("dNch/deta", "dNch/dη"), ("v2{2}", "v2{2}"), ("v2{4}", "v2{4}"), ("v3{2}", "v3{2}")] + [
    (f"mean_pt({sp})", f"⟨pT⟩ {sp}") for sp in MEAN_PT_SPECIES]
NONLIN = ["v2{4}/v2{2}", "v4{2}", "k4", "k422", "r(V4,e4)", "r(V4,e2^2)", "r(V2,e2)"]


def nonlinear_columns(events, eps, psi) -> np.ndarray:
    """Per-event columns (rows = events) whose means give the non-linear-response estimators."""
    from qcdgen.hic.observables.spectra import FlatParticles, select

    flat = FlatParticles.from_events(events)
    sel = select(flat, eta_max=0.8, pt_range=(0.2, 5.0), charged=True)
    ev, phi = flat.event[sel], flat.phi[sel]
    n = flat.n_events
    M = np.bincount(ev, minlength=n).astype(float)
    Q2 = np.bincount(ev, np.cos(2 * phi), n) + 1j * np.bincount(ev, np.sin(2 * phi), n)
    Q4 = np.bincount(ev, np.cos(4 * phi), n) + 1j * np.bincount(ev, np.sin(4 * phi), n)
    E2 = eps[:, 0] * np.exp(2j * psi[:, 0])
    E4 = eps[:, 2] * np.exp(4j * psi[:, 2])
    E22 = E2 ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        V2, V4 = Q2 / M, Q4 / M
        w2 = M * (M - 1)
        num4 = (np.abs(Q2) ** 4 + np.abs(Q4) ** 2 - 2 * np.real(Q4 * np.conj(Q2) ** 2)
                - 4 * (M - 2) * np.abs(Q2) ** 2 + 2 * M * (M - 3))
        cols = [w2, np.abs(Q2) ** 2 - M, num4, w2 * (M - 2) * (M - 3), np.abs(Q4) ** 2 - M,
                (np.abs(Q4) ** 2 - M) / w2, (np.abs(Q2) ** 2 - M) / w2,
                np.abs(E4) ** 2, np.abs(E22) ** 2, np.real(E4 * np.conj(E22)),
                np.real(V4 * np.conj(E4)), np.real(V4 * np.conj(E22)), np.real(V2 * np.conj(E2)), np.abs(E2) ** 2]
    out = np.stack(cols, axis=1)
    if not np.isfinite(out).all():
        raise FloatingPointError("an event has fewer than 4 particles in the flow acceptance")
    return out


def nonlinear_estimates(m) -> np.ndarray:
    """The :data:`NONLIN` quantities from the column means ``m``."""
    w2, s2, num4, w4, s4, v4sq, v2sq, e4, e22, e4e22, v4e4, v4e22, v2e2, e2 = m
    c22 = s2 / w2
    c24 = num4 / w4 - 2 * c22 ** 2
    v22 = math.sqrt(c22) if c22 > 0 else math.nan
    v24 = (-c24) ** 0.25 if c24 < 0 else math.nan
    k4, k422 = np.linalg.solve([[e4, e4e22], [e4e22, e22]], [v4e4, v4e22])
    root = lambda a, b: a / math.sqrt(b) if b > 0 else math.nan
    return np.array([v24 / v22, math.sqrt(s4 / w2) if s4 > 0 else math.nan, k4, k422,
                     root(v4e4, v4sq * e4), root(v4e22, v4sq * e22), root(v2e2, v2sq * e2)])


def jackknife(cols: np.ndarray, func, groups: int = 40):
    """(estimate, error) of func(column means), leave-one-group-out over events."""
    n = len(cols)
    full = func(cols.mean(axis=0))
    g = min(groups, n)
    if g < 2:
        return full, np.full_like(full, np.nan)
    labels = np.arange(n) % g
    reps = np.array([func(cols[labels != k].mean(axis=0)) for k in range(g)])
    err = np.sqrt((g - 1) / g * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
    return full, err


def summarise(events, eps, psi) -> dict:
    """{name: (value, error)} of the SHOWN observables and the NONLIN indicators."""
    from qcdgen.hic.observables import observe

    obs = observe(events, warn=False).observables
    out = {name: (obs[name].value, obs[name].error) for name, _ in SHOWN if name in obs}
    val, err = jackknife(nonlinear_columns(events, eps, psi), nonlinear_estimates)
    out |= {name: (float(v), float(e)) for name, v, e in zip(NONLIN, val, err)}
    return out


def _fmt(v, e):
    return "—" if v is None or not np.isfinite(v) else f"{v:.4g} ± {e:.2g}"


def _pull(v, e, ref, ref_err):
    if v is None or not np.isfinite(v) or not np.isfinite(e):
        return "—"
    return f"{(v - ref) / math.hypot(e, ref_err):+.1f}"


def table(results: dict, counts: dict, header: str) -> str:
    lines = [header, "", "| class | observable | hydro | blast-wave | ALICE | hydro/ALICE | pull hydro | pull bw |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for cls, res in results.items():
        label, key = f"{cls[0]}–{cls[1]}%", f"{cls[0]}-{cls[1]}%"
        hy, bw = res.get("hydro", {}), res.get("bw", {})
        for name, pretty in SHOWN:
            h, b = hy.get(name, (None, None)), bw.get(name, (None, None))
            if (name, key) in REFERENCE:
                ref, ref_err = REFERENCE[(name, key)]
                ratio = f"{h[0] / ref:.3f}" if h[0] is not None and np.isfinite(h[0]) else "—"
                lines.append(f"| {label} | {pretty} | {_fmt(*h)} | {_fmt(*b)} | {ref:.4g} ± {ref_err:.2g} | {ratio} "
                             f"| {_pull(*h, ref, ref_err)} | {_pull(*b, ref, ref_err)} |")
            else:
                lines.append(f"| {label} | {pretty} | {_fmt(*h)} | {_fmt(*b)} | — | — | — | — |")
    lines += ["", "Non-linear response (k4, k422: V4 = k4 ε4 + k422 ε2²; r: correlation coefficients):", "",
              "| class | indicator | hydro | blast-wave |", "| --- | --- | --- | --- |"]
    for cls, res in results.items():
        for name in NONLIN:
            lines.append(f"| {cls[0]}–{cls[1]}% | {name} | {_fmt(*res.get('hydro', {}).get(name, (None, None)))} "
                         f"| {_fmt(*res.get('bw', {}).get(name, (None, None)))} |")
    lines += ["", "Events: " + ", ".join(f"{c[0]}–{c[1]}% hydro {counts[c]['hydro']}, blast-wave {counts[c]['bw']}"
                                         for c in results)]
    return "\n".join(lines) + "\n"


def _hydro_chunk(gen, cls_index, chunk, n, seed, cache):
    """(events, eps, psi) of one hydro chunk, from the cache when there."""
    import awkward as ak

    stem = None if cache is None else Path(cache) / f"c{cls_index}_k{chunk}_n{n}_s{seed}"
    if stem is not None and stem.with_suffix(".npz").is_file():
        with np.load(stem.with_suffix(".npz")) as z:
            return ak.from_parquet(stem.with_suffix(".parquet")), z["eps"], z["psi"]
    events, states = gen.generate(n, np.random.default_rng([seed, cls_index, chunk]))
    eps, psi = np.asarray(states.eps), np.asarray(states.psi)
    if stem is not None:
        stem.parent.mkdir(parents=True, exist_ok=True)
        ak.to_parquet(events, stem.with_suffix(".parquet"))
        np.savez(stem.with_suffix(".tmp.npz"), eps=eps, psi=psi)
        os.replace(stem.with_suffix(".tmp.npz"), stem.with_suffix(".npz"))   # the .npz marks a complete chunk
    return events, eps, psi


def main(argv=None) -> int:
    import awkward as ak
    import torch

    from qcdgen.hic.generators.hydro import HydroGenerator
    from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator
    from qcdgen.io.atomic import atomic_write_text

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10, help="hydro events per class")
    parser.add_argument("--bw-events", type=int, default=400, help="blast-wave events per class")
    parser.add_argument("--chunk", type=int, default=2, help="hydro events per class per round")
    parser.add_argument("--dx", type=float, default=None, help="hydro cell size (default: the generator's)")
    parser.add_argument("--classes", default=None, help="e.g. 0-5,20-30,40-50 (the default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 hydro events per class, dx = 0.4, 100 blast-wave")
    parser.add_argument("--cache", default=None, help="folder keeping the hydro chunks (resume)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results_hydro_alice.txt"))
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.bw_events, args.chunk, args.dx = 2, 100, 2, args.dx or 0.4
    classes = CLASSES if args.classes is None else [tuple(float(x) for x in c.split("-")) for c in args.classes.split(",")]
    classes = [tuple(int(x) if float(x).is_integer() else x for x in c) for c in classes]
    command = "python benchmarks/hic_hydro_alice.py " + " ".join(argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()
    results = {c: {} for c in classes}
    counts = {c: {"hydro": 0, "bw": 0} for c in classes}
    for i, cls in enumerate(classes):
        bw = HydroInspiredGenerator(centrality=cls)
        events, states = bw.generate(args.bw_events, np.random.default_rng([args.seed, 1000 + i]))
        results[cls]["bw"] = summarise(events, np.asarray(states.eps), np.asarray(states.psi))
        counts[cls]["bw"] = args.bw_events
    gens = {c: HydroGenerator(centrality=c, **({"dx": args.dx} if args.dx else {})) for c in classes}
    done = {c: [] for c in classes}
    rounds = math.ceil(args.events / args.chunk)
    for k in range(rounds):
        n = min(args.chunk, args.events - k * args.chunk)
        for i, cls in enumerate(classes):
            done[cls].append(_hydro_chunk(gens[cls], i, k, n, args.seed, args.cache))
            ev = ak.concatenate([d[0] for d in done[cls]])
            eps, psi = (np.concatenate([d[j] for d in done[cls]]) for j in (1, 2))
            results[cls]["hydro"] = summarise(ev, eps, psi)
            counts[cls]["hydro"] = len(ev)
            print(f"  round {k + 1}/{rounds}, {cls[0]}–{cls[1]}%: {len(ev)} hydro events "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
        s = gens[classes[0]].settings
        header = (f"`{command}`\n\nPb–Pb 2.76 TeV. Hydro settings: eos={s.eos}, norm={s.norm}, tau0={s.tau0} fm, "
                  f"eta_s={s.eta_s}, T_sw={s.T_sw} GeV, dx={s.dx} fm, TRENTo {s.trento or 'defaults'}; "
                  f"round {k + 1}/{rounds}, {time.perf_counter() - start:.0f} s on {torch.get_num_threads()} thread(s). "
                  "Errors: jackknife over events (statistical only); ALICE: total errors.")
        text = table(results, counts, header)
        atomic_write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
