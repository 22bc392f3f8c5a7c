"""Conditional spectra diffusion (issue 21, Sun, Yan, Gale & Jeon, PRC 112 (2025) L051903): held-out ratio table,
"conditioning is real", fine-tuning to a new beta2, training-size note.

    python benchmarks/bench_spectra_diffusion.py [--data /work/h21data] [--out bench_out/spectra] [--steps 2000]
                                                 [--blastwave] [--finetune-steps 400]

Data: hydro pairs from DATA/*.parquet (+ .profiles.h5): eta/s 0.04, 0.08, 0.16, 0.20 train, 0.12 held out,
beta0.25_c0-5 / beta0.00_c0-5 for fine-tuning. Missing hydro files, or --blastwave, fall back to blast-wave events
generated here (same eta/s split; the table says which). Every stage is cached in OUT (pairs, models; training
checkpoints every 200 steps), so a rerun resumes.

Observables (identical acceptance on both sides: charged, |eta| < 0.5, 0.2 < pT < 2 GeV; dNch/deta at |eta| < 0.5,
pT < 2): vn{2,4,6,8} (n = 2, 3), rho_n, <dpT dpT>, <pT> from the per-event columns of qcdgen.hic.observables
(flow_columns, rho_columns, pt_columns). The hydro side is each held-out event's own charged hadrons (pd.cloud); the
generated side is K generated events per profile, their columns summed per profile, so the two sides stay paired
and the ratio's jackknife (20 groups of profiles, both sides deleted together) includes their correlation.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from qcdgen.hic.conditional.emulator import smooth_flow  # noqa: E402
from qcdgen.hic.conditional.pairs import build_pairs, concat_pairs, load_pairs, save_pairs  # noqa: E402
from qcdgen.hic.conditional.spectra_diffusion import (generate_events, load_spectra_model,  # noqa: E402
                                                      train_spectra_diffusion)
from qcdgen.hic.events import make_events  # noqa: E402
from qcdgen.hic.observables._resample import Resampler  # noqa: E402
from qcdgen.hic.observables.fluctuations import RHO_COLUMNS, _pt_func, _rho_func, rho_columns  # noqa: E402
from qcdgen.hic.observables.flow import QVectors, _v_from_c, cumulants_from_correlators, flow_columns  # noqa: E402
from qcdgen.hic.observables.spectra import FlatParticles, select  # noqa: E402

TRAIN_ETA = (0.04, 0.08, 0.16, 0.20)
HELD_ETA = 0.12
CLASSES = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 50))
ORD = (2, 4, 6, 8)
PT_MAX = 2.0


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------------ data
def _pairs(out: Path, name: str, files: list[str]):
    path = out / f"{name}.pairs.h5"
    if not path.exists():
        save_pairs(build_pairs(files), path)
    return load_pairs(path)


def _blastwave(out: Path, name: str, n: int, seed: int, **settings):
    from qcdgen.hic.generation import generate_to_file
    ev = out / f"bw_{name}.parquet"
    if not ev.exists():
        log(f"generating {n} blast-wave events {name} {settings}")
        generate_to_file(ev, model="blastwave", n_events=n, seed=seed, chunk_events=100, progress=False,
                         oversample=4, **settings)
    return _pairs(out, f"bw_{name}", [str(ev)])


def load_data(args, out: Path):
    """(train, held-out, {beta2: pairs} for fine-tuning, label)."""
    def hydro(pattern):
        return sorted(f for f in glob.glob(str(Path(args.data) / pattern)) if not f.endswith(".pairs.h5"))

    files = {eta: hydro(f"eta{eta:.2f}_r*.parquet") for eta in TRAIN_ETA}
    held = hydro("eta0.12_heldout*.parquet")
    have = [eta for eta, f in files.items() if f]
    if not args.blastwave and len(have) >= 2 and held:
        train = concat_pairs([_pairs(out, Path(f).stem, [f]) for eta in have for f in files[eta]])
        test = concat_pairs([_pairs(out, Path(f).stem, [f]) for f in held])
        beta = {b: concat_pairs([_pairs(out, Path(f).stem, [f]) for f in hydro(f"beta{b:.2f}_c0-5*.parquet")])
                for b in (0.0, 0.25) if hydro(f"beta{b:.2f}_c0-5*.parquet")}
        return train, test, beta, f"hydro (eta/s {have} train, {HELD_ETA} held out)"
    n = args.bw_events
    train = concat_pairs([_blastwave(out, f"eta{eta:.2f}", n, 100 + k, eta_s=eta, centrality=(0, 50))
                          for k, eta in enumerate(TRAIN_ETA)])
    test = _blastwave(out, "eta0.12_heldout", args.bw_heldout, 200, eta_s=HELD_ETA, centrality=(0, 50))
    beta = {b: _blastwave(out, f"beta{b:.2f}_c0-5", nb, 300 + k, eta_s=0.08, centrality=(0, 5), beta2=b)
            for k, (b, nb) in enumerate(((0.0, args.bw_beta - 500), (0.25, args.bw_beta)))}
    return train, test, beta, f"BLAST WAVE fallback (eta/s {list(TRAIN_ETA)} train, {HELD_ETA} held out)"


def train(pd, path: Path, steps: int, **kw):
    if path.exists():
        return load_spectra_model(path)
    t0 = time.time()
    model = train_spectra_diffusion(pd, steps=steps, checkpoint=path.with_suffix(".ckpt.pt"), **kw)
    model.save(path)
    log(f"trained {path.name}: {len(pd)} pairs, {steps} steps, {time.time() - t0:.0f} s, "
        f"loss {model.info['final_loss']:.4f}")
    return model


# ------------------------------------------------------------------------------------------------ observables
def truth_events(pd):
    """The held-out events' own charged hadrons (|eta| < 0.8 clouds) as events (massless: y = eta)."""
    counts, cols = [], []
    for i in range(len(pd)):
        c = np.asarray(pd.cloud(i), float)
        c = c[c[:, 0] < PT_MAX]
        counts.append(len(c))
        cols.append(c)
    c = np.concatenate(cols)
    pt, phi, eta, q = c.T
    parts = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "E": pt * np.cosh(eta),
             "mass": np.zeros(len(c)), "pdg": 211 * q.astype(int), "charge": q.astype(int)}
    return make_events(counts, parts, centrality=pd.conditions["centrality"])


