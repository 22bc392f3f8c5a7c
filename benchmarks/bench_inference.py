"""Posterior engines side by side: emulator + MCMC (emcee) against amortised NPE, on one toy problem.

The toy is the closure simulator of ``tests/test_inference_closure.py``: two parameters (a, b)
with a uniform prior on [0, 1]², twelve smooth observables, Gaussian noise σ = 0.02 on the data.
The same observed vector (truth a = 0.37, b = 0.61) goes to

- **exact MCMC**: emcee with the toy's exact Gaussian likelihood (the reference posterior);
- **emulator + MCMC**: a maximin design, simulations with small noise (σ = 0.005, as many events
  would give), the PCA + GP emulator, emcee with data + emulator covariance (``qcdgen infer
  emulate`` + ``calibrate``);
- **NPE**: a conditional spline flow trained on (θ, x) pairs with θ from the prior and x with the
  data's noise (``qcdgen infer npe``); then 10⁴ posterior draws per observation, and SBC on 200
  held-out simulations.

Columns: simulations the method used, training time, time to 10⁴ independent posterior samples
(MCMC: wall time × 10⁴ / effective samples, effective samples = walkers × kept steps / τ; NPE:
draws are independent, so the time of 10⁴ draws), and the posterior means and widths.

    python benchmarks/bench_inference.py            # the full comparison
    python benchmarks/bench_inference.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from qcdgen.inference.calibrate import sample_emcee
from qcdgen.inference.design import ParameterBox, make_design
from qcdgen.inference.emulator import Emulator
from qcdgen.inference.likelihood import BoxPrior, GaussianLikelihood, LogPosterior, emulator_likelihood
from qcdgen.inference.npe import NPESettings, npe_sbc, sample_posterior, train_npe
from qcdgen.runtime import set_threads

CLASSES = [f"{10 * c}-{10 * c + 10}%" for c in range(6)]
KEYS = [(o, c) for o in ("f", "g") for c in CLASSES]
TRUTH = np.array([0.37, 0.61])
DATA_ERR = 0.02
SIM_NOISE = 0.005
BOX = ParameterBox(("a", "b"), [0.0, 0.0], [1.0, 1.0])


def model(theta):
    """The closure toy's noise-free observables (N, 12) at θ (N, 2)."""
    a, b = np.atleast_2d(theta).T
    c = np.arange(6)[None, :]
    f = a[:, None] * (1 + c / 5) + b[:, None] ** 2 * np.sin(c + 1) + 0.5 * (a * b)[:, None]
    g = np.exp(-a[:, None] * (c + 1) / 5) + 0.3 * b[:, None] * c / 5
    return np.concatenate([f, g], axis=1)


def simulate(theta, rng, noise=DATA_ERR):
    theta = np.atleast_2d(theta)
    return model(theta) + noise * rng.normal(size=(len(theta), 12))


