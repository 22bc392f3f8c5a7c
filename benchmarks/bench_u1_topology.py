"""Topological freezing in 2D U(1) gauge theory: HMC against the gauge-equivariant flow + independence Metropolis.

For each β (default 2 … 6 at L = 8) one run measures, side by side:

- HMC on links (Omelyan, step size tuned to 80 % acceptance, trajectory length 1): τ_int(Q) in
  trajectories (Γ-method over chains) and trajectories per second over the whole batch of chains;
- the flow of Kanwar et al. (PRL 125 (2020) 121601), trained on e^{−S} alone, then proposals with
  exact log q corrected by independence Metropolis: τ_int(Q) in proposals and proposals per second;
  with --anneal also a flow trained at each β starting from the previous β's (the training time of
  every earlier stage is charged to the row); and the same couplings on the independent-plaquette
  prior (:mod:`qcdgen.lattice.u1.plaquette_prior`, rows ``pflow+imh``, --priors);
- the cost per independent Q, 2 τ_int(Q) / throughput (both samplers batched on the same cores),
  and for the flow also with its training time amortised over N configurations, 2 τ_int(Q) ×
  (1/throughput + t_train/N), for N = 10⁴, 10⁵, 10⁶;
- validation of every row against the exact torus values (:mod:`qcdgen.lattice.u1.exact`): pulls of
  ⟨cos θ_P⟩ and χ_t, and the number of independent Q samples N/(2τ_int) (flagged below 50).

    python benchmarks/bench_u1_topology.py                     # β = 2..6, L = 8 (see RESULTS.md for the time)
    python benchmarks/bench_u1_topology.py --betas 2 --quick   # a smoke run, a minute or two
    python benchmarks/bench_u1_topology.py --size 16 --betas 2 3 4 5 6 7 --priors plaquette   # L = 16

Trained flows and ensembles stay in --workdir, so a rerun skips finished work. The table is printed
and saved as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import h5py
import torch

from qcdgen.lattice.observe import observe_file
from qcdgen.lattice.samplers import load_sampler_model, sample_lattice_sampler, train_lattice_sampler
from qcdgen.lattice.u1 import U1Action, exact
from qcdgen.lattice.u1.hmc import U1HMCSettings, generate_hmc_ensemble
from qcdgen.lattice.u1.validation import MIN_INDEPENDENT, independent_samples
from qcdgen.runtime import set_threads

AMORTISE = (1e4, 1e5, 1e6)
SEPARATION = 20  # HMC stores every 20th configuration; τ_int(Q) uses every trajectory


def hmc_thermalize(beta: float) -> int:
    """Thermalisation ≥ 10 τ_int(Q): from a hot start the charge relaxes only on the τ(Q) time scale, and a
    shorter start leaves excess charge (a low plaquette) in the sample."""
    return int(min(50_000, max(1000, 10 * 15 * math.exp(1.41 * (beta - 3)))))


def hmc_trajectories(beta: float) -> int:
    """Trajectories per chain, ≥ 50 τ_int(Q): at L = 8, τ_int(Q) ≈ 15 e^{1.41 (β − 3)} (measured at β = 2, 3, 6)."""
    return int(min(200_000, max(4000, 50 * 15 * math.exp(1.41 * (beta - 3)))) // SEPARATION * SEPARATION)


def judge(path: Path, beta: float, size: int) -> dict:
    est = observe_file(path)
    with h5py.File(path, "r") as f:
        n = len(f["chain"])
    out = {"n": n}
    for name, truth in (("plaquette", exact.plaquette(beta, size)),
                        ("topological_susceptibility", exact.topological_susceptibility(beta, size))):
        e = est[name]
        out[name] = e.value
        out[f"{name}_error"] = e.error
        out[f"{name}_pull"] = (e.value - truth) / e.error if e.error > 0 else math.nan
    out["tau_int_q_saved"] = est["topological_charge"].tau_int
    out["independent_q"] = independent_samples(n, est["topological_charge"].tau_int)
    return out


def run_hmc(size: int, beta: float, chains: int, trajectories: int, workdir: Path, seed: int) -> dict:
    path = workdir / f"hmc_L{size}_b{beta:g}.h5"
    settings = U1HMCSettings(size=size, beta=beta, chains=chains, seed=seed, thermalize=hmc_thermalize(beta),
                             separation=SEPARATION,
                             configs=chains * (trajectories // SEPARATION))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = generate_hmc_ensemble(path, settings, progress=True)
    tps = result.trajectories_per_second
    tau = result.tau_int
    return {"sampler": "hmc", "L": size, "beta": beta, "tau_int_q": tau.value, "tau_int_q_error": tau.error,
            "per_second": tps, "acceptance": result.acceptance.value, "train_s": 0.0,
            "detail": f"{result.step_size:.3f}x{result.n_steps}, {chains} chains x {trajectories} "
                      f"after {settings.thermalize}",
            **judge(path, beta, size)}


def run_flow(size: int, beta: float, steps: int, proposals: int, batch: int, workdir: Path, seed: int,
             init: Path | None = None, earlier_train_s: float = 0.0, prior: str = "uniform") -> dict:
    """Train (or reuse) the flow at β, from scratch or from ``init`` (annealing: ``earlier_train_s`` is the
    training time of the stages before, charged to this row too), then sample with independence Metropolis.
    ``prior``: Haar links (Kanwar et al.) or the independent-plaquette prior (``pflow`` rows)."""
    tag = f"L{size}_b{beta:g}_s{steps}" + ("_anneal" if init is not None else "") + \
        ("_plaq" if prior == "plaquette" else "")
    model_path = workdir / f"flow_{tag}.pt"
    action = U1Action(size=size, beta=beta)
    if model_path.exists():
        model = load_sampler_model(model_path, sampler="u1-flow")
    else:
        model = train_lattice_sampler("u1-flow", action, model_path,
                                      dict(steps=steps, batch_size=batch, seed=seed, prior=prior,
                                           **({"layers": 2} if steps == 0 else {})),  # untrained: no idle layers
                                      progress=True, init=init)
    path = workdir / f"flow_{tag}.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sample_lattice_sampler(model_path, path, dict(configs=proposals, chains=1, batch_size=1000,
                                                                seed=seed + 1), sampler="u1-flow", progress=True)
    tau = result.tau_int
    if prior == "plaquette":
        name = "plaq+imh" if steps == 0 else "pflow+imh"  # the prior alone (identity couplings) / trained
    else:
        name = "flow+imh" if init is None else "anneal+imh"
    return {"sampler": name, "L": size, "beta": beta,
            "tau_int_q": tau.value, "tau_int_q_error": tau.error, "model": str(model_path),
            "per_second": result.proposals_per_second, "acceptance": result.acceptance,
            "train_s": earlier_train_s + float(model.train_seconds), "ess": float(model.evaluation.get("ess", math.nan)),
            "kl": float(model.evaluation.get("kl", math.nan)),
            "detail": f"{model.settings.layers} layers, {steps} steps x {batch}", **judge(path, beta, size)}


def costs(row: dict) -> dict:
    tau, dtau = row["tau_int_q"], row["tau_int_q_error"]
    if not math.isfinite(tau):  # a chain that never changed sector: no independent Q at all
        tau, dtau = math.inf, math.nan
    per = 1.0 / row["per_second"]
    row["cost_s"] = 2 * tau * per
    row["cost_error_s"] = 2 * dtau * per
    for n in AMORTISE:
        row[f"cost_amortised_{n:.0e}"] = 2 * tau * (per + row["train_s"] / n)
    return row


def print_table(rows: list[dict], threads: int) -> None:
    print(f"\n2D U(1): cost per independent topological charge Q (torch threads: {threads})")
    head = (f"{'L':>3} {'beta':>5} {'sampler':<10} {'acc':>5} {'tau_int(Q)':>17} {'cfg/s':>9} {'train s':>8} "
            f"{'s/indep Q':>10} {'amort 1e4':>10} {'amort 1e5':>10} {'amort 1e6':>10} {'HMC/flow 1e5':>12} "
            f"{'plaq pull':>9} {'chi_t pull':>10} {'N_ind':>7}")
    print(head)
    print("-" * len(head))
    hmc = {(r["L"], r["beta"]): r for r in rows if r["sampler"] == "hmc"}
    for r in rows:
        ref = hmc.get((r["L"], r["beta"]))
        ratio = ref["cost_s"] / r["cost_amortised_1e+05"] if ref and r["sampler"] != "hmc" else math.nan
        flag = "" if r["independent_q"] >= MIN_INDEPENDENT else " (flagged: N_ind < 50)"
        if not flag and max(abs(r["plaquette_pull"]), abs(r["topological_susceptibility_pull"])) > 3:
            flag = " (|pull| > 3)"
        print(f"{r['L']:>3} {r['beta']:>5g} {r['sampler']:<10} {r['acceptance']:>5.2f} "
              f"{r['tau_int_q']:>8.3g} ± {r['tau_int_q_error']:<6.2g} {r['per_second']:>9.3g} {r['train_s']:>8.0f} "
              f"{r['cost_s']:>10.3g} {r['cost_amortised_1e+04']:>10.3g} {r['cost_amortised_1e+05']:>10.3g} "
              f"{r['cost_amortised_1e+06']:>10.3g} {ratio:>12.3g} {r['plaquette_pull']:>+9.2f} "
              f"{r['topological_susceptibility_pull']:>+10.2f} {r['independent_q']:>7.0f}{flag}")
    print("\nflow+imh / anneal+imh: Haar prior (Kanwar et al.); plaq+imh: the independent-plaquette prior alone (i.i.d."
          "\nvon Mises plaquettes, exact in 2D up to the one global constraint; couplings at the identity);"
          "\npflow+imh: the same prior with the couplings trained by reverse KL.")
    print("s/indep Q = 2 tau_int(Q) / (configurations per second over the whole batch); amort N adds the flow's"
          "\ntraining time / N per configuration; HMC/flow 1e5 = HMC cost / flow cost with training amortised over"
          "\n1e5 configurations (> 1: the flow is cheaper). Pulls against the exact torus values; N_ind = N/(2 tau_int)"
          "\nof the saved ensemble.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=[2.0, 3.0, 4.0, 5.0, 6.0])
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--hmc-chains", type=int, default=16)
    parser.add_argument("--flow-steps", type=int, default=1500)
    parser.add_argument("--flow-batch", type=int, default=256)
    parser.add_argument("--proposals", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="short chains and training (smoke test)")
    parser.add_argument("--anneal", action="store_true",
                        help="also train each beta's flow from the previous beta's (training time accumulates)")
    parser.add_argument("--priors", nargs="+", choices=("uniform", "plaquette"), default=["uniform", "plaquette"],
                        help="flow rows to run: Haar prior (flow+imh, anneal+imh) and/or the independent-plaquette "
                             "prior (pflow+imh)")
    parser.add_argument("--plaquette-steps", type=int, nargs="+", default=[0, 300],
                        help="reverse-KL steps of the plaquette-prior flow, one row each (0: the prior alone)")
    parser.add_argument("--workdir", default="benchmarks/results/u1")
    parser.add_argument("--out", default="benchmarks/results/bench_u1_topology.json")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cache_path = workdir / "rows.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    def row(key: str, run) -> dict:
        """A finished row from the cache (an interrupted or extended benchmark resumes), else run it."""
        if key not in cache:
            cache[key] = costs(run())
            cache_path.write_text(json.dumps(cache, indent=1, default=float))
        return cache[key]

    rows, previous = [], None
    for beta in args.betas:
        t0 = time.perf_counter()
        trajectories = 400 if args.quick else hmc_trajectories(beta)
        steps = 50 if args.quick else args.flow_steps
        proposals = 5000 if args.quick else args.proposals
        common = (args.size, beta)
        therm = hmc_thermalize(beta)
        rows.append(row(f"hmc_L{args.size}_b{beta:g}_t{trajectories}_th{therm}",
                        lambda: run_hmc(*common, args.hmc_chains, trajectories, workdir, args.seed)))
        if "uniform" in args.priors:
            rows.append(row(f"flow_L{args.size}_b{beta:g}_s{steps}_p{proposals}",
                            lambda: run_flow(*common, steps, proposals, args.flow_batch, workdir, args.seed)))
            if args.anneal and previous is not None:  # start from the previous β's flow (the first: from scratch)
                rows.append(row(f"anneal_L{args.size}_b{beta:g}_s{steps}_p{proposals}",
                                lambda: run_flow(*common, steps, proposals, args.flow_batch, workdir, args.seed,
                                                 init=Path(previous["model"]), earlier_train_s=previous["train_s"])))
            previous = rows[-1]
        if "plaquette" in args.priors:
            for psteps in args.plaquette_steps:
                psteps = min(psteps, 20) if args.quick else psteps
                rows.append(row(f"pflow_L{args.size}_b{beta:g}_s{psteps}_p{proposals}",
                                lambda: run_flow(*common, psteps, proposals, args.flow_batch, workdir, args.seed,
                                                 prior="plaquette")))
        print(f"beta={beta:g} done in {time.perf_counter() - t0:.0f} s", flush=True)
    print_table(rows, args.threads)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"threads": args.threads, "rows": rows}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
