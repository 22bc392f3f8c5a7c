"""Broken-phase φ⁴ tunnelling: signed-M autocorrelation and cost per independent configuration against L.

2D φ⁴ at λ = 0.022 in the broken phase (default κ = 0.275: at L = 8 FA-HMC flips sector every few
hundred trajectories, at L = 16 every few thousand, at L = 32 it is frozen). Rows, side by side:

- HMC and FA-HMC (Omelyan, τ = 1, step size tuned by dual averaging), M after every trajectory;
- flow + MH: a Z₂-equivariant flow (an odd spline on the zero mode, the spectral Gaussian layer, 8
  checkerboard affine couplings) trained by reverse KL (no data), its proposals corrected by independence
  Metropolis in 4 chains; the chain step is one proposal. ``--no-zero-mode`` drops the zero-mode layer:
  local couplings alone then leave the proposals' |M| far too small at L = 32;
- hybrid: FA-HMC trajectories interleaved with flow proposals (one trajectory + one independence
  Metropolis step per cycle, 4 chains; exact because each kernel is, up to the float32 rounding of the
  flow's log q); the chain step is one cycle;
- diffusion + MH: the odd-score diffusion model trained on the FA-HMC configurations, exact log q
  from the probability-flow ODE (L = 8 only by default: the exact log q costs V VJPs per ODE step).

For each: τ_int of the signed M (Γ method over chains), the mean time between sector flips (hysteresis
m_c = ½⟨|M|⟩ of FA-HMC), the acceptance, seconds per step of one chain, training seconds, and the cost per
independent M, 2τ_int × (train_s/N + s/step), for N = 1e4, 1e5, 1e6, with its ratio to FA-HMC. A frozen
chain (fewer than 5 flips or no Γ window) gives only a bound: "≥". Every row has a validation table
(⟨|M|⟩, ⟨M²⟩ against FA-HMC, ⟨M⟩ against 0) with pulls; rows with N_ind < 50 are flagged.

    python benchmarks/bench_phi4_tunnelling.py --retrain       # full table, 1 thread, about 15 minutes
    python benchmarks/bench_phi4_tunnelling.py --quick         # smoke test, under a minute

Trained models are kept in --workdir (default benchmarks/results/tunnelling, gitignored) and reused
by a rerun with the same settings (their measured training time is read back from the model file);
``--retrain`` trains them again, so that the training seconds are measured in this run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qcdgen.io import Ensemble, write_ensemble
from qcdgen.jsonutil import dumps
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.flow_settings import FlowSettings
from qcdgen.lattice.samplers import get_sampler, load_sampler_model, train_lattice_sampler
from qcdgen.lattice.samplers.diffusion import DiffusionSettings
from qcdgen.lattice.tunnelling import (analyse_series, crossing_size, fit_exponential, hmc_signed_m,
                                       hybrid_signed_m, imh_signed_m, telegraph_tau)
from qcdgen.runtime import set_threads
from qcdgen.stats import Estimate, compare

AMORTISE = (10_000, 100_000, 1_000_000)
GOAL_N, GOAL_FACTOR, MIN_N_IND = 100_000, 10.0, 50
HERE = Path(__file__).parent


@dataclass(frozen=True)
class Plan:
    """Work per lattice size (chains × steps for every sampler, training budgets)."""

    hmc_chains: int
    hmc_trajectories: int
    thermalize: int
    flow_steps: int
    flow_batch: int
    flow_layers: int
    proposals: int
    hybrid_cycles: int
    diffusion_steps: int
    diffusion_proposals: int
    ode_steps: int


FULL = {8: Plan(8, 10000, 500, 500, 256, 8, 20000, 2500, 3000, 600, 12),
        16: Plan(8, 10000, 500, 600, 128, 8, 12000, 1500, 3000, 300, 12),
        32: Plan(8, 8000, 500, 800, 64, 8, 6000, 600, 3000, 100, 12)}
QUICK = {8: Plan(4, 1500, 200, 60, 128, 4, 2000, 300, 100, 64, 4),
         16: Plan(4, 1500, 200, 60, 64, 4, 2000, 300, 100, 64, 4),
         32: Plan(4, 800, 200, 40, 32, 4, 1000, 200, 100, 64, 4)}


def plan_for(size: int, quick: bool) -> Plan:
    table = QUICK if quick else FULL
    nearest = min(table, key=lambda s: abs(math.log(s / size)))
    return table[nearest]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- samplers
def train_or_load(name: str, target, path: Path, settings, progress: bool, retrain: bool = False):
    """The model at ``path`` when it was trained with the same settings, else train it (resumable)."""
    if path.exists() and not retrain:
        try:
            model = load_sampler_model(path, sampler=name)
            if model.settings == get_sampler(name).make_settings(settings):
                log(f"  reusing {path} (trained in {model.train_seconds:.0f} s)")
                return model
        except Exception as exc:  # noqa: BLE001 - an unreadable or stale file is retrained
            log(f"  retraining {path}: {exc}")
    return train_lattice_sampler(name, target, path, settings, progress=progress)


def write_training_ensemble(path: Path, action: Phi4Action, configs: torch.Tensor) -> None:
    """FA-HMC configurations [saved, chains, *site] as a chain-major ensemble for the diffusion model."""
    per_chain = configs.transpose(0, 1)  # [chains, saved, *site]
    phi = per_chain.reshape(-1, *action.site_shape).numpy()
    chain = np.repeat(np.arange(per_chain.shape[0], dtype=np.int32), per_chain.shape[1])
    write_ensemble(path, Ensemble(phi=phi, chain=chain, attrs={**action.to_dict(), "sampler": "hmc-fa"}))


def run_size(size: int, args, plan: Plan, workdir: Path) -> tuple[list, dict]:
    action = Phi4Action(size=size, kappa=args.kappa, lam=args.lam, dim=2)
    samplers, seed, progress = args.samplers, args.seed, not args.no_progress
    tag = f"L{size}_k{args.kappa:g}_l{args.lam:g}"
    series = []
    with_diffusion = "diffusion" in samplers and size in args.diffusion_sizes
    log(f"L = {size}: FA-HMC reference")
    fa = hmc_signed_m(action, plan.hmc_trajectories, chains=plan.hmc_chains, thermalize=plan.thermalize,
                      fourier=True, seed=seed, save_every=10 if with_diffusion else None, progress=progress)
    series.append(fa)
    if "hmc" in samplers:
        log(f"L = {size}: HMC")
        series.append(hmc_signed_m(action, plan.hmc_trajectories, chains=plan.hmc_chains,
                                   thermalize=plan.thermalize, fourier=False, seed=seed + 1, progress=progress))
    flow = None
    if {"flow", "hybrid"} & set(samplers):
        settings = FlowSettings(coupling="affine", layers=plan.flow_layers, channels=8, hidden=1, z2=True,
                                zero_mode=not args.no_zero_mode, steps=plan.flow_steps,
                                batch_size=plan.flow_batch, lr=5e-3,
                                warmup=min(50, plan.flow_steps // 5), eval_samples=1024, seed=seed + 3)
        log(f"L = {size}: flow (Z2-equivariant, {plan.flow_steps} steps, batch {plan.flow_batch})")
        flow = train_or_load("flow", action, workdir / f"flow_{tag}.pt", settings, progress, args.retrain)
    if "flow" in samplers:
        series.append(imh_signed_m(flow, plan.proposals, chains=4, batch_size=1000, seed=seed + 13,
                                   name="flow+MH", progress=progress))
    if "hybrid" in samplers:
        log(f"L = {size}: hybrid FA-HMC + flow")
        hybrid = hybrid_signed_m(action, flow.module, plan.hybrid_cycles, chains=4, hmc_per_cycle=1,
                                 thermalize=plan.thermalize // 2, seed=seed + 23, float64=False,
                                 progress=progress)
        hybrid.train_seconds = flow.train_seconds
        hybrid.name = "hybrid FA-HMC+flow"
        series.append(hybrid)
    if with_diffusion:
        data = workdir / f"fa_hmc_{tag}.h5"
        write_training_ensemble(data, action, fa.extra.pop("configs"))
        settings = DiffusionSettings(channels=16, blocks=2, steps=plan.diffusion_steps, batch_size=128, lr=3e-3,
                                     seed=seed + 2)
        log(f"L = {size}: diffusion ({plan.diffusion_steps} steps)")
        diffusion = train_or_load("diffusion", data, workdir / f"diffusion_{tag}.pt", settings, progress,
                                  args.retrain)
        options = diffusion.spec.make_sampling(dict(configs=plan.diffusion_proposals, metropolis=True, chains=4,
                                                    ode_steps=plan.ode_steps, solver="heun", divergence="exact",
                                                    batch_size=250))
        series.append(imh_signed_m(diffusion, plan.diffusion_proposals, chains=4, batch_size=250,
                                   seed=seed + 12, options=options, name="diffusion+MH", progress=progress))
    fa.extra.pop("configs", None)
    threshold = 0.5 * float(np.abs(fa.m).mean())
    rows = [analyse_series(s, size, threshold=threshold, amortise_over=AMORTISE) for s in series]
    return rows, validate(rows)


def validate(rows) -> dict:
    """Validation table per row: ⟨|M|⟩ and ⟨M²⟩ against FA-HMC, ⟨M⟩ against 0 (exact by symmetry)."""
    ref = rows[0].stats
    tables = {}
    for row in rows:
        gen = {"<M>": row.stats.m, "<|M|>": row.stats.abs_m, "<M^2>": row.stats.m2}
        reference = {"<M>": Estimate(0.0, 0.0), "<|M|>": ref.abs_m, "<M^2>": ref.m2}
        names = ["<M>"] if row is rows[0] else ["<M>", "<|M|>", "<M^2>"]
        tables[row.name] = compare(reference, gen, observables=names)
    return tables


# --------------------------------------------------------------------------- output
def fmt_est(est: Estimate, bound: bool = False) -> str:
    if not math.isfinite(est.value):
        return "inf"
    prefix = ">=" if bound else ""
    if not (est.error > 0 and math.isfinite(est.error)):
        return f"{prefix}{est.value:.3g}"
    return f"{prefix}{est.value:.3g}±{est.error:.2g}"


def fmt_flips(row) -> str:
    f = row.flips
    if f.is_bound:
        return f">{f.lower_bound:.3g} ({f.flips})"
    return f"{f.mean_time:.3g}±{f.error:.2g} ({f.flips})"


def ratio(fa_row, row, n) -> tuple[float, str]:
    """FA-HMC cost / this row's cost amortised over n; the qualifier says which side is a bound."""
    fa_cost, cost = fa_row.cost.value, row.amortised[n].value
    r = fa_cost / cost if cost > 0 else math.nan
    if row is fa_row:
        return 1.0, ""
    if fa_row.tau_is_bound and row.tau_is_bound:
        return r, "?"
    if fa_row.tau_is_bound:
        return r, ">="
    if row.tau_is_bound:
        return r, "<="
    return r, ""