def columns(events) -> np.ndarray:
    """Per-event columns: flow n=2,3 (N,W for k = 2..8), RHO_COLUMNS for n=2,3, N_ch(|eta| < 0.5)."""
    flat = FlatParticles.from_events(events)
    acc = flat.subset(select(flat, eta_max=0.5, pt_range=(0.2, PT_MAX), charged=True))
    qv = QVectors(acc.phi, acc.event, acc.n_events)
    out = []
    for n in (2, 3):
        fc = flow_columns(acc, n, ORD, qv=qv)
        out += [fc[f"{x}{k}"] for k in ORD for x in ("N", "W")]
    for n in (2, 3):
        rc = rho_columns(acc, n, qv)
        out += [rc[k] for k in RHO_COLUMNS]
    out.append(flat.count(select(flat, eta_max=0.5, pt_range=(0.0, PT_MAX), charged=True)))
    return np.stack(out, 1).astype(np.float64)


NAMES = [f"v{n}{{{k}}}" for n in (2, 3) for k in ORD] + ["rho2", "rho3", "<dpT dpT>", "dNch/deta", "<pT>"]


def observables(m):
    """Observables (last axis) from column means m[..., A] (A = columns() width)."""
    res, j = [], 0
    for _ in (2, 3):
        means = [m[..., j + 2 * i] / m[..., j + 2 * i + 1] for i in range(len(ORD))]
        c = cumulants_from_correlators(*means)
        res += [_v_from_c(k, c[k]) for k in ORD]
        j += 2 * len(ORD)
    rhos, nr = [], len(RHO_COLUMNS)
    for _ in (2, 3):
        rhos.append(_rho_func(m[..., j:j + nr])[..., 0])
        pt = _pt_func(m[..., j + 6:j + nr])
        j += nr
    return np.stack(res + rhos + [pt[..., 1], m[..., j], pt[..., 0]], axis=-1)


