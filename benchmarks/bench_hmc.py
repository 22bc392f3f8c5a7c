"""HMC throughput and cost per independent configuration, 2D φ⁴ at λ = 0.022.

For each lattice size L and hopping parameter κ (symmetric phase and near the transition,
κ_c ≈ 0.26–0.27 at this λ) and each HMC variant it measures, in one run:

- trajectories per second (all chains of the batch counted),
- the integrated autocorrelation time τ_int(|M|) in trajectories (Γ-method over chains),
- the cost per independent configuration, 2 τ_int(|M|) × (seconds per trajectory of one chain).

    python benchmarks/bench_hmc.py            # full table (about 15-25 minutes on 2 CPU cores)
    python benchmarks/bench_hmc.py --quick    # L = 16 only, a minute or two

Results are printed as a table and saved to benchmarks/results/bench_hmc.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble

VARIANTS = {
    "leapfrog": dict(integrator="leapfrog"),
    "omelyan": dict(integrator="omelyan"),
    "omelyan+FA": dict(integrator="omelyan", fourier_acceleration=True),
}
SEPARATION = 20  # only every 20th configuration is stored; τ_int uses every trajectory


def measure(size: int, kappa: float, variant: str, trajectories: int, chains: int, device: str, seed: int):
    settings = HMCSettings(size=size, kappa=kappa, lam=0.022, dim=2, chains=chains, seed=seed,
                           thermalize=max(300, trajectories // 5), separation=SEPARATION,
                           configs=chains * max(2, trajectories // SEPARATION), device=device,
                           **VARIANTS[variant])
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = generate_hmc_ensemble(Path(tmp) / "bench.h5", settings, progress=False)
        wall = time.perf_counter() - start
    tps = result.trajectories_per_second
    tau = result.tau_int_abs_m
    cost = 2.0 * tau.value / (tps / chains)  # seconds of one chain per independent configuration
    cost_err = 2.0 * tau.error / (tps / chains)
    return {
        "L": size, "kappa": kappa, "variant": variant, "chains": chains,
        "step_size": result.step_size, "n_steps": result.n_steps,
        "acceptance": result.acceptance.value, "trajectories_per_s": tps,
        "tau_int_abs_m": tau.value, "tau_int_abs_m_error": tau.error,
        "cost_per_indep_s": cost, "cost_per_indep_error_s": cost_err,
        "production_trajectories_per_chain": result.trajectories // chains, "wall_s": wall,
    }


def print_table(rows: list[dict]) -> None:
    header = (f"{'L':>3} {'kappa':>6} {'variant':<11} {'dt x n':>10} {'acc':>5} {'traj/s':>8} "
              f"{'tau_int(|M|)':>14} {'s/indep cfg':>16} {'vs leapfrog':>11}")
    print(header)
    print("-" * len(header))
    base = {(r["L"], r["kappa"]): r["cost_per_indep_s"] for r in rows if r["variant"] == "leapfrog"}
    for r in rows:
        ratio = base.get((r["L"], r["kappa"]), float("nan")) / r["cost_per_indep_s"]
        print(f"{r['L']:>3} {r['kappa']:>6.3f} {r['variant']:<11} {r['step_size']:>6.3f}x{r['n_steps']:<3} "
              f"{r['acceptance']:>5.2f} {r['trajectories_per_s']:>8.1f} "
              f"{r['tau_int_abs_m']:>7.2f} ± {r['tau_int_abs_m_error']:<5.2f}"
              f"{r['cost_per_indep_s']:>9.2e} ± {r['cost_per_indep_error_s']:.1e} {ratio:>8.2f}x")
    print("\ntraj/s counts all chains of the batch; s/indep cfg = 2 tau_int x seconds per trajectory of one chain;"
          "\n'vs leapfrog' = leapfrog cost / this cost (higher is better), same L, kappa and run.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,32,64")
    parser.add_argument("--kappas", default="0.21,0.265")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--trajectories", type=int, default=2000, help="production trajectories per chain")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="L = 16 only, 1000 trajectories")
    args = parser.parse_args(argv)
    sizes = [16] if args.quick else [int(s) for s in args.sizes.split(",")]
    trajectories = 1000 if args.quick else args.trajectories
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    for size in sizes:
        for kappa in (float(k) for k in args.kappas.split(",")):
            for variant in args.variants.split(","):
                row = measure(size, kappa, variant, trajectories, args.chains, args.device, args.seed)
                rows.append(row)
                print(f"  done L={size} kappa={kappa} {variant}: {row['wall_s']:.0f} s", file=sys.stderr, flush=True)
    print(f"\nHMC benchmark, 2D phi^4, lambda = 0.022, {args.chains} chains, device {args.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print_table(rows)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_hmc.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