def print_tables(all_rows: dict, validations: dict, args) -> None:
    header = (f"{'sampler':<20} {'L':>3} {'tau_int(M)':>16} {'flip time [steps] (n)':>22} {'acc':>5} "
              f"{'s/step':>9} {'train s':>8} {'s/indep':>16} {'@1e4':>9} {'@1e5':>9} {'@1e6':>9} "
              f"{'FA/this@1e5':>12} {'N_ind':>7}")
    print(header)
    print("-" * len(header))
    for size, rows in all_rows.items():
        fa = rows[0]
        for row in rows:
            bound = row.tau_is_bound
            r, q = ratio(fa, row, GOAL_N)
            flag = "  N_ind<50" if row.n_independent < MIN_N_IND else ""
            print(f"{row.name:<20} {size:>3} {fmt_est(row.tau_int, bound):>16} {fmt_flips(row):>22} "
                  f"{row.acceptance:>5.2f} {row.seconds_per_step:>9.2e} {row.train_seconds:>8.0f} "
                  f"{fmt_est(row.cost, bound):>16} "
                  + " ".join(f"{('>=' if bound else '') + format(row.amortised[n].value, '.2e'):>9}" for n in AMORTISE)
                  + f" {q + format(r, '.3g'):>12} {row.n_independent:>7.0f}{flag}")
        print()
    print("tau_int and flip times are in steps of each sampler: HMC trajectories, MH proposals, hybrid cycles "
          "(1 FA-HMC trajectory + 1 flow proposal).\ns/step = wall seconds per step of one chain; "
          "s/indep = 2 tau_int x s/step; @N = 2 tau_int x (train s / N + s/step).\n'>=' : frozen chain "
          "(< 5 flips or no Gamma window): tau_int raised to the telegraph estimate from the flip-time bound.\n"
          f"FA/this = FA-HMC cost / this row's cost with training amortised over {GOAL_N:.0e} configurations.\n")
    print("Validation (reference: FA-HMC for <|M|>, <M^2>; exact 0 for <M>):")
    for size, tables in validations.items():
        for name, table in tables.items():
            row = next(r for r in all_rows[size] if r.name == name)
            flag = "   [flagged: N_ind < 50]" if row.n_independent < MIN_N_IND else ""
            print(f"\n-- {name}, L = {size}  (N_ind = {row.n_independent:.0f}){flag}")
            print(table.format())