def ratio_table(gen_cols, truth_cols, cent):
    """{class: (ratio [K], error [K], gen [K], truth [K])}, joint jackknife over profiles (20 groups)."""
    a = gen_cols.shape[1]
    out = {}
    for lo, hi in CLASSES:
        idx = np.flatnonzero((cent >= lo) & (cent < hi))
        if len(idx) < 10:
            continue
        mat = np.concatenate([gen_cols[idx], truth_cols[idx]], 1)
        rs = Resampler(len(idx), "jackknife", 20)

        def func(m):
            g, t = observables(m[..., :a]), observables(m[..., a:])
            return np.concatenate([g / t, g, t], axis=-1)

        est, _ = rs.estimate(mat, func, [f"{w}:{x}" for w in ("r", "g", "t") for x in NAMES])
        k = len(NAMES)
        out[f"{lo}-{hi}%"] = (np.array([e.value for e in est[:k]]), np.array([e.error for e in est[:k]]),
                              est[k:2 * k], est[2 * k:], len(idx))
    return out


def gen_columns(model, pd, eta_s, k, seed, extrapolate=False):
    """Columns of K generated events per profile, summed per profile (N_ch averaged)."""
    total, speed = None, []
    for r in range(k):
        t0 = time.time()
        ev, spectra = generate_events(model, pd, eta_s, steps=30, seed=seed + r, extrapolate=extrapolate)
        speed.append(len(pd) / (time.time() - t0))
        c = columns(ev)
        total = c if total is None else total + c
        if r == 0:
            first = spectra
    total[:, -1] /= k
    return total, first, float(np.mean(speed))


def vec_corr(a, b):
    return float(np.real(np.sum(a * np.conj(b))) / np.sqrt(np.sum(abs(a) ** 2) * np.sum(abs(b) ** 2)))


def boot(fn, n, reps=200, seed=0):
    rng = np.random.default_rng(seed)
    vals = [fn(rng.integers(0, n, n)) for _ in range(reps)]
    return float(np.std(vals, ddof=1))


def print_ratio_table(table, title):
    print(f"\n{title}")
    print(f"{'class':>7} {'observable':>11} {'generated':>22} {'hydro':>22} {'ratio':>16}  flag")
    worst = {}
    for cls, (r, e, g, t, n) in table.items():
        for j, name in enumerate(NAMES):
            flag = "" if not np.isfinite(r[j]) else ("OUT" if abs(r[j] - 1) > 0.05 else "")
            if not np.isfinite(r[j]):
                flag = "n/a"
            print(f"{cls:>7} {name:>11} {g[j].value:>12.5g} ±{g[j].error:<8.2g} {t[j].value:>12.5g} ±{t[j].error:<8.2g}"
                  f" {r[j]:>7.3f} ± {e[j]:<6.3f}  {flag}")
            worst.setdefault(name, []).append((r[j], e[j]))
        print(f"{cls:>7} ({n} held-out profiles)")
    print("\nmean |ratio - 1| over classes (order of the correlation):")
    for name, vals in worst.items():
        dev = [abs(x - 1) for x, _ in vals if np.isfinite(x)]
        err = [s for x, s in vals if np.isfinite(x)]
        if dev:
            print(f"  {name:>11}: {np.mean(dev):.3f}  (typical error {np.median(err):.3f}, {len(dev)} classes)")