def mcmc(log_post, walkers, max_steps, seed):
    rng = np.random.default_rng(seed)
    start = TRUTH + 0.01 * rng.normal(size=(walkers, 2))
    t0 = time.perf_counter()
    res = sample_emcee(log_post, np.clip(start, 0.01, 0.99), seed=seed, max_steps=max_steps)
    wall = time.perf_counter() - t0
    ess = res.effective_samples
    return {"wall_s": wall, "tau": float(np.max(res.tau)), "steps": res.steps, "ess": ess,
            "s_per_1e4_independent": wall * 1e4 / ess, "converged": res.converged,
            "mean": res.samples.mean(0).tolist(), "std": res.samples.std(0, ddof=1).tolist()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small settings (smoke run)")
    p.add_argument("--design-points", type=int, default=40)
    p.add_argument("--npe-sims", type=int, default=20000)
    p.add_argument("--npe-epochs", type=int, default=60)
    p.add_argument("--max-steps", type=int, default=20000)
    p.add_argument("--walkers", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/bench_inference.json")
    args = p.parse_args()
    if args.quick:
        args.design_points, args.npe_sims, args.npe_epochs, args.max_steps = 20, 3000, 8, 3000
    set_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    y_obs = simulate(TRUTH, np.random.default_rng(11))[0]
    cov_data = np.diag(np.full(12, DATA_ERR ** 2))
    rows = {}

    # toy simulator speed: one θ per call (what a campaign does) and vectorised
    t0 = time.perf_counter()
    for _ in range(2000):
        simulate(TRUTH, rng)
    per_call = 2000 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    simulate(BOX.from_unit(rng.random((100000, 2))), rng)
    batched = 1e5 / (time.perf_counter() - t0)

    # exact-likelihood MCMC (reference)
    exact_like = GaussianLikelihood(lambda th: (model(th), np.zeros((len(th), 12, 12))), y_obs, cov_data)
    rows["exact MCMC"] = mcmc(LogPosterior(BoxPrior(BOX), exact_like), args.walkers, args.max_steps, args.seed)
    rows["exact MCMC"].update(sims=0, train_s=0.0)

    # emulator + MCMC
    t0 = time.perf_counter()
    design = make_design([("a", 0, 1), ("b", 0, 1)], args.design_points, seed=3)
    design_s = time.perf_counter() - t0
    Y = simulate(design.points, rng, SIM_NOISE)
    t0 = time.perf_counter()
    emu = Emulator.fit(design.points, Y, design.box, KEYS, restarts=1, seed=args.seed)
    emu_train = time.perf_counter() - t0
    th = BOX.from_unit(rng.random((200, 2)))
    t0 = time.perf_counter()
    for t in th:
        emu.predict(t)
    emu_predict_us = 1e6 * (time.perf_counter() - t0) / len(th)
    r = mcmc(LogPosterior(BoxPrior(BOX), emulator_likelihood(emu, KEYS, y_obs, cov_data)), args.walkers,
             args.max_steps, args.seed)
    r.update(sims=args.design_points, train_s=emu_train, design_s=design_s, predict_us=emu_predict_us)
    rows["emulator + MCMC"] = r

    # NPE
    theta = BOX.from_unit(rng.random((args.npe_sims, 2)))
    x = simulate(theta, rng)
    settings = NPESettings(epochs=args.npe_epochs, batch_size=256, lr=2e-3, transforms=3, hidden=(64, 64),
                           patience=20, seed=args.seed)
    res = train_npe(theta, x, names=["a", "b"], inputs=[list(k) for k in KEYS], bounds=(BOX.lo, BOX.hi),
                    settings=settings)
    sample_posterior(res.model, y_obs, 100, 0)             # warm-up
    times = []
    for s in range(5):
        t0 = time.perf_counter()
        draws = sample_posterior(res.model, y_obs, 10000, s)
        times.append(time.perf_counter() - t0)
    held = BOX.from_unit(rng.random((200, 2)))
    sbc = npe_sbc(res.model, held, simulate(held, rng), n_posterior=99, seed=args.seed)
    rows["NPE"] = {"sims": args.npe_sims, "train_s": res.seconds, "epochs": res.epochs_run,
                   "ms_per_posterior_1e4": 1e3 * float(np.median(times)),
                   "s_per_1e4_independent": float(np.median(times)), "mean": draws.mean(0).tolist(),
                   "std": draws.std(0, ddof=1).tolist(), "sbc_p": sbc.p_values.tolist(), "sbc_passed": sbc.passed(),
                   "coverage_90": sbc.coverage[0.9].tolist()}

    threads = torch.get_num_threads()
    print(f"\nposterior engines on the closure toy (2 parameters, 12 observables, σ = {DATA_ERR}); "
          f"torch threads: {threads}{' (--quick)' if args.quick else ''}")
    print(f"toy simulator: {per_call:,.0f} simulations/s one per call, {batched:,.0f}/s vectorised")
    print(f"emulator: {args.design_points} design points (design {design_s:.1f} s), train {emu_train:.2f} s, "
          f"predict {emu_predict_us:.0f} µs per θ (mean + covariance)")
    hdr = f"{'method':>16s} {'sims':>7s} {'train s':>8s} {'tau':>6s} {'ESS':>7s} {'s / 1e4 indep.':>15s}"
    hdr += "".join(f" {'mean ' + n:>9s} {'sd ' + n:>8s}" for n in BOX.names)
    print(hdr)
    for name, r in rows.items():
        tau = f"{r['tau']:.1f}" if "tau" in r else "-"
        ess = f"{r['ess']:.0f}" if "ess" in r else "indep"
        line = f"{name:>16s} {r['sims']:>7d} {r['train_s']:>8.2f} {tau:>6s} {ess:>7s} {r['s_per_1e4_independent']:>15.3f}"
        line += "".join(f" {m:>9.4f} {s:>8.4f}" for m, s in zip(r["mean"], r["std"]))
        print(line)
    n = rows["NPE"]
    print(f"NPE: {n['epochs']} epochs; 10^4 draws in {n['ms_per_posterior_1e4']:.1f} ms per observation; "
          f"SBC on 200 held-out simulations: p = {', '.join(f'{v:.3g}' for v in n['sbc_p'])} "
          f"({'passed' if n['sbc_passed'] else 'FAILED'}), 90% coverage {', '.join(f'{v:.2f}' for v in n['coverage_90'])}")
    for name in ("exact MCMC", "emulator + MCMC"):
        if not rows[name]["converged"]:
            print(f"note: {name} stopped at --max-steps {args.max_steps} before 50 τ (not converged)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": threads, "quick": args.quick, "sims_per_s": per_call,
                               "sims_per_s_vectorised": batched, "rows": rows}, indent=1, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