def valid(row, table) -> bool:
    """A row that counts for the goal: measured (not a bound), N_ind >= 50 and every |pull| < 3."""
    return not row.tau_is_bound and row.n_independent >= MIN_N_IND and table.passed


def scaling(all_rows: dict, validations: dict) -> dict:
    """FA-HMC's flip time and cost against L (exponential fits), the best valid generative row per L,
    the goal at the largest L (measured, and with FA-HMC's cost extrapolated where it froze), and the
    L at which FA-HMC's cost reaches 1x and 10x the generative cost."""
    out = {}
    sizes = sorted(all_rows)
    fa = {s: all_rows[s][0] for s in sizes}
    flipped = [s for s in sizes if not fa[s].flips.is_bound]
    flip_fit = fa_fit = None
    if len(flipped) >= 2:
        flip_fit = fit_exponential(flipped, [fa[s].flips.mean_time for s in flipped],
                                   [fa[s].flips.error for s in flipped])
        fa_fit = fit_exponential(flipped, [fa[s].cost.value for s in flipped], [fa[s].cost.error for s in flipped])
        out["fa_hmc_flip_fit"], out["fa_hmc_cost_fit"] = flip_fit.to_dict(), fa_fit.to_dict()
    extrapolated = {}
    for s in sizes:
        if fa[s].flips.is_bound and flip_fit is not None:  # frozen: telegraph τ from the fitted flip time
            tau = telegraph_tau(flip_fit(s), fa[s].stats.abs_m.value, fa[s].stats.m2.value)
            extrapolated[s] = 2.0 * tau * fa[s].seconds_per_step
    out["fa_hmc_cost_extrapolated"] = {str(s): v for s, v in extrapolated.items()}
    best = {}
    for s in sizes:
        gen = [r for r in all_rows[s][1:] if r.name != "HMC" and valid(r, validations[s][r.name])]
        if gen:
            best[s] = min(gen, key=lambda r: r.amortised[GOAL_N].value)
    out["best"] = {str(s): {"name": r.name, "cost_at_1e5": r.amortised[GOAL_N].value} for s, r in best.items()}
    top = sizes[-1]
    if top in best:
        r, q = ratio(fa[top], best[top], GOAL_N)
        out["goal"] = {"L": top, "sampler": best[top].name, "ratio": r, "qualifier": q,
                       "reached": bool(r >= GOAL_FACTOR and q in ("", ">="))}
        if top in extrapolated:
            out["goal"]["fa_hmc_cost_extrapolated"] = extrapolated[top]
            out["goal"]["ratio_extrapolated"] = extrapolated[top] / best[top].amortised[GOAL_N].value
    if fa_fit is not None and len(best) >= 2:
        gen_fit = fit_exponential(sorted(best), [best[s].amortised[GOAL_N].value for s in sorted(best)])
        out["generative_cost_fit"] = gen_fit.to_dict()
        out["crossing_L_for_10x"] = crossing_size(fa_fit, gen_fit, GOAL_FACTOR)
        out["crossing_L_for_1x"] = crossing_size(fa_fit, gen_fit, 1.0)
    return out