# ------------------------------------------------------------------------------------------------ main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/h21data")
    ap.add_argument("--out", default="bench_out/spectra")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--blastwave", action="store_true", help="use blast-wave pairs even if hydro pairs exist")
    ap.add_argument("--bw-events", type=int, default=150, help="blast-wave events per training eta/s")
    ap.add_argument("--bw-heldout", type=int, default=300)
    ap.add_argument("--bw-beta", type=int, default=700,
                    help="blast-wave 0-5 %% events at beta2 = 0.25 (500 train, the rest test; beta2 = 0: the rest)")
    ap.add_argument("--gen-per-profile", type=int, default=4)
    ap.add_argument("--finetune-steps", type=int, default=400)
    ap.add_argument("--skip-finetune", action="store_true")
    ap.add_argument("--only-finetune", action="store_true", help="skip the held-out table and conditioning check")
    ap.add_argument("--finetune-lr", type=float, default=5e-4, help="peak learning rate of fine-tuning (scratch: 2e-3)")
    ap.add_argument("--scratch-steps", type=int, default=0,
                    help="also train from scratch on the fine-tuning events for this many steps (e.g. the base budget)")
    ap.add_argument("--size-scan", default="", help="comma-separated training fractions, e.g. 0.25,0.5: held-out "
                                                    "V2 correlation and 0-50 %% ratios against the training size")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()

    train_pd, test_pd, beta, label = load_data(args, out)
    log(f"data: {label}; {len(train_pd)} training pairs, {len(test_pd)} held-out pairs")
    model = train(train_pd, out / "base.pt", args.steps, base=args.base, batch=32, lr=2e-3, seed=0)

    if not args.only_finetune:
        # held-out ratio table ------------------------------------------------------------------------
        cent = np.asarray(test_pd.conditions["centrality"], float)
        truth_cols = columns(truth_events(test_pd))
        g_cols, g_spec, speed = gen_columns(model, test_pd, HELD_ETA, args.gen_per_profile, seed=7)
        table = ratio_table(g_cols, truth_cols, cent)
        print(f"\n=== spectra diffusion on {label} ===")
        print(f"training pairs: {len(train_pd)} (Sun et al.: 36,000); held-out profiles: {len(test_pd)} at eta/s "
              f"{HELD_ETA}; {args.gen_per_profile} generated events per profile; sampling {speed:.1f} events/s "
              f"(1 CPU thread, PF-ODE 30 Heun steps)")
        print_ratio_table(table, "held-out ratio table (generated / hydro; OUT = outside 1 ± 0.05)")

        # conditioning is real --------------------------------------------------------------------------
        tv = smooth_flow(test_pd)[0][:, 0]
        gv = smooth_flow(replace(test_pd, spectra=g_spec.astype(np.float32)))[0][:, 0]
        perm = np.random.default_rng(3).permutation(len(test_pd))
        sv = smooth_flow(replace(test_pd, spectra=generate_events(model, test_pd.subset(perm), HELD_ETA, steps=30,
                                                                  seed=9)[1].astype(np.float32)))[0][:, 0]
        n = len(tv)
        print("\nconditioning: per-event V2 of generated vs hydro spectra over held-out profiles (bootstrap errors)")
        for tag, v in (("model", gv), ("shuffled profiles", sv)):
            cv = vec_corr(v, tv)
            cm = float(np.corrcoef(abs(v), abs(tv))[0, 1])
            print(f"  {tag:>18}: vector corr Re<V2g V2h*>/norms = {cv:.3f} ± {boot(lambda i: vec_corr(v[i], tv[i]), n):.3f};"
                  f"  Pearson(|v2|) = {cm:.3f} ± {boot(lambda i: np.corrcoef(abs(v[i]), abs(tv[i]))[0, 1], n):.3f}")

    # fine-tuning -------------------------------------------------------------------------------------
    if not args.skip_finetune and 0.25 in beta:
        b25 = beta[0.25]
        ntr = min(500, len(b25) - max(len(b25) // 5, min(100, len(b25) // 2)))  # Sun et al.: 500; keep >= 20 % held out
        tr, te = b25.subset(np.arange(ntr)), b25.subset(np.arange(ntr, len(b25)))
        eta = float(np.median(tr.conditions["eta_s"]))
        tag = f"_n{ntr}_s{args.finetune_steps}"
        lr_tag = "" if args.finetune_lr == 5e-4 else f"_lr{args.finetune_lr:g}"
        ft = train(tr, out / f"finetune_b025{tag}{lr_tag}.pt", args.finetune_steps, init=model, seed=1,
                   lr=args.finetune_lr, batch=32)
        sc = train(tr, out / f"scratch_b025{tag}.pt", args.finetune_steps, base=args.base, seed=1, lr=2e-3, batch=32)
        models = [("base (no fine-tuning)", model), ("fine-tuned", ft), ("from scratch", sc)]
        if args.scratch_steps and args.scratch_steps != args.finetune_steps:  # scratch given the base model's budget
            models.append((f"scratch {args.scratch_steps} steps",
                           train(tr, out / f"scratch_b025_n{ntr}_s{args.scratch_steps}.pt", args.scratch_steps,
                                 base=args.base, seed=1, lr=2e-3, batch=32)))
        print(f"\nfine-tuning: {ntr} events at beta2 = 0.25 (0-5 %), {args.finetune_steps} steps each "
              f"(fine-tuning lr {args.finetune_lr:g}, scratch 2e-3); "
              f"test on {len(te)} held-out profiles; v2{{2}} (|eta| < 0.5, 0.2 < pT < 2)")
        rows = {}
        sets = {0.25: te}
        if 0.0 in beta:
            sets[0.0] = beta[0.0].subset(np.arange(max(0, len(beta[0.0]) - len(te)), len(beta[0.0])))
        for b, pdb in sets.items():
            tc = columns(truth_events(pdb))
            for tag, m in models:
                gc, _, _ = gen_columns(m, pdb, eta, 2, seed=11, extrapolate=True)
                r = ratio_table(gc, tc, np.full(len(pdb), 1.0))["0-10%"]
                rows[(b, tag)] = (r[2][0], r[3][0], r[0][0], r[1][0])
        for (b, tag), (g, t, r, e) in rows.items():
            print(f"  beta2={b:4.2f} {tag:>22}: v2{{2}} gen {g.value:.4f} ± {g.error:.4f}  hydro {t.value:.4f} ± "
                  f"{t.error:.4f}  ratio {r:.3f} ± {e:.3f}  pull {(g.value - t.value) / math.hypot(g.error, t.error):+.1f}")
        if 0.0 in beta:
            for tag, _ in models:
                g0, t0 = rows[(0.0, tag)][:2]
                g1, t1 = rows[(0.25, tag)][:2]
                dg, dt = g1.value - g0.value, t1.value - t0.value
                eg, et = math.hypot(g1.error, g0.error), math.hypot(t1.error, t0.error)
                print(f"  beta2 dependence v2{{2}}(0.25) - v2{{2}}(0) {tag:>22}: gen {dg:+.4f} ± {eg:.4f}  "
                      f"hydro {dt:+.4f} ± {et:.4f}  pull {(dg - dt) / math.hypot(eg, et):+.1f}")
    if args.size_scan:
        fracs = [float(x) for x in args.size_scan.split(",")] + [1.0]
        print(f"\ntraining size ({args.steps} steps each; held-out eta/s {HELD_ETA}, all classes 0-50 % together):")
        for frac in fracs:
            n_tr = int(round(frac * len(train_pd)))
            m = model if frac == 1.0 else train(train_pd.subset(np.random.default_rng(5).permutation(len(train_pd))[:n_tr]),
                                                out / f"size{frac:g}.pt", args.steps, base=args.base, batch=32, seed=0)
            gc, gs, _ = gen_columns(m, test_pd, HELD_ETA, 1, seed=7)
            r = ratio_table(gc, truth_cols, np.full(len(test_pd), 5.0))["0-10%"]
            gv2 = smooth_flow(replace(test_pd, spectra=gs.astype(np.float32)))[0][:, 0]
            parts = "  ".join(f"{NAMES[j]} {r[0][j]:.3f}±{r[1][j]:.3f}" for j in (0, 1, 4, 11, 12))
            print(f"  {n_tr:5d} pairs: V2 vector corr {vec_corr(gv2, tv):.3f}  ratios {parts}  "
                  f"loss {m.info.get('final_loss', float('nan')):.4f}")
    print(f"\ntotal {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
