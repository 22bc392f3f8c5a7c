"""Spectral functions as posteriors: NN vs MEM vs GP on the two-peak mock, with the coverage of each band.

    python benchmarks/bench_spectral_posterior.py [--draws 10] [--methods nn,mem,gp,gp-marg] [--seed 0]

The mock is Wang, Shi, Zhou, PRD 106 (2022) L051502 (:func:`two_peak_paper_mock`: Breit–Wigners at M = 2, 5,
Γ = 0.5, 100 momenta in 0.2–20, 500 ω points on [0.04, 20], σ_i = 10⁻⁴ (p_i/0.2) D_i). For each of ``--draws``
independent noise draws every method fits the same data. Columns:

- SE: Σ_ω (ρ − ρ_true)² over the 500-point grid (mean ± standard error over draws; the paper's NN ≈ 1.2);
- cov68 / cov95: the fraction of ω points where the truth lies inside the method's 1σ / 1.96σ band, pooled
  over draws (± binomial error over draws). GP: the posterior band (type-II ML hyperparameters, or
  ``gp-marg``: marginalised over them by emcee). MEM: the ensemble band of ``--ensemble`` fits to resampled
  data, which is not a posterior; the NN is fitted once (no band: its ensemble costs minutes per draw).

Rows go to benchmarks/results/spectral_posterior.json as they finish (rerun with the same arguments resumes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from qcdgen.inverse.spectral.api import Correlator, reconstruct
from qcdgen.inverse.spectral.mock import two_peak_paper_mock
from qcdgen.io.atomic import atomic_write_text

LABELS = {"nn": "NN (1 fit)", "mem": "MEM (ensemble band)", "gp": "GP (type-II ML)",
          "gp-marg": "GP (marginalised)"}


def _fit(method: str, corr: Correlator, omega, seed: int, ensemble: int):
    if method == "gp-marg":
        return reconstruct(corr, omega, "gp", ensemble=1, seed=seed, progress=False, marginalise=True)
    n = 1 if method == "nn" else ensemble
    return reconstruct(corr, omega, method, ensemble=n, seed=seed, progress=False)


def _coverage(res, truth: np.ndarray, z: float) -> float | None:
    if res.members.shape[0] < 2 and res.band != "posterior":
        return None
    half = 0.5 * (res.rho_hi - res.rho_lo) if res.band == "posterior" else res.members.std(0, ddof=1)
    return float(np.mean(np.abs(truth - res.rho) <= z * half))


def run(draws: int, methods: list[str], seed: int, ensemble: int, out: Path) -> dict:
    done = json.loads(out.read_text()) if out.exists() else {}
    key = f"seed={seed},ensemble={ensemble}"
    cells = done.setdefault(key, {})
    for d in range(draws):
        mock = two_peak_paper_mock(torch.Generator().manual_seed(seed * 1000 + d))
        corr = Correlator(x=mock.x, value=mock.data, error=mock.sigma, kernel="kl")
        truth = mock.rho_true.numpy()
        for m in methods:
            if str(d) in cells.get(m, {}):
                continue
            t0 = time.perf_counter()
            res = _fit(m, corr, mock.omega, seed * 1000 + d, ensemble)
            cells.setdefault(m, {})[str(d)] = {
                "se": float(np.sum((res.rho - truth) ** 2)), "seconds": time.perf_counter() - t0,
                "cov68": _coverage(res, truth, 1.0), "cov95": _coverage(res, truth, 1.96),
                "chi2": res.chi2_per_point}
            atomic_write_text(out, json.dumps(done, indent=1))
            print(f"  draw {d} {LABELS[m]:<22} SE {cells[m][str(d)]['se']:.3f}  {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr, flush=True)
    return {m: [cells[m][str(d)] for d in range(draws)] for m in methods}


def _mean_err(values) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():6.3f} ± {a.std(ddof=1) / np.sqrt(a.size):5.3f}" if a.size > 1 else f"{a.mean():6.3f}"


def table(results: dict) -> str:
    head = f"{'method':<22} {'SE = sum (rho-rho_true)^2':>26} {'cov68':>16} {'cov95':>16} {'chi2/pt':>8} {'s/fit':>7}"
    lines = [head, "-" * len(head)]
    for m, rows in results.items():
        cov = {z: [r[z] for r in rows if r[z] is not None] for z in ("cov68", "cov95")}
        cells = [f"{_mean_err(cov[z]):>16}" if cov[z] else f"{'(no band)':>16}" for z in ("cov68", "cov95")]
        lines.append(f"{LABELS[m]:<22} {_mean_err([r['se'] for r in rows]):>26} {cells[0]} {cells[1]} "
                     f"{np.mean([r['chi2'] for r in rows]):8.2f} {np.mean([r['seconds'] for r in rows]):7.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--methods", default="nn,mem,gp,gp-marg")
    parser.add_argument("--ensemble", type=int, default=16, help="MEM ensemble size for its band (default 16)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in LABELS]
    if unknown or args.draws < 2:
        parser.error(f"--methods from {', '.join(LABELS)} and --draws >= 2 (got {unknown or args.draws})")
    torch.set_num_threads(1)
    out = Path(__file__).parent / "results" / "spectral_posterior.json"
    out.parent.mkdir(exist_ok=True)
    start = time.perf_counter()
    results = run(args.draws, methods, args.seed, args.ensemble, out)
    print(f"two-peak KL mock (Wang, Shi, Zhou 2022), {args.draws} noise draws, seed {args.seed}, torch "
          f"{torch.__version__}, 1 thread, {time.perf_counter() - start:.0f} s this run")
    print(table(results))
    print("cov: fraction of the 500 omega points inside the band, mean ± s.e. over draws (nominal 0.683 / 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