def print_scaling(sc: dict) -> None:
    print("\nScaling with L (exponential fits; cost = seconds per independent M, training over 1e5 configurations):")
    if "fa_hmc_flip_fit" not in sc:
        print("  fewer than two sizes where FA-HMC's sector flips were measured: no fit")
    else:
        f, c = sc["fa_hmc_flip_fit"], sc["fa_hmc_cost_fit"]
        sizes = ", ".join(f"{v:g}" for v in f["sizes"])
        print(f"  FA-HMC mean flip time ~ exp({f['slope']:.3f}({f['slope_error']:.3f}) L), cost ~ "
              f"exp({c['slope']:.3f}({c['slope_error']:.3f}) L), from L = {sizes}")
        for size, value in sc["fa_hmc_cost_extrapolated"].items():
            print(f"  FA-HMC froze at L = {size}: cost extrapolated from the flip-time fit ~ {value:.3g} s")
    if "generative_cost_fit" in sc:
        f = sc["generative_cost_fit"]
        sizes = ", ".join(f"{v:g}" for v in f["sizes"])
        print(f"  best valid generative row's cost ~ exp({f['slope']:.3f} L), from L = {sizes}")
        growth = sc["fa_hmc_cost_fit"]["slope"] - f["slope"]
        smallest = min(f["sizes"] + sc["fa_hmc_cost_fit"]["sizes"])
        if not growth > 0:
            print("  the fitted FA-HMC / generative cost ratio does not grow with L: no crossing")
        else:
            for factor, key in ((1, "crossing_L_for_1x"), (GOAL_FACTOR, "crossing_L_for_10x")):
                at = sc[key]
                where = (f"L ~ {at:.1f}" if at >= smallest
                         else f"below the smallest L measured ({smallest:g}): already there")
                print(f"  FA-HMC / generative cost ~ exp({growth:.3f} L) reaches {factor:g}x at {where}")
    goal = sc.get("goal")
    if goal:
        print(f"  goal (>= {GOAL_FACTOR:g}x cheaper than FA-HMC at L = {goal['L']}): best valid row {goal['sampler']} "
              f"is {goal['qualifier']}{goal['ratio']:.3g}x -> {'REACHED' if goal['reached'] else 'not established'}")
        if "ratio_extrapolated" in goal:
            print(f"  with FA-HMC's cost at L = {goal['L']} extrapolated ({goal['fa_hmc_cost_extrapolated']:.3g} s): "
                  f"{goal['ratio_extrapolated']:.3g}x")
    else:
        print("  goal: no generative row at the largest L passed validation with N_ind >= 50")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,16,32")
    parser.add_argument("--kappa", type=float, default=0.275)
    parser.add_argument("--lam", type=float, default=0.022)
    parser.add_argument("--samplers", default="hmc,flow,hybrid,diffusion",
                        help="besides the FA-HMC reference (always run): hmc, flow, hybrid, diffusion")
    parser.add_argument("--diffusion-sizes", default="8", help="sizes with a diffusion row (exact log q is costly)")
    parser.add_argument("--no-zero-mode", action="store_true",
                        help="flow without the zero-mode spline layer (local couplings only)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny budgets at L = 8, 16 (smoke test)")
    parser.add_argument("--workdir", default=str(HERE / "results" / "tunnelling"))
    parser.add_argument("--out", default=None, help="JSON file (default WORKDIR/bench_phi4_tunnelling.json)")
    parser.add_argument("--retrain", action="store_true",
                        help="train every model again instead of reusing the ones in --workdir")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in ("8,16" if args.quick and args.sizes == "8,16,32" else args.sizes).split(",")]
    args.samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    args.diffusion_sizes = [int(s) for s in args.diffusion_sizes.split(",") if s.strip()]
    unknown = set(args.samplers) - {"hmc", "flow", "hybrid", "diffusion"}
    if unknown:
        parser.error(f"--samplers: unknown {sorted(unknown)}; choose from hmc, flow, hybrid, diffusion")
    set_threads(args.threads)
    torch.set_num_threads(args.threads)
    workdir = Path(args.workdir) / ("quick" if args.quick else "full")
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    all_rows, validations = {}, {}
    for size in sizes:
        t0 = time.perf_counter()
        all_rows[size], validations[size] = run_size(size, args, plan_for(size, args.quick), workdir)
        log(f"L = {size} done in {time.perf_counter() - t0:.0f} s")
    wall = time.perf_counter() - start
    print(f"\nBroken-phase tunnelling, 2D phi^4, kappa = {args.kappa:g}, lambda = {args.lam:g}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), wall {wall:.0f} s"
          f"{' (--quick)' if args.quick else ''}\n")
    for size in sizes:
        p = plan_for(size, args.quick)
        diffusion = (f", diffusion {p.diffusion_steps} steps + {p.diffusion_proposals} proposals "
                     f"({p.ode_steps} Heun steps, exact log q)" if size in args.diffusion_sizes
                     and "diffusion" in args.samplers else "")
        print(f"L = {size}: (FA-)HMC {p.hmc_chains} x {p.hmc_trajectories} trajectories after {p.thermalize}; "
              f"flow {p.flow_layers} couplings, {p.flow_steps} steps of batch {p.flow_batch}, {p.proposals} proposals; "
              f"hybrid 4 x {p.hybrid_cycles} cycles{diffusion}")
    print()
    print_tables(all_rows, validations, args)
    sc = scaling(all_rows, validations)
    print_scaling(sc)
    out = Path(args.out) if args.out else workdir / "bench_phi4_tunnelling.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"kappa": args.kappa, "lam": args.lam, "threads": torch.get_num_threads(), "torch": torch.__version__,
               "quick": args.quick, "wall_seconds": wall,
               "rows": [r.to_dict() for rows in all_rows.values() for r in rows],
               "validation": {str(s): {k: t.to_dict() for k, t in v.items()} for s, v in validations.items()},
               "scaling": sc}
    out.write_text(dumps(payload))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
