"""Normalizing flow on the free field (λ = 0) against the exact Gaussian: log Z, ESS, ⟨φ²⟩.

2D lattice, L = 8, κ = 0.2 (m² = 1/κ − 4 = 1 in bare units). The flow is trained by reverse KL from
the action alone, then ``--configs`` proposals are corrected by independence Metropolis. Reported:

- training steps and seconds, the importance ESS/N of the proposals, Metropolis acceptance ± error;
- log Z = log⟨e^{−S}/q⟩_q ± error against the exact Σ_p ½ log(2π/A(p)), and the pull;
- ⟨φ²⟩ of the corrected chain (Γ-method error) against the exact free propagator G(0).

Rows: the default flow (Fourier-space Gaussian layer + affine couplings) and, unless ``--quick``,
the couplings alone (``--no-spectral``), to show what the spectral layer buys.

    python benchmarks/flow_free_field.py            # about 3-5 min on one CPU thread
    python benchmarks/flow_free_field.py --quick    # default flow only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import h5py
import torch

from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.exact import free_log_partition, free_phi2
from qcdgen.lattice.flow_sampler import FlowSettings, sample_lattice_flow, train_lattice_flow
from qcdgen.stats import gamma_method

SIZE, KAPPA = 8, 0.2


def run(name: str, settings: FlowSettings, args) -> dict:
    action = Phi4Action(size=SIZE, kappa=KAPPA, lam=0.0)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmp)
        model = train_lattice_flow(action, tmp / "flow.pt", settings, device=args.device, progress=False)
        result = sample_lattice_flow(tmp / "flow.pt", tmp / "gen.h5", args.configs, chains=4, seed=args.seed + 7,
                                     device=args.device, progress=False)
        with h5py.File(tmp / "gen.h5") as f:
            phi, chain = f["phi"][...], f["chain"][...]
    phi2 = gamma_method((phi ** 2).mean(axis=(1, 2)), replicas=chain)
    m = result.metropolis
    exact_log_z, exact_phi2 = free_log_partition(SIZE, KAPPA, 2), free_phi2(SIZE, KAPPA, 2)
    return {"name": name, "steps": settings.steps, "train_seconds": model.train_seconds,
            "train_ess": model.evaluation["ess"], "ess": m.importance_ess, "acceptance": m.acceptance,
            "acceptance_error": m.acceptance_error, "log_z": m.log_z.value, "log_z_error": m.log_z.error,
            "exact_log_z": exact_log_z, "log_z_pull": (m.log_z.value - exact_log_z) / m.log_z.error,
            "phi2": phi2.value, "phi2_error": phi2.error, "exact_phi2": exact_phi2,
            "phi2_pull": (phi2.value - exact_phi2) / phi2.error, "tau_int": m.tau_int_abs_m.value,
            "restarts": len(model.restarts)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=FlowSettings().steps)
    parser.add_argument("--configs", type=int, default=20000, help="proposals for Metropolis and log Z")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="default flow only")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    variants = [("affine + spectral (default)", FlowSettings(steps=args.steps, seed=args.seed))]
    if not args.quick:
        variants.append(("affine only (--no-spectral)", FlowSettings(steps=args.steps, seed=args.seed, spectral=False)))
    rows = [run(name, s, args) for name, s in variants]
    print(f"Flow on the free field, d=2, L={SIZE}, kappa={KAPPA}, lambda=0; {args.configs} proposals, 4 IMH chains; "
          f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"exact log Z = {rows[0]['exact_log_z']:.5f}, exact <phi^2> = {rows[0]['exact_phi2']:.5f}")
    header = (f"{'flow':<28} {'steps':>5} {'train s':>8} {'ESS/N':>6} {'acceptance':>15} {'log Z':>20} "
              f"{'pull':>6} {'<phi^2> (IMH)':>20} {'pull':>6} {'tau_int':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['name']:<28} {r['steps']:>5} {r['train_seconds']:>8.1f} {r['ess']:>6.3f} "
              f"{r['acceptance']:>8.3f} ± {r['acceptance_error']:.3f} {r['log_z']:>10.5f} ± {r['log_z_error']:.5f} "
              f"{r['log_z_pull']:>+6.2f} {r['phi2']:>10.5f} ± {r['phi2_error']:.5f} {r['phi2_pull']:>+6.2f} "
              f"{r['tau_int']:>7.2f}")
    ok = abs(rows[0]["log_z_pull"]) < 3 and rows[0]["ess"] > 0.9
    print(f"requirement (default flow): |log Z pull| < 3 and ESS/N > 0.9: {'MET' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
