"""Inverse generation (issue 21 part 5): εₙ of generated initial profiles against the truth, by n and route.

    python benchmarks/bench_inverse_generation.py [EVENTS.parquet ...] [--steps 3000] [--cells 16] [--quick]

Event files (with their .profiles.h5 sidecars; ``qcdgen hic generate --model hydro``) are paired with
:func:`qcdgen.hic.conditional.pairs.build_pairs`; without files, 1200 blast-wave events (Pb–Pb 2.76 TeV,
0–50 %, --oversample 4) are generated. Files whose name contains "heldout" go to the test set only (an η/s
not in training); of the rest a random ``--test`` events are held out. Per route (gen1: smooth spectrum,
gen3: one event's hadrons, gen2: hadrons → Gen2 smooth spectrum → Gen1) one model is trained (cached in
``--out``) and ``--samples`` profiles per test input are generated and judged (:func:`judge`):
εₙ{2} = √⟨εₙ²⟩ relative error with its bootstrap error, flagged when outside Sun et al.'s ~5 %
(PRC 112 (2025) L051903), event-by-event error and correlation, ⟨cos n(Φ_gen − Φ_true)⟩, posterior spread.
Two floors are printed: the bicubic rotation into and out of the event-plane frame applied to the true
profiles (what a perfect model would score), and the εₙ{2} change from coarsening the 32² truth to the
training grid. Closing the loop: ρₙ of the blast-wave forward map (flow_parameters) of generated vs true
profiles, and their correlation with the v₂ measured from the input spectrum. Results: stdout and
``--out``/results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from qcdgen.hic.conditional import inverse_generation as ig  # noqa: E402

SUN_TOLERANCE = 0.05


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_data(files, out: Path, n_blastwave: int):
    from qcdgen.hic.conditional.pairs import build_pairs, concat_pairs, load_pairs, save_pairs
    from qcdgen.hic.generation import generate_to_file

    cache = out / "pairs.h5"
    if not files:
        ev = out / "blastwave.parquet"
        if not ev.exists():
            log(f"generating {n_blastwave} blast-wave events")
            generate_to_file(ev, model="blastwave", n_events=n_blastwave, seed=7, chunk_events=200, progress=False,
                             centrality=(0, 50), oversample=4)
        files = [ev]
    if cache.exists():
        pd = load_pairs(cache)
        held = np.load(out / "heldout_mask.npy")
    else:
        parts, held = [], []
        for f in files:
            p = build_pairs([f])
            parts.append(p)
            held.append(np.full(len(p), "heldout" in Path(f).name))
        pd, held = concat_pairs(parts), np.concatenate(held)
        save_pairs(pd, cache)
        np.save(out / "heldout_mask.npy", held)
    return pd, held


def split(pd, held, n_test, seed=0):
    rng = np.random.default_rng(seed)
    pool = np.flatnonzero(~held)
    test_pool = rng.permutation(pool)[:n_test]
    test = np.sort(np.concatenate([test_pool, np.flatnonzero(held)]))
    train = np.setdiff1d(pool, test_pool)
    return train, test


def hydro_spectra(profiles, window, eta_s, oversample=6, dx=0.4, seed=3):
    """Run qcdgen's (2+1)D viscous hydro + Cooper–Frye (+ decays) on given entropy profiles dS/(dη d²x)
    [N, P, P] (cell centres −W + (i + ½)·2W/P, bilinear onto the hydro grid): the charged spectra averaged
    over ``oversample`` particlizations, [N, n_pt, n_phi] (the same construction as the pairs' spectra)."""
    from scipy.ndimage import map_coordinates

    from qcdgen.hic.generators.decays import decay_all
    from qcdgen.hic.generators.hydro import HydroGenerator
    from qcdgen.hic.observables.spectrum2d import charged_spectra
    from qcdgen.hic.species import charge

    rng = np.random.default_rng(seed)
    out = []
    for prof, eta in zip(profiles, eta_s):
        gen = HydroGenerator(dx=dx, eta_s=float(eta), oversample=oversample, batch=1)
        n, P = gen.n_grid, prof.shape[-1]
        centres = (np.arange(n) - 0.5 * (n - 1)) * dx
        idx = (centres + window) / (2 * window / P) - 0.5
        I, J = np.meshgrid(idx, idx, indexing="ij")
        s0 = map_coordinates(np.asarray(prof, float), [I, J], order=1, mode="constant", cval=0.0)[None]
        res = gen._evolve(gen.energy_density(s0 / gen.settings.tau0), 0)
        surf = gen._surface(res, 0, 0)
        parts = [gen._sample(surf, rng) for _ in range(oversample)]
        spec = np.concatenate([p.species for p in parts])
        codes, pp, e, _, owner, _ = decay_all(gen.species.codes[spec], np.concatenate([p.p for p in parts]),
                                              np.concatenate([p.E for p in parts]),
                                              np.concatenate([p.mass for p in parts]),
                                              np.zeros(len(spec), int), rng)
        out.append(charged_spectra(charge(codes), pp[:, 0], pp[:, 1], pp[:, 2], e, owner, 1,
                                   oversample=oversample)[0])
    return np.array(out)


def hydro_closure(out: Path, route: str, n_events: int, cells: int):
    """Close the loop with the hydro: v₂, Ψ₂ of hydro on generated profiles vs hydro on the true profiles
    on the same coarse grid, and vs the input spectrum."""
    from qcdgen.hic.conditional.pairs import load_pairs

    pd = load_pairs(out / "pairs.h5")
    tr, te = split(pd, np.load(out / "heldout_mask.npy"), json.loads((out / "results.json").read_text())["n_test"])
    test = pd.subset(te[:n_events])
    gen = np.load(out / f"{route}_generated.npy")[:n_events, 0]
    truth = ig.coarsen_profiles(test.profiles, cells)
    W, eta = test.profile_window, test.conditions["eta_s"]
    t0 = time.time()
    s_gen = hydro_spectra(gen, W, eta)
    s_true = hydro_spectra(truth, W, eta)
    log(f"hydro closure: {2 * n_events} hydro events in {time.time() - t0:.0f} s")
    flow = {k: ig.spectrum_flow(v, test.pt_edges, test.phi_edges, (2, 3))
            for k, v in (("input", test.spectra), ("hydro(gen)", s_gen), ("hydro(true 16^2)", s_true))}
    v_in, psi_in = flow["input"]
    lines = [f"hydro closure ({route}, {n_events} test events, one generated profile each):"]
    for k in ("hydro(gen)", "hydro(true 16^2)"):
        v, psi = flow[k]
        rel = np.sqrt((v ** 2).mean(0) / (v_in ** 2).mean(0)) - 1
        cos = np.cos(np.array([2, 3]) * (psi - psi_in)).mean(0)
        corr = [np.corrcoef(v[:, i], v_in[:, i])[0, 1] for i in range(2)]
        lines.append(f"  {k:17}: v2{{2}}/input - 1 = {100 * rel[0]:+.1f} %, v3 {100 * rel[1]:+.1f} %; corr(v2, v2 input) "
                     f"{corr[0]:.2f}, v3 {corr[1]:.2f}; <cos 2(Psi2 - Psi2 input)> {cos[0]:.2f}, <cos 3 dPsi3> {cos[1]:.2f}; "
                     f"dN/dy ratio {s_sum(s_gen if k == 'hydro(gen)' else s_true, test) :.3f}")
    text = "\n".join(lines)
    (out / f"hydro_closure_{route}.txt").write_text(text + "\n")
    print(text)
    return 0


def s_sum(spectra, test):
    return float(np.sum(spectra) / np.sum(test.spectra))


def table(rows, floors):
    hdr = (f"{'route':6} {'n':>2} {'eps_n{2} true':>13} {'gen':>7} {'rel. err (%)':>15} {'vs 5 %':>7} "
           f"{'e-b-e (%)':>9} {'corr':>5} {'<cos n dPhi>':>14} {'spread (%)':>10}")
    lines = [hdr, "-" * len(hdr)]
    for route, j in rows:
        for k, n in enumerate(j["harmonics"]):
            rel, err = 100 * j["rel_rms"][k], 100 * j["rel_rms_err"][k]
            flag = "ok" if abs(rel) <= 100 * SUN_TOLERANCE else ("~ok" if abs(rel) - 2 * err <= 5 else "OUT")
            lines.append(f"{route:6} {n:>2} {j['eps_true_rms'][k]:13.4f} {j['eps_gen_rms'][k]:7.4f} "
                         f"{rel:+7.1f} ± {err:4.1f} {flag:>7} {100 * j['ebe'][k]:9.1f} {j['corr'][k]:5.2f} "
                         f"{j['resolution'][k]:7.3f} ± {j['resolution_err'][k]:.3f} {100 * j['spread'][k]:10.1f}")
    lines.append("floors: " + "; ".join(f"{k}: " + ", ".join(f"{100 * v:+.1f} %" for v in vals)
                                       for k, vals in floors.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="*", help="event files (.parquet with .profiles.h5); none: blast wave")
    ap.add_argument("--out", default="benchmarks/results/inverse_generation")
    ap.add_argument("--routes", default="gen1,gen3,gen2")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--sample-steps", type=int, default=30)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--blastwave-events", type=int, default=1200)
    ap.add_argument("--hydro-closure", type=int, default=0, metavar="N",
                    help="only: run hydro on N generated (cached) and true test profiles of --closure-route")
    ap.add_argument("--closure-route", default="gen1")
    ap.add_argument("--quick", action="store_true", help="300 blast-wave events, 300 steps, 60 test events")
    a = ap.parse_args(argv)
    if a.quick:
        a.steps, a.test, a.blastwave_events, a.samples = 300, 60, 300, 2
    torch.set_num_threads(1)
    out = Path(a.out)
    if a.hydro_closure:
        return hydro_closure(out, a.closure_route, a.hydro_closure, a.cells)
    out.mkdir(parents=True, exist_ok=True)
    pd, held = load_data(a.files, out, a.blastwave_events)
    tr, te = split(pd, held, a.test)
    train, test = pd.subset(tr), pd.subset(te)
    etas = sorted(set(np.round(pd.conditions["eta_s"], 4).tolist()))
    log(f"{pd.model} pairs: {len(pd)} events (eta/s {etas}), train {len(train)}, test {len(test)} "
        f"({int(held.sum())} held-out-eta/s)")
    P = a.cells
    truth = ig.coarsen_profiles(test.profiles, P) if P != test.profile_cells else test.profiles
    W = test.profile_window
    # floors: the event-plane frame rotation (bicubic, there and back) and the grid coarsening
    psi = ig.event_plane(test.spectra, test.pt_edges, test.phi_edges)
    back = ig.rotate_profiles(np.maximum(ig.rotate_profiles(truth, -psi), 0), psi)
    fl = ig.judge(truth, np.maximum(back, 0)[:, None], W)
    fine = ig.judge(test.profiles, test.profiles[:, None], W)
    floors = {"frame rotation eps_n{2}": fl["rel_rms"],
              f"{P}^2 vs {test.profile_cells}^2 grid": (np.array(fl["eps_true_rms"]) / np.array(fine["eps_true_rms"]) - 1)}
    results = {"model": pd.model, "n_train": len(train), "n_test": len(test), "eta_s": etas, "cells": P,
               "steps": a.steps, "base": a.base, "samples": a.samples, "floors": {k: list(map(float, v))
                                                                                  for k, v in floors.items()},
               "routes": {}}
    rows = []
    v2_in = ig.spectrum_flow(test.spectra, test.pt_edges, test.phi_edges, (2,))[0][:, 0]
    for route in a.routes.split(","):
        mpath = out / f"{route}.pt"
        t0 = time.time()
        if mpath.exists():
            model = torch.load(mpath, weights_only=True)
            t_train = model.get("train_seconds", math.nan)
        else:
            last = [0.0]

            def progress(what, k, n, loss):
                if time.time() - last[0] > 60 or k == n:
                    last[0] = time.time()
                    log(f"{route} {what}: step {k}/{n}, loss {loss:.4f}")

            model = ig.train_inverse(train, route, steps=a.steps, base=a.base, cells=P, seed=0, progress=progress)
            t_train = time.time() - t0
            model["train_seconds"] = t_train
            torch.save(model, mpath)
        t0 = time.time()
        gen = ig.sample_inverse(model, ig.route_inputs(test, route), test.conditions["eta_s"], samples=a.samples,
                                steps=a.sample_steps, seed=1)
        t_sample = time.time() - t0
        np.save(out / f"{route}_generated.npy", gen)
        j = ig.judge(truth, gen, W)
        rho_t = ig.blastwave_response(truth, W, test.conditions["eta_s"])[:, 0]
        rho_g = ig.blastwave_response(gen.reshape(-1, P, P), W, np.repeat(test.conditions["eta_s"], a.samples))
        rho_g = rho_g[:, 0].reshape(len(test), a.samples)
        closure = {"rho2_rms_rel": float(np.sqrt((rho_g ** 2).mean() / (rho_t ** 2).mean()) - 1),
                   "corr_rho2_gen_true": float(np.corrcoef(rho_g.mean(1), rho_t)[0, 1]),
                   "corr_v2in_rho2_gen": float(np.corrcoef(v2_in, rho_g.mean(1))[0, 1]),
                   "corr_v2in_rho2_true": float(np.corrcoef(v2_in, rho_t)[0, 1])}
        log(f"{route}: trained in {t_train:.0f} s, {len(test)}x{a.samples} profiles in {t_sample:.0f} s; closure {closure}")
        results["routes"][route] = {k: v for k, v in j.items() if not k.startswith(("eps_", "phi_"))} | {
            "eps_true_rms": j["eps_true_rms"], "eps_gen_rms": j["eps_gen_rms"], "train_seconds": t_train,
            "sample_seconds": t_sample, "closure_blastwave_map": closure,
            "final_loss": model["gen1"]["final_loss"]}
        rows.append((route, j))
        (out / "results.json").write_text(json.dumps(results, indent=1))
        print(table(rows, floors), flush=True)
    print(f"\n{pd.model} pairs, train {len(train)} / test {len(test)} events, {P}x{P} profiles, {a.steps} steps, "
          f"{a.samples} samples per input; Sun et al. report eps_n within ~5 %")
    for route, r in results["routes"].items():
        c = r["closure_blastwave_map"]
        print(f"closure {route}: rho2{{2}} gen/true - 1 = {100 * c['rho2_rms_rel']:+.1f} %, corr(rho2 gen, true) = "
              f"{c['corr_rho2_gen_true']:.2f}, corr(v2 input, rho2) gen {c['corr_v2in_rho2_gen']:.2f} vs true "
              f"{c['corr_v2in_rho2_true']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
