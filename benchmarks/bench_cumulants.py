"""Published φ⁴ cumulant table (Aarts, Habibi, Wang & Zhou, arXiv:2410.21212) against qcdgen's HMC and diffusion.

2D φ⁴ in hopping form, S = Σ_x [−2κ Σ_μ φ_x φ_{x+μ} + (1−2λ)φ_x² + λφ_x⁴] (the convention of qcdgen's
Phi4Action and of the authors' code, Anguswlx/DMasSQ mc.py), L = 32, κ = 0.4, λ = 0.022: broken phase,
⟨|M|⟩ ≈ 3.75 per site. What the published "normalised" κ₂ … κ₈ are (authors' code,
DiaaEddinH/On-learning-higher-order-cumulants-in-diffusion-models, bin/plots.ipynb, and DMasSQ norm.py):
cumulants of the one-point distribution of the site field, pooled over all sites and configurations, after
the min–max map φ → 2(φ − φ_min)/(φ_max − φ_min) − 1 over the whole ensemble, i.e. κ_n^pub = s^n κ_n(φ_x),
s = 2/(φ_max − φ_min). s rests on the two most extreme site values of the ensemble, so the κ₂ column depends
on the ensemble size; the scale-free ratios κ_n/κ₂^{n/2} (n = 4, 6, 8) do not, and are the real test.

Rows (each stage cached in --workdir, resumed chunk by chunk; rerun the same command to continue):

- ``hmc``: equilibrium FA-HMC (qcdgen generate_hmc_ensemble, Omelyan, τ = 1, step tuned), chunks of
  --hmc-chunk configurations, --chains chains per chunk, one configuration every --separation
  trajectories; chains start ordered (φ = ±v, random sign): at L = 32 there is no tunnelling and domain walls
  cost ~ L·σ in the action, so they have no equilibrium weight but survive long from a disordered start.
- ``protocol``: the authors' HMC protocol (DMasSQ notebook): independent chains from φ ~ N(0, 1), plain
  leapfrog HMC with dt = 0.01 and τ = 1, one configuration per chain after 129 trajectories; chunks of
  --protocol-chunk chains.
- ``train``: qcdgen diffusion model (VE SDE, odd score, fitted Gaussian + CNN) on all FA-HMC configurations.
- ``sample``: probability-flow ODE draws (Heun), chunks of --sample-chunk, no Metropolis correction.
- ``table``: the published table, our rows, pulls and the cost of each stage; written after every stage and
  chunk to benchmarks/results_cumulants.txt (partial tables while a run is going on).

    OMP_NUM_THREADS=1 python benchmarks/bench_cumulants.py --configs 100000 --dm-configs 100000   # full size
    python benchmarks/bench_cumulants.py --stage table                # table from whatever exists
    python benchmarks/bench_cumulants.py --quick                      # smoke test (own workdir)

Errors: Γ-method (Wolff) on per-configuration power means ⟨φ^p⟩_x, chains as replicas, for FA-HMC; jackknife
for independent configurations (DM, protocol) (qcdgen.stats.cumulants); Z₂ imposed (odd moments zero). Published ratio errors assume independent κ_n.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qcdgen.io import Ensemble, read_ensemble, write_ensemble
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.hmc_ensemble import HMCSettings, generate_hmc_ensemble
from qcdgen.lattice.samplers import sample_lattice_sampler, train_lattice_sampler
from qcdgen.lattice.samplers.diffusion import DiffusionSettings, SampleSettings
from qcdgen.mcmc import HMC
from qcdgen.runtime import keep_freed_memory, set_threads
from qcdgen.stats import Estimate
from qcdgen.stats.compare import pull
from qcdgen.stats.cumulants import cumulants_from_power_means, power_means

HERE = Path(__file__).parent
RESULTS = HERE / "results_cumulants.txt"
ORDERS = (2, 4, 6, 8)
SIZE, KAPPA, LAM = 32, 0.4, 0.022
FA, DM, PROT = "qcdgen FA-HMC (equilibrium)", "qcdgen DM (trained on FA-HMC)", "qcdgen HMC, authors' protocol"
PROTOCOL_TRAJECTORIES = 129  # DMasSQ notebook: therm_step = 100, eq_step = 64 → the configuration at i = 128
# arXiv:2410.21212, table for the scalar field theory
PUBLISHED = {
    "HMC": [Estimate(0.39597, 0.00004), Estimate(-0.29453, 0.00006), Estimate(0.90108, 0.00028),
            Estimate(-5.8689, 0.0025)],
    "DM": [Estimate(0.39598, 0.00004), Estimate(-0.29454, 0.00007), Estimate(0.90113, 0.00032),
           Estimate(-5.8694, 0.0028)],
}


@dataclass(frozen=True)
class OrderedStartPhi4(Phi4Action):
    """Phi4Action whose chains start ordered, φ = ±v (random sign per chain), v the mean-field minimum."""

    def random_start(self, chains, generator, device=None):
        v = math.sqrt(max(2 * self.dim * self.kappa - 1 + 2 * self.lam, 0.0) / (2 * self.lam))
        sign = torch.randint(0, 2, (chains,), generator=generator, device=device).to(torch.float64) * 2 - 1
        return sign.view(-1, *([1] * self.dim)) * v * torch.ones((chains, *self.site_shape), dtype=torch.float64,
                                                                   device=device)


@dataclass(frozen=True, kw_only=True)
class OrderedStartSettings(HMCSettings):
    def action(self):
        return OrderedStartPhi4(size=self.size, kappa=self.kappa, lam=self.lam, dim=self.dim)


class State:
    """Wall and CPU seconds per stage (summed over resumed runs), kept in ``stages.json``."""

    def __init__(self, path: Path):
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {}

    def add(self, key: str, wall: float, cpu: float, configs: int = 0, **info) -> None:
        entry = self.data.setdefault(key, {"wall_s": 0.0, "cpu_s": 0.0})
        entry["wall_s"] += wall
        entry["cpu_s"] += cpu
        entry["configs"] = entry.get("configs", 0) + configs
        entry.update(info)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def chunks(total: int, size: int) -> list[int]:
    return [min(size, total - i) for i in range(0, total, size)]


def hmc_files(args) -> list[Path]:
    return [args.workdir / f"hmc_{i:03d}.h5" for i in range(len(chunks(args.configs, args.hmc_chunk)))]


def stage_hmc(args, state: State) -> None:
    for i, (f, n) in enumerate(zip(hmc_files(args), chunks(args.configs, args.hmc_chunk))):
        if f.exists():
            continue
        settings = OrderedStartSettings(size=SIZE, kappa=KAPPA, lam=LAM, configs=n, chains=min(args.chains, n // 2),
                                        seed=i, thermalize=args.thermalize, separation=args.separation,
                                        fourier_acceleration=True)
        w, c = clocks()
        res = generate_hmc_ensemble(f, settings, progress=not args.no_progress)
        state.add("hmc", time.perf_counter() - w, time.process_time() - c, configs=n, separation=res.separation,
                  step_size=res.step_size, acceptance=res.acceptance.value)
        print(f"hmc chunk {i + 1}: {n} configs, acceptance {res.acceptance}, τ_int(|M|) = {res.tau_int}", flush=True)
        stage_table(args, state, quiet=True)


def protocol_files(args) -> list[Path]:
    return [args.workdir / f"protocol_{i:03d}.h5" for i in range(len(chunks(args.protocol_chains, args.protocol_chunk)))]


def stage_protocol(args, state: State) -> None:
    action = Phi4Action(size=SIZE, kappa=KAPPA, lam=LAM)
    for i, (f, n) in enumerate(zip(protocol_files(args), chunks(args.protocol_chains, args.protocol_chunk))):
        if f.exists():
            continue
        w, c = clocks()
        gen = torch.Generator().manual_seed(10_000 + i)
        hmc = HMC(lambda x: (action.log_prob(x), action.grad_log_prob(x)), step_size=args.protocol_step,
                  trajectory_length=1.0, integrator="leapfrog")
        st = hmc.init(torch.randn((n, SIZE, SIZE), dtype=torch.float64, generator=gen))
        accepted = 0.0
        for _ in range(PROTOCOL_TRAJECTORIES):
            st, info = hmc.step(st, gen)
            accepted += float(info.accepted.double().mean())
        attrs = {"kind": "authors-protocol", "size": SIZE, "kappa": KAPPA, "lam": LAM, "dim": 2, "theory": "phi4",
                 "trajectories": PROTOCOL_TRAJECTORIES, "dt": hmc.dt, "acceptance": accepted / PROTOCOL_TRAJECTORIES}
        write_ensemble(f, Ensemble(st.position.numpy(), attrs, np.arange(n)))
        state.add("protocol", time.perf_counter() - w, time.process_time() - c, configs=n,
                  acceptance=accepted / PROTOCOL_TRAJECTORIES)
        print(f"protocol chunk {i + 1}: {n} chains, acceptance {accepted / PROTOCOL_TRAJECTORIES:.4f}", flush=True)
        stage_table(args, state, quiet=True)


def merged_training_file(args) -> Path:
    out = args.workdir / f"hmc_all_{args.configs}.h5"
    if out.exists():
        return out
    phis, labels, attrs, offset = [], [], {}, 0
    for f in hmc_files(args):
        ens = read_ensemble(f)
        phis.append(ens.phi)
        labels.append(ens.chain + offset)
        offset += int(ens.chain.max()) + 1
        attrs = ens.attrs
    write_ensemble(out, Ensemble(np.concatenate(phis), {**attrs, "merged_from": len(phis)}, np.concatenate(labels)))
    return out


def model_path(args) -> Path:
    gp = "_gp" if args.global_pool else ""
    cont = f"_after_{Path(args.init).stem}" if args.init else ""
    return args.workdir / f"dm_n{args.configs}_steps{args.train_steps}_sigma{args.sigma:g}{gp}{cont}.pt"


def stage_train(args, state: State) -> None:
    out = model_path(args)
    if out.exists():
        return
    if not all(f.exists() for f in hmc_files(args)):
        print("train: the FA-HMC ensemble is not complete yet", flush=True)
        return
    w, c = clocks()
    settings = DiffusionSettings(steps=args.train_steps, sigma=args.sigma, heldout_fraction=0.0, seed=0,
                                 global_pool=args.global_pool)
    train_lattice_sampler("diffusion", merged_training_file(args), out, settings, progress=not args.no_progress,
                          init=args.init)
    state.add(f"train {out.stem}", time.perf_counter() - w, time.process_time() - c, steps=args.train_steps,
              sigma=args.sigma, batch_size=settings.batch_size, channels=settings.channels, blocks=settings.blocks)
    stage_table(args, state, quiet=True)


def dm_files(args) -> list[Path]:
    return [args.workdir / f"{model_path(args).stem}_ode{args.ode_steps}_{i:04d}.h5"
            for i in range(len(chunks(args.dm_configs, args.sample_chunk)))]


def stage_sample(args, state: State) -> None:
    if not model_path(args).exists():
        print("sample: no trained model yet", flush=True)
        return
    for i, (f, n) in enumerate(zip(dm_files(args), chunks(args.dm_configs, args.sample_chunk))):
        if f.exists():
            continue
        w, c = clocks()
        settings = SampleSettings(configs=n, sampler="ode", ode_steps=args.ode_steps, seed=1000 + i)
        sample_lattice_sampler(model_path(args), f, settings, sampler="diffusion", progress=not args.no_progress)
        state.add(f"sample {model_path(args).stem} ode{args.ode_steps}", time.perf_counter() - w, time.process_time() - c, configs=n, ode_steps=args.ode_steps)
        print(f"sample chunk {i + 1}: {n} configs", flush=True)
        stage_table(args, state, quiet=True)


# ------------------------------------------------------------------ analysis
def chunk_summary(f: Path) -> dict:
    """Per-configuration ⟨φ^p⟩_x (p = 1 … 8), chain labels, extremes and |M|; cached next to the file."""
    cache = f.with_suffix(".powers.npz")
    if cache.exists() and cache.stat().st_mtime >= f.stat().st_mtime:
        with np.load(cache) as z:
            if "action" in z.files:
                return {k: z[k] for k in z.files}
    ens = read_ensemble(f)
    action = Phi4Action(size=SIZE, kappa=KAPPA, lam=LAM)
    phi = ens.phi.reshape(len(ens.phi), -1)
    out = {"powers": power_means(phi, 8), "chain": ens.chain, "min": phi.min(axis=1), "max": phi.max(axis=1),
           "abs_m": np.abs(phi.mean(axis=1)), "action": action(torch.from_numpy(ens.phi)).numpy()}
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    os.replace(tmp, cache)
    return out


def load(files: list[Path], independent: bool = False) -> dict | None:
    parts = [chunk_summary(f) for f in files if f.exists()]
    if not parts:
        return None
    labels, offset = [], 0
    for s in parts:
        labels.append(np.zeros(len(s["chain"]), int) if independent else s["chain"] + offset)
        offset += int(s["chain"].max()) + 1
    cat = {k: np.concatenate([s[k] for s in parts]) for k in ("powers", "min", "max", "abs_m", "action")}
    cat["chain"] = np.concatenate(labels)
    cat["independent"] = independent
    cat["s"] = 2.0 / (float(cat["max"].max()) - float(cat["min"].min()))
    return cat


def cumulant_row(data: dict, scale: float, standardized: bool = False) -> list[Estimate]:
    """κ_2, κ_4, κ_6, κ_8 of the pooled site values (Z₂ imposed; Γ-method with chains as replicas for Markov
    chains, jackknife for independent configurations)."""
    if data["independent"]:  # one configuration per chain / independent draws: plain jackknife
        est = cumulants_from_power_means(data["powers"], symmetric=True, scale=scale, standardized=standardized)
    else:
        est = cumulants_from_power_means(data["powers"], replicas=data["chain"], symmetric=True, scale=scale,
                                         standardized=standardized, method="gamma")
    return [est[n - 1] for n in ORDERS]


def published_ratios(row: list[Estimate]) -> list[Estimate | None]:
    k2 = row[0]
    out: list[Estimate | None] = [None]
    for n, k in zip(ORDERS[1:], row[1:]):
        v = k.value / k2.value ** (n / 2)
        out.append(Estimate(v, abs(v) * math.hypot(k.error / k.value, (n / 2) * k2.error / k2.value)))
    return out


def _fmt(v) -> str:
    return "—" if v is None else str(v)


def stage_table(args, state: State, quiet: bool = False) -> dict:
    hmc = load(hmc_files(args))
    dm = load(dm_files(args), independent=True)
    prot = load(protocol_files(args), independent=True)
    rows, ratios, notes = {}, {}, []
    rows["published HMC"], rows["published DM"] = PUBLISHED["HMC"], PUBLISHED["DM"]
    ratios["published HMC"], ratios["published DM"] = published_ratios(PUBLISHED["HMC"]), published_ratios(PUBLISHED["DM"])
    for name, data, scale_of in ((FA, hmc, hmc), (DM, dm, hmc), (PROT, prot, prot)):
        if data is None or scale_of is None:
            continue
        rows[name] = cumulant_row(data, scale_of["s"])
        ratios[name] = cumulant_row(data, 1.0, standardized=True)
        raw2 = ratios[name][0]
        walls = float(np.mean(data["abs_m"] < 0.8 * np.median((hmc or data)["abs_m"])))
        s_pub = math.sqrt(PUBLISHED["HMC"][0].value / raw2.value)
        notes.append(f"{name}: N = {len(data['powers'])} configurations; raw κ₂(φ_x) = {raw2}; φ range "
                     f"[{data['min'].min():.3f}, {data['max'].max():.3f}], s used = {scale_of['s']:.5f}; the published "
                     f"κ₂ would need s = {s_pub:.5f} (range {2 / s_pub:.3f}); fraction of configurations with "
                     f"|M| < 0.8 median_FA-HMC |M| (domain walls) = {walls:.3f}; action S per configuration: "
                     f"mean {data['action'].mean():.1f}, sd {data['action'].std():.1f}")
    head = f"| {'':<32} | " + " | ".join(f"{'κ' + str(n):>14}" for n in ORDERS) + " |"
    sep = "|" + "-" * 34 + "|" + "|".join(["-" * 16] * 4) + "|"

    def line(name, vals):
        return f"| {name:<32} | " + " | ".join(f"{_fmt(v):>14}" for v in vals) + " |"

    def pulls(name, ref, gen):
        return f"| {name:<32} | " + " | ".join(
            f"{'—' if a is None or b is None else format(pull(a.value, a.error, b.value, b.error), '.2f'):>14}"
            for a, b in zip(ref, gen)) + " |"

    pairs = [("pull FA-HMC − pub. HMC", FA, "published HMC"), ("pull protocol − pub. HMC", PROT, "published HMC"),
             ("pull DM − FA-HMC", DM, FA), ("pull DM − pub. DM", DM, "published DM")]
    out = [f"arXiv:2410.21212 cumulant table, φ⁴ L = {SIZE}, κ = {KAPPA}, λ = {LAM} (hopping form)", "",
           "Published format: κ_n · s^n of the pooled site field, s = 2/(φ_max − φ_min) of the row's (training) ensemble",
           head, sep] + [line(k, v) for k, v in rows.items()]
    out += [pulls(label, rows[b], rows[a]) for label, a, b in pairs if a in rows and b in rows]
    out += ["", "Scale-free ratios κ_n/κ₂^{n/2} (κ2 column: raw κ₂(φ_x), unnormalised; published: derived)", head, sep]
    out += [line(k, v) for k, v in ratios.items()]
    out += [pulls(label, ratios[b], ratios[a]) for label, a, b in pairs if a in ratios and b in ratios]
    out += ["", "Pulls: (a − b)/√(σ_a² + σ_b²). Γ-method errors.", *notes,
            "DM: probability-flow ODE (Heun), no Metropolis correction (the exact log q at V = 1024 needs 1024 "
            "vector-Jacobian products per step).", "",
            f"Cost on this machine (torch threads = {torch.get_num_threads()}; 2 cores shared with other jobs, so "
            "CPU seconds are the comparable figure):"]
    for key, e in state.data.items():
        per = f", {e['cpu_s'] / e['configs'] * 1e3:.1f} ms CPU per configuration" if e.get("configs") else ""
        extra = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in e.items()
                          if k not in ("wall_s", "cpu_s"))
        out.append(f"  {key}: {e['wall_s']:.0f} s wall, {e['cpu_s']:.0f} s CPU{per} ({extra})")
    todo = [f"{name} {sum(f.exists() for f in files)}/{len(files)} chunks" for name, files in
            (("hmc", hmc_files(args)), ("sample", dm_files(args)), ("protocol", protocol_files(args)))]
    out.append(f"Progress: {'; '.join(todo)}; model {'trained' if model_path(args).exists() else 'not trained'}. "
               f"Settings: --configs {args.configs} --dm-configs {args.dm_configs} --protocol-chains "
               f"{args.protocol_chains} --train-steps {args.train_steps} --ode-steps {args.ode_steps}")
    text = "\n".join(out) + "\n"
    if not quiet:
        print(text)
    target = args.workdir / "table.txt" if args.quick else RESULTS
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(target)
    result = {"rows": {k: [e.to_dict() for e in v] for k, v in rows.items()},
              "ratios": {k: [None if e is None else e.to_dict() for e in v] for k, v in ratios.items()},
              "stages": state.data}
    tmpj = args.workdir / "table.json.tmp"
    tmpj.write_text(json.dumps(result, indent=1))
    tmpj.replace(args.workdir / "table.json")
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage", choices=("all", "hmc", "train", "sample", "protocol", "table"), default="all")
    ap.add_argument("--configs", type=int, default=100_000, help="FA-HMC configurations (published: 1e5)")
    ap.add_argument("--hmc-chunk", type=int, default=2500)
    ap.add_argument("--chains", type=int, default=32, help="chains per HMC chunk")
    ap.add_argument("--thermalize", type=int, default=100)
    ap.add_argument("--separation", type=int, default=5, help="FA-HMC trajectories between saved configurations")
    ap.add_argument("--train-steps", type=int, default=2000)
    ap.add_argument("--sigma", type=float, default=150.0,
                    help="VE σ_max. It must exceed the zero-mode amplitude √V·⟨|M|⟩ ≈ 120: with σ = 25 on raw fields the "
                         "prior puts M ≈ 0 ± 25/√V and samples collapse to φ ≈ 0 (the authors' σ = 25 acts on fields "
                         "min-max scaled by s ≈ 0.17, i.e. σ ≈ 150 here)")
    ap.add_argument("--global-pool", action="store_true",
                    help="score network with a global (lattice-mean) pathway: it can see the sign of M")
    ap.add_argument("--init", default=None,
                    help="continue training from this model file (same settings); its steps are not counted")
    ap.add_argument("--dm-configs", type=int, default=100_000)
    ap.add_argument("--sample-chunk", type=int, default=2500)
    ap.add_argument("--ode-steps", type=int, default=12)
    ap.add_argument("--protocol-chains", type=int, default=10_240, help="authors' protocol chains (their file: 10k)")
    ap.add_argument("--protocol-chunk", type=int, default=128)
    ap.add_argument("--protocol-step", type=float, default=0.01, help="leapfrog step of the authors' protocol")
    ap.add_argument("--workdir", type=Path, default=HERE / "results" / "cumulants")
    ap.add_argument("--quick", action="store_true", help="tiny smoke test in --workdir/quick")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.workdir = args.workdir / "quick"
        args.configs, args.hmc_chunk, args.chains, args.thermalize = 200, 100, 4, 20
        args.train_steps, args.dm_configs, args.sample_chunk = 10, 100, 50
        args.protocol_chains, args.protocol_chunk, args.protocol_step = 16, 8, 0.1
    for name in ("configs", "hmc_chunk", "chains", "separation", "train_steps", "dm_configs", "sample_chunk",
                 "ode_steps", "protocol_chunk"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}", file=sys.stderr)
            return 2
    if args.protocol_chains < 0 or args.thermalize < 0 or not 0 < args.protocol_step <= 1 or not args.sigma > 1:
        print("error: --protocol-chains and --thermalize must be >= 0, --protocol-step in (0, 1], --sigma > 1", file=sys.stderr)
        return 2
    if args.hmc_chunk < 2 * min(args.chains, 2):
        print("error: --hmc-chunk must hold at least 2 configurations per chain", file=sys.stderr)
        return 2
    set_threads(1)
    torch.set_num_threads(1)
    keep_freed_memory()
    args.workdir.mkdir(parents=True, exist_ok=True)
    state = State(args.workdir / "stages.json")
    stages = ("hmc", "protocol", "train", "sample", "table") if args.stage == "all" else (args.stage,)
    for stage in stages:
        if stage == "table":
            stage_table(args, state)
        else:
            globals()[f"stage_{stage}"](args, state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
