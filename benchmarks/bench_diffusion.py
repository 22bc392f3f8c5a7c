"""Diffusion model + independence Metropolis against HMC, 2D φ⁴ at λ = 0.022, in one run.

For each lattice size L and hopping parameter κ (symmetric phase and near the transition)
it generates an HMC ensemble (Fourier-accelerated Omelyan, the best HMC of
bench_hmc.py), trains the diffusion model on it, samples proposals with their
probability-flow log q, corrects them with independence Metropolis against e^{−S}, and
reports:

- training time (seconds),
- configurations per second (HMC: trajectories/s over the batch of chains; DM: proposals/s),
- Metropolis acceptance and the importance-sampling ESS/N of the proposals,
- τ_int(|M|) of each chain, and the wall-clock cost per independent configuration,
  2 τ_int / (configurations per second), both samplers batched the same way,
- the ratio HMC cost / DM cost (> 1: the diffusion sampler wins, training not counted),
  and the number of independent configurations after which training has paid off.

log q is exact (full Jacobians) up to 256 sites; beyond that the Hutchinson estimate makes the
Metropolis step approximate, and the row is marked "~".

    python benchmarks/bench_diffusion.py           # L = 16, 32; κ = 0.21, 0.265 (about 20-25 min on 2 idle cores)
    python benchmarks/bench_diffusion.py --quick   # L = 8 only, a few minutes

Results are printed as a table and saved to benchmarks/results/bench_diffusion.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from qcdgen.lattice.diffusion_sampling import SampleSettings, sample_lattice_diffusion
from qcdgen.lattice.diffusion_training import DiffusionSettings, train_lattice_diffusion
from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble


def run_point(size: int, kappa: float, args) -> dict:
    hmc = HMCSettings(size=size, kappa=kappa, lam=0.022, configs=args.hmc_configs, chains=4, seed=args.seed,
                      thermalize=300, integrator="omelyan", fourier_acceleration=True, device=args.device)
    # a fixed number of lattice sites per batch: the convolutional score learns per-site structure
    diffusion = DiffusionSettings(channels=16, blocks=2, steps=args.train_steps,
                                  batch_size=max(8, args.sites_per_batch // size ** 2), lr=3e-3, seed=args.seed)
    exact = size ** 2 <= 256
    sampling = SampleSettings(configs=args.proposals if exact else args.proposals_hutchinson, metropolis=True,
                              ode_steps=args.ode_steps, solver="heun", seed=args.seed + 1,
                              batch_size=min(250, args.proposals))
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmp)
        h = generate_hmc_ensemble(tmp / "ref.h5", hmc, progress=False)
        model = train_lattice_diffusion(tmp / "ref.h5", tmp / "model.pt", diffusion, device=args.device,
                                        progress=False)
        s = sample_lattice_diffusion(tmp / "model.pt", tmp / "gen.h5", sampling, device=args.device, progress=False)
    hmc_cost = 2 * h.tau_int_abs_m.value / h.trajectories_per_second
    dm_cost = 2 * s.tau_int_abs_m.value / s.proposals_per_second
    payoff = model.train_seconds / (hmc_cost - dm_cost) if dm_cost < hmc_cost else math.inf
    return {
        "L": size, "kappa": kappa, "exact": s.exact, "divergence": s.divergence,
        "hmc_trajectories_per_s": h.trajectories_per_second, "hmc_acceptance": h.acceptance.value,
        "hmc_tau_int": h.tau_int_abs_m.value, "hmc_tau_int_error": h.tau_int_abs_m.error,
        "hmc_cost_s": hmc_cost,
        "train_s": model.train_seconds, "train_steps": diffusion.steps, "batch_size": diffusion.batch_size, "final_loss": float(model.loss_values[-1]),
        "dm_proposals": sampling.configs, "dm_proposals_per_s": s.proposals_per_second,
        "dm_acceptance": s.acceptance, "dm_importance_ess": s.importance_ess,
        "dm_tau_int": s.tau_int_abs_m.value, "dm_tau_int_error": s.tau_int_abs_m.error,
        "dm_cost_s": dm_cost, "hmc_over_dm": hmc_cost / dm_cost, "payoff_configs": payoff,
    }


def print_table(rows: list[dict]) -> None:
    header = (f"{'L':>3} {'kappa':>6} | {'HMC traj/s':>10} {'tau':>6} {'s/indep':>9} | {'train s':>7} "
              f"{'DM cfg/s':>8} {'acc':>6} {'ESS/N':>6} {'tau':>6} {'s/indep':>9} | {'HMC/DM':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        mark = "" if r["exact"] else "~"
        print(f"{r['L']:>3} {r['kappa']:>6.3f} | {r['hmc_trajectories_per_s']:>10.1f} {r['hmc_tau_int']:>6.2f} "
              f"{r['hmc_cost_s']:>9.2e} | {r['train_s']:>7.0f} {r['dm_proposals_per_s']:>8.2f} "
              f"{mark + format(r['dm_acceptance'], '.3f'):>6} {r['dm_importance_ess']:>6.3f} {r['dm_tau_int']:>6.2f} "
              f"{r['dm_cost_s']:>9.2e} | {r['hmc_over_dm']:>7.3g}")
    print("\ns/indep = 2 tau_int(|M|) / (configurations per second), all chains or proposals of the batch counted;"
          "\nHMC = Fourier-accelerated Omelyan (4 chains); DM = probability-flow ODE proposals + independence Metropolis;"
          "\nHMC/DM > 1 means the diffusion sampler is cheaper per independent configuration (training excluded);"
          "\n'~' = log q from the Hutchinson estimator, so the Metropolis step is only approximately exact.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,32")
    parser.add_argument("--kappas", default="0.21,0.265")
    parser.add_argument("--hmc-configs", type=int, default=2048)
    parser.add_argument("--train-steps", type=int, default=800)
    parser.add_argument("--sites-per-batch", type=int, default=16384, help="batch size x L^2 (default 16384)")
    parser.add_argument("--proposals", type=int, default=64, help="proposals with exact log q (L^2 <= 256)")
    parser.add_argument("--proposals-hutchinson", type=int, default=256, help="proposals on larger lattices")
    parser.add_argument("--ode-steps", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="L = 8 only")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_diffusion.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.proposals = "8", 400
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for kappa in (float(k) for k in args.kappas.split(",")):
            t0 = time.perf_counter()
            rows.append(run_point(size, kappa, args))
            print(f"  done L={size} kappa={kappa} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print_table(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nsaved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
