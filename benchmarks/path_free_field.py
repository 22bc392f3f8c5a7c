"""Path sampler on the 2D free field L = 8, κ = 0.2, λ = 0, where log Z and ⟨φ²⟩ are exact.

Trains by trajectory balance on e^{−S} alone, draws proposals, corrects them by path-space
independence Metropolis, and compares with the exact answers. One CPU thread, a few minutes:

    OMP_NUM_THREADS=1 python benchmarks/path_free_field.py [--steps 1000] [--configs 4000]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from qcdgen.io import read_ensemble
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_log_partition, free_phi2
from qcdgen.lattice.observables import measure
from qcdgen.lattice.path_sampler import PathSettings, pull, sample_lattice_path_sampler, train_lattice_path_sampler

SIZE, KAPPA = 8, 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--configs", type=int, default=4000)
    parser.add_argument("--time-steps", type=int, default=PathSettings.time_steps)
    parser.add_argument("--backward", default=PathSettings.backward)
    parser.add_argument("--loss", default=PathSettings.loss)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    action = Phi4Action(size=SIZE, kappa=KAPPA, lam=0.0, dim=2)
    settings = dataclasses.replace(PathSettings(), steps=args.steps, time_steps=args.time_steps,
                                   backward=args.backward, loss=args.loss, seed=args.seed)
    print(f"free field L={SIZE} kappa={KAPPA} d=2; {settings}")
    with tempfile.TemporaryDirectory() as tmp:
        model_path, ens_path = Path(tmp) / "path.pt", Path(tmp) / "gen.h5"
        t0 = time.perf_counter()
        model = train_lattice_path_sampler(action, model_path, settings, device=args.device, progress=False)
        wall = time.perf_counter() - t0
        result = sample_lattice_path_sampler(model_path, ens_path, args.configs, metropolis=True, chains=1,
                                             seed=args.seed + 7, device=args.device, progress=False)
        ens = read_ensemble(ens_path)
        phi2 = measure(torch.as_tensor(ens.phi), action, chains=ens.chain)["phi2"]
    exact_log_z, exact_phi2 = free_log_partition(SIZE, KAPPA, 2), free_phi2(SIZE, KAPPA, 2)
    imh = result.summary
    print(f"steps {settings.steps}, train {model.train_seconds:.1f} s (wall incl. evaluation {wall:.1f} s), "
          f"restarts {len(model.restarts)}")
    print(f"proposals {args.configs}: {result.proposals_per_second:.0f} paths/s, importance ESS/N "
          f"{result.importance_ess:.4f}")
    print(f"IMH acceptance {imh.acceptance:.4f} ± {imh.acceptance_error:.4f}, "
          f"tau_int(|M|) {imh.tau_int_abs_m.value:.2f} ± {imh.tau_int_abs_m.error:.2f}")
    print(f"log Z = {result.log_z.value:.4f} ± {result.log_z.error:.4f}, exact {exact_log_z:.4f}, "
          f"pull {pull(result.log_z.value, result.log_z.error, exact_log_z):+.2f}")
    print(f"<W> = {result.mean_work.value:.4f} ± {result.mean_work.error:.4f} "
          f"(>= -log Z = {-exact_log_z:.4f}; KL(P_F||P_B R/Z) = {result.mean_work.value + exact_log_z:.4f})")
    print(f"<phi^2> corrected = {phi2.value:.5f} ± {phi2.error:.5f}, exact {exact_phi2:.5f}, "
          f"pull {pull(phi2.value, phi2.error, exact_phi2):+.2f}")


if __name__ == "__main__":
    main()
