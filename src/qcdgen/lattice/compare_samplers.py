"""Critical slowing down, sampler by sampler: ``qcdgen lattice compare-samplers``.

For every lattice size L and hopping parameter κ of a :class:`CompareSettings` the pipeline runs

- ``hmc``: plain Omelyan HMC, the reference ensemble every other sampler is validated against;
- ``hmc-fa``: Fourier-accelerated Omelyan HMC;
- ``diffusion``: a diffusion model trained on an HMC ensemble (the HMC-FA one when it is part of the
  study, so that training and reference data are independent), probability-flow proposals with their
  log q, independence Metropolis against e^{−S} (exact only while log q is exact, i.e. up to
  ``EXACT_MAX_SITES`` sites; beyond, Hutchinson log q makes the correction approximate: ``exact`` False);
- ``flow``: a normalizing flow trained on e^{−S} alone, proposals + independence Metropolis;
- ``path``: a trajectory-balance path sampler trained on e^{−S} alone, path-space Metropolis.

Each finished (sampler, L, κ) is one :class:`SamplerRow` with the cost of an independent
configuration, 2 τ_int(|M|) / (configurations per second), all chains or proposals of the batch
counted (τ_int in configurations of the chain: trajectories for HMC, proposals for Metropolis chains),
the training cost kept apart, and the number of independent configurations after which a
generative sampler's training has paid off against the cheaper HMC ("never" if its sampling cost
is not lower). Rows are written to ``OUT_DIR/L{L}_kappa{κ}/{sampler}.json`` next to the ensembles
and models; a re-run with the same settings skips finished rows and reuses trained models, and the
underlying loops resume from their own checkpoints, so an interrupted study resumes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path


from qcdgen.errors import InputError
from qcdgen.io import atomic_write_text
from qcdgen.lattice.actions import Phi4Action
from qcdgen.runtime import resolve_device
from qcdgen.stats._validate import check_positive_float, check_positive_int

SAMPLERS = ("hmc", "hmc-fa", "diffusion", "flow", "path")
REFERENCE = "hmc"
HMC_SAMPLERS = ("hmc", "hmc-fa")
PRESET_NAMES = ("quick", "study")
ROW_KIND = "sampler-study-row"
MIN_DIFFUSION_PROPOSALS = 64
#: fewer independent configurations than this: the chain's error bars (and pulls) are flagged unreliable
RELIABLE_INDEPENDENT = 50


@dataclass(frozen=True)
class Preset:
    """Sizes of every run of a study; the batch sizes are fixed numbers of lattice sites per batch."""

    hmc_configs: int
    thermalize: int
    proposals: int  # flow and path proposals
    diffusion_sites: int  # ODE proposals x sites (exact Jacobians cost ~ volume per proposal)
    diffusion_steps: int
    diffusion_channels: int
    diffusion_blocks: int
    diffusion_batch_sites: int
    ode_steps: int
    flow_steps: int
    flow_layers: int
    flow_channels: int
    flow_sites: int
    flow_lr: float
    flow_eval: int
    path_steps: int
    path_time_steps: int
    path_channels: int
    path_sites: int
    path_eval: int
    min_batch: int = 16


PRESETS = {
    # seconds per point on L <= 6: tests and the demo
    "quick": Preset(hmc_configs=400, thermalize=200, proposals=1000, diffusion_sites=6400,
                    diffusion_steps=150, diffusion_channels=8, diffusion_blocks=1, diffusion_batch_sites=4096, ode_steps=6,
                    flow_steps=150, flow_layers=4, flow_channels=4, flow_sites=2048, flow_lr=1e-2, flow_eval=1000,
                    path_steps=150, path_time_steps=8, path_channels=4, path_sites=2048, path_eval=512),
    # the benchmark: aimed at about 30-40 CPU minutes for L = 8, 16 and two kappas
    "study": Preset(hmc_configs=1024, thermalize=500, proposals=4096, diffusion_sites=32768,
                    diffusion_steps=800, diffusion_channels=16, diffusion_blocks=2, diffusion_batch_sites=16384, ode_steps=6,
                    flow_steps=1000, flow_layers=8, flow_channels=8, flow_sites=16384, flow_lr=5e-3, flow_eval=2048,
                    path_steps=800, path_time_steps=8, path_channels=8, path_sites=8192, path_eval=1024),
}


def _check_list(values, flag: str, what: str) -> tuple:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputError(f"{flag} must be a list of {what}, got {values!r}")
    values = tuple(values)
    if not values:
        raise InputError(f"{flag} must list at least one value ({what}), got an empty list")
    if len(set(values)) != len(values):
        raise InputError(f"{flag} lists a value twice: {', '.join(map(str, values))}")
    return values


@dataclass(frozen=True)
class CompareSettings:
    """What a study runs (the ``qcdgen lattice compare-samplers`` flags, one to one).

    ``None`` overrides take the preset's value. The plain-HMC reference is always run: it is added
    to ``samplers`` when missing.
    """

    sizes: tuple[int, ...]
    kappas: tuple[float, ...]
    lam: float = 0.022
    dim: int = 2
    samplers: tuple[str, ...] = SAMPLERS
    preset: str = "quick"
    hmc_configs: int | None = None
    proposals: int | None = None
    diffusion_steps: int | None = None
    flow_steps: int | None = None
    path_steps: int | None = None
    chains: int = 4
    mh_chains: int = 1
    max_abs_pull: float = 3.0
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        sizes = _check_list(self.sizes, "--size", "lattice sizes L >= 2")
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, int) or size < 2:
                raise InputError(f"--size must list integers >= 2, got {size!r}")
        kappas = _check_list(self.kappas, "--kappa", "hopping parameters >= 0")
        for kappa in kappas:
            if isinstance(kappa, bool) or not isinstance(kappa, (int, float)) or not math.isfinite(kappa) or kappa < 0:
                raise InputError(f"--kappa must list finite numbers >= 0, got {kappa!r}")
        kappas = tuple(float(k) for k in kappas)
        if isinstance(self.lam, bool) or not isinstance(self.lam, (int, float)) or not math.isfinite(self.lam) \
                or self.lam < 0:
            raise InputError(f"--lam must be a finite number >= 0, got {self.lam!r}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or not 1 <= self.dim <= 3:
            raise InputError(f"--dim must be 1, 2 or 3 (the flow and path networks), got {self.dim!r}")
        samplers = _check_list(self.samplers, "--samplers", f"samplers from {', '.join(SAMPLERS)}")
        unknown = [s for s in samplers if s not in SAMPLERS]
        if unknown:
            raise InputError(f"--samplers: unknown sampler {unknown[0]!r}; choose from {', '.join(SAMPLERS)}")
        samplers = tuple(s for s in SAMPLERS if s in samplers or s == REFERENCE)  # study order, reference first
        if self.preset not in PRESETS:
            raise InputError(f"--preset must be one of {', '.join(PRESET_NAMES)}, got {self.preset!r}")
        for name, minimum in (("hmc_configs", 2), ("proposals", 2), ("diffusion_steps", 1), ("flow_steps", 1),
                              ("path_steps", 1)):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), f"--{name.replace('_', '-')}", minimum=minimum)
        check_positive_int(self.chains, "--chains")
        check_positive_int(self.mh_chains, "--mh-chains")
        check_positive_int(self.seed, "--seed", minimum=0)
        check_positive_float(self.max_abs_pull, "--max-pull")
        if self.resolved("hmc_configs") < 2 * self.chains:
            raise InputError(f"--hmc-configs must be at least 2 per chain (2 x --chains = {2 * self.chains}), "
                             f"got {self.resolved('hmc_configs')}")
        if self.resolved("proposals") < 2 * self.mh_chains or MIN_DIFFUSION_PROPOSALS < 2 * self.mh_chains:
            raise InputError(f"--proposals must be at least 2 per Metropolis chain (2 x --mh-chains = "
                             f"{2 * self.mh_chains}; the diffusion draws >= {MIN_DIFFUSION_PROPOSALS}), "
                             f"got {self.resolved('proposals')}")
        for size in sizes:
            for kappa in kappas:
                validate_point(size, kappa, float(self.lam), self.dim)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "kappas", kappas)
        object.__setattr__(self, "lam", float(self.lam))
        object.__setattr__(self, "samplers", samplers)

    @property
    def preset_values(self) -> Preset:
        return PRESETS[self.preset]

    def resolved(self, name: str):
        """The value of a run size: the override when given, else the preset's."""
        preset = self.preset_values
        override = {"hmc_configs": self.hmc_configs, "proposals": self.proposals,
                    "diffusion_steps": self.diffusion_steps, "flow_steps": self.flow_steps,
                    "path_steps": self.path_steps}.get(name)
        return override if override is not None else getattr(preset, name)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"], d["kappas"], d["samplers"] = list(self.sizes), list(self.kappas), list(self.samplers)
        d["resolved"] = {f.name: self.resolved(f.name) for f in fields(Preset)}
        return d


def validate_point(size: int, kappa: float, lam: float, dim: int) -> None:
    """Refuse a (L, κ) the action refuses, naming the CLI flag."""
    try:
        Phi4Action(size=size, kappa=kappa, lam=lam, dim=dim)
    except InputError as exc:
        raise InputError(f"--size {size} --kappa {kappa:g} --lam {lam:g}: {exc}") from None


@dataclass
class SamplerRow:
    """One sampler at one (L, κ). ``None`` marks what does not apply (HMC has no training, no log Z).

    Rates count every chain (HMC) or proposal (generative samplers) of the batch; ``tau_int`` is in
    configurations of the chain (HMC trajectories, Metropolis proposals). ``payoff_configs`` is set by
    :func:`compare_samplers` from the whole study (``math.inf``: never pays off).
    """

    sampler: str
    size: int
    kappa: float
    lam: float
    exact: bool
    configs: int  # configurations (HMC trajectories in production, or proposals) behind the rate and τ_int
    configs_per_second: float
    acceptance: float
    acceptance_error: float
    tau_int: float
    tau_int_error: float
    train_seconds: float | None = None  # model training alone
    data_seconds: float | None = None  # generating the training data (diffusion: the HMC run it trained on)
    generation_seconds: float = 0.0  # producing the ensemble (HMC: all phases; generators: drawing proposals)
    run_seconds: float = 0.0  # wall time of the whole row (training, sampling, validation)
    importance_ess: float | None = None
    log_z: float | None = None
    log_z_error: float | None = None
    max_abs_pull: float | None = None  # against the plain-HMC reference (None: the reference itself)
    passed: bool | None = None
    ensemble: str = ""
    note: str = ""
    payoff_configs: float | None = None

    @property
    def cost(self) -> float:
        """Seconds per independent configuration, 2 τ_int / (configurations per second)."""
        return 2.0 * self.tau_int / self.configs_per_second if self.configs_per_second > 0 else math.nan

    @property
    def independent_configs(self) -> float:
        """N/(2 τ_int): independent configurations behind the validation. Below ``RELIABLE_INDEPENDENT``
        the Γ-method error (and so the pull) of a sticky Metropolis chain is not trustworthy."""
        return self.configs / (2.0 * self.tau_int) if self.tau_int > 0 else math.nan

    @property
    def cost_error(self) -> float:
        """Error of :attr:`cost` from the error of τ_int (the rate is taken as exact)."""
        return 2.0 * self.tau_int_error / self.configs_per_second if self.configs_per_second > 0 else math.nan

    @property
    def generative(self) -> bool:
        return self.sampler not in HMC_SAMPLERS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cost_seconds"], d["cost_error_seconds"] = self.cost, self.cost_error
        d["independent_configs"] = self.independent_configs
        if self.payoff_configs is not None and math.isinf(self.payoff_configs):
            d["payoff_configs"] = "never"
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> SamplerRow:
        names = {f.name for f in fields(cls)}
        kept = {k: (math.nan if v is None and k in _NAN_FIELDS else v) for k, v in d.items() if k in names}
        kept["payoff_configs"] = None
        return cls(**kept)


_NAN_FIELDS = ("configs_per_second", "acceptance", "acceptance_error", "tau_int", "tau_int_error")


@dataclass
class SamplerStudy:
    """All rows of a study, its settings and where its files are."""

    settings: CompareSettings
    rows: list[SamplerRow]
    out_dir: Path
    reused: list[str] = field(default_factory=list)  # "sampler L= kappa=" of rows read back from out_dir

    def to_dict(self) -> dict:
        return {"rows": [r.to_dict() for r in self.rows], "settings": self.settings.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @property
    def passed(self) -> bool:
        """Every validated row passed."""
        return all(r.passed is not False for r in self.rows)

    def format(self) -> str:
        """Plain-text table, one line per sampler × L × κ; '~' marks an approximate Metropolis step."""
        header = (f"{'sampler':<10} {'L':>3} {'kappa':>6} {'train s':>8} {'cfg/s':>9} {'acceptance':>14} "
                  f"{'ESS/N':>6} {'tau_int(|M|)':>15} {'s/indep cfg':>19} {'payoff':>9} {'log Z':>19} "
                  f"{'N_ind':>7} {'|pull|':>6} {'valid':>5}")
        lines = [header, "-" * len(header)]
        for r in self.rows:
            train = "-" if r.train_seconds is None else f"{r.train_seconds + (r.data_seconds or 0.0):.1f}"
            if r.payoff_configs is None:
                payoff = "-"
            elif math.isinf(r.payoff_configs):
                payoff = "never"
            else:
                payoff = f"{r.payoff_configs:.3g}"
            log_z = "-" if r.log_z is None else f"{r.log_z:.4f} ± {r.log_z_error:.4f}"
            pull = "-" if r.max_abs_pull is None else f"{r.max_abs_pull:.2f}"
            valid = "ref" if r.passed is None else ("PASS" if r.passed else "FAIL")
            ess = "-" if r.importance_ess is None else f"{r.importance_ess:.3f}"
            name = r.sampler + ("" if r.exact else "~")
            n_ind = r.independent_configs
            n_ind_text = "nan" if not math.isfinite(n_ind) else f"{n_ind:.0f}" + ("!" if n_ind < RELIABLE_INDEPENDENT else "")
            lines.append(
                f"{name:<10} {r.size:>3} {r.kappa:>6.3f} {train:>8} {r.configs_per_second:>9.4g} "
                f"{_pm(r.acceptance, r.acceptance_error, '.3f'):>14} {ess:>6} "
                f"{_pm(r.tau_int, r.tau_int_error, '.2f'):>15} {_pm(r.cost, r.cost_error, '.2e'):>19} "
                f"{payoff:>9} {log_z:>19} {n_ind_text:>7} {pull:>6} {valid:>5}")
        lines += ["",
                  "cfg/s: HMC trajectories or generator proposals per second, every chain/proposal of the batch "
                  "counted; tau_int in those configurations;",
                  "s/indep cfg = 2 tau_int / (cfg/s); train s = model training (+ the HMC run that made the "
                  "diffusion training data);",
                  "payoff = independent configurations after which training has paid off against the cheaper HMC; "
                  "validation against plain HMC (|pull| < "
                  f"{self.settings.max_abs_pull:g});",
                  "'~' = Hutchinson log q: the Metropolis step is only approximately exact;",
                  f"N_ind = configs / (2 tau_int); '!' = fewer than {RELIABLE_INDEPENDENT}: a sticky chain whose "
                  "Gamma-method errors, and so its pulls, are not trustworthy."]
        return "\n".join(lines)


def _pm(value: float, error: float, spec: str) -> str:
    if value is None or not math.isfinite(value):
        return "nan"
    return f"{value:{spec}} ± {error:{spec}}" if math.isfinite(error) else f"{value:{spec}} ± nan"


# ---------------------------------------------------------------------------------------------- runs
def _batch(preset: Preset, sites: int, volume: int) -> int:
    return max(preset.min_batch, sites // volume)


def _diffusion_proposals(settings: CompareSettings, volume: int) -> int:
    """--proposals when given; else a fixed number of proposal-sites while log q is exact (its cost grows
    with the volume), and a sixteenth of the flow's proposals once log q is Hutchinson's."""
    from qcdgen.lattice.diffusion_sampling import EXACT_MAX_SITES

    if settings.proposals is not None:
        return settings.proposals
    p = settings.preset_values
    wanted = p.diffusion_sites // volume if volume <= EXACT_MAX_SITES else p.proposals // 16
    return max(MIN_DIFFUSION_PROPOSALS, wanted)


def point_dir(out_dir: Path, size: int, kappa: float) -> Path:
    return Path(out_dir) / f"L{size}_kappa{kappa:g}"


def _plans(settings: CompareSettings, size: int, kappa: float) -> dict[str, dict]:
    """The full configuration of every run at (L, κ): what a finished row must have been made with."""
    from qcdgen.lattice.diffusion_training import DiffusionSettings
    from qcdgen.lattice.flow_sampler import FlowSettings
    from qcdgen.lattice.hmc_ensemble import HMCSettings
    from qcdgen.lattice.path_sampler import PathSettings

    p, s = settings.preset_values, settings
    volume = size ** s.dim
    plans: dict[str, dict] = {}
    for name in HMC_SAMPLERS:
        plans[name] = {"hmc": HMCSettings(size=size, kappa=kappa, lam=s.lam, dim=s.dim,
                                          configs=s.resolved("hmc_configs"), chains=s.chains,
                                          seed=s.seed + (0 if name == "hmc" else 1), thermalize=p.thermalize,
                                          integrator="omelyan", fourier_acceleration=name == "hmc-fa",
                                          device=s.device)}
    plans["diffusion"] = {
        "train": DiffusionSettings(channels=p.diffusion_channels, blocks=p.diffusion_blocks,
                                   steps=s.resolved("diffusion_steps"),
                                   batch_size=_batch(p, p.diffusion_batch_sites, volume), lr=3e-3, seed=s.seed + 2),
        "data": "hmc-fa" if "hmc-fa" in s.samplers else "hmc",
        "sample": dict(configs=_diffusion_proposals(s, volume), metropolis=True,
                       chains=s.mh_chains, ode_steps=p.ode_steps, solver="heun", seed=s.seed + 12,
                       batch_size=250)}
    plans["flow"] = {
        "train": FlowSettings(layers=p.flow_layers, channels=p.flow_channels, steps=s.resolved("flow_steps"),
                              batch_size=_batch(p, p.flow_sites, volume), lr=p.flow_lr, eval_samples=p.flow_eval,
                              warmup=min(50, max(1, s.resolved("flow_steps") // 10)), seed=s.seed + 3),
        "sample": dict(configs=s.resolved("proposals"), chains=s.mh_chains, batch_size=1000, seed=s.seed + 13)}
    plans["path"] = {
        "train": PathSettings(time_steps=p.path_time_steps, channels=p.path_channels,
                              steps=s.resolved("path_steps"), batch_size=_batch(p, p.path_sites, volume),
                              eval_paths=p.path_eval, seed=s.seed + 4),
        "sample": dict(configs=s.resolved("proposals"), chains=s.mh_chains, batch_size=500, seed=s.seed + 14)}
    return plans


def _identity(settings: CompareSettings, plan: dict) -> dict:
    """JSON-comparable description of a run (a finished row is reused only when it matches)."""
    out = {"lam": settings.lam, "dim": settings.dim, "max_abs_pull": settings.max_abs_pull,
           "device": settings.device}
    for key, value in plan.items():
        out[key] = asdict(value) if hasattr(value, "__dataclass_fields__") else value
    return json.loads(json.dumps(out))


def _row_path(out_dir: Path, size: int, kappa: float, sampler: str) -> Path:
    return point_dir(out_dir, size, kappa) / f"{sampler}.json"


def _load_row(path: Path, identity: dict) -> SamplerRow | None:
    """The finished row at ``path`` if it was made with ``identity`` and its ensemble is still there."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if payload.get("kind") != ROW_KIND or payload.get("identity") != identity:
        return None
    row = SamplerRow.from_dict(payload["row"])
    return row if Path(row.ensemble).is_file() else None


def _save_row(path: Path, identity: dict, row: SamplerRow) -> None:
    atomic_write_text(path, json.dumps({"kind": ROW_KIND, "identity": identity, "row": row.to_dict()},
                                       indent=2) + "\n")


def _validate(row: SamplerRow, reference: Path, settings: CompareSettings) -> None:
    from qcdgen.lattice.validation import validate_ensembles

    result = validate_ensembles(row.ensemble, reference, max_abs_pull=settings.max_abs_pull,
                                device=settings.device)
    pulls = [abs(r.pull) for r in result.table.rows]
    row.max_abs_pull = max(pulls) if pulls and all(math.isfinite(p) for p in pulls) else math.inf
    row.passed = bool(result.passed)
    failed_checks = [c.name for c in result.checks if not c.passed]
    if failed_checks:
        row.note = (row.note + "; " if row.note else "") + "failed: " + ", ".join(failed_checks)


def _run_hmc(name: str, plan: dict, directory: Path, progress: bool) -> SamplerRow:
    from qcdgen.lattice.hmc_ensemble import generate_hmc_ensemble

    hmc = plan["hmc"]
    out = directory / f"{name}.h5"
    result = generate_hmc_ensemble(out, hmc, progress=progress)
    tau = result.tau_int_abs_m
    return SamplerRow(sampler=name, size=hmc.size, kappa=hmc.kappa, lam=hmc.lam, exact=True,
                      configs=int(result.trajectories), configs_per_second=result.trajectories_per_second,
                      acceptance=result.acceptance.value, acceptance_error=result.acceptance.error,
                      tau_int=tau.value, tau_int_error=tau.error, ensemble=str(out),
                      note=f"{hmc.chains} chains, dt {result.step_size:.3g} x {result.n_steps}",
                      generation_seconds=float(sum(result.seconds.values())))


def _run_diffusion(plan: dict, action: Phi4Action, directory: Path, data: SamplerRow, device: str,
                   progress: bool) -> SamplerRow:
    from qcdgen.lattice.diffusion_sampling import SampleSettings, sample_lattice_diffusion
    from qcdgen.lattice.diffusion_training import load_model, train_lattice_diffusion

    model_path, out = directory / "diffusion.pt", directory / "diffusion.h5"
    settings = plan["train"]
    model = _reuse(lambda: load_model(model_path, device), model_path,
                   lambda m: m.settings == settings and m.training_file == str(Path(data.ensemble).resolve()))
    if model is None:
        model = train_lattice_diffusion(data.ensemble, model_path, settings, device=device, progress=progress)
    sampling = SampleSettings(**plan["sample"])
    s = sample_lattice_diffusion(model_path, out, sampling, device=device, progress=progress)
    return SamplerRow(sampler="diffusion", size=action.size, kappa=action.kappa, lam=action.lam, exact=bool(s.exact),
                      configs=sampling.configs, configs_per_second=s.proposals_per_second,
                      acceptance=s.acceptance, acceptance_error=s.acceptance_error, tau_int=s.tau_int_abs_m.value,
                      tau_int_error=s.tau_int_abs_m.error, train_seconds=float(model.train_seconds),
                      data_seconds=data.generation_seconds, generation_seconds=s.seconds, importance_ess=s.importance_ess,
                      log_z=s.log_z.value if s.exact else None, log_z_error=s.log_z.error if s.exact else None,
                      ensemble=str(out), note=f"log q {s.divergence}; trained on {data.sampler}")


def _run_flow(plan: dict, action: Phi4Action, directory: Path, device: str, progress: bool) -> SamplerRow:
    from qcdgen.lattice.flow_sampler import load_flow_model, sample_lattice_flow, train_lattice_flow

    model_path, out = directory / "flow.pt", directory / "flow.h5"
    settings = plan["train"]
    model = _reuse(lambda: load_flow_model(model_path, device), model_path,
                   lambda m: m.settings == settings and m.action == action)
    if model is None:
        model = train_lattice_flow(action, model_path, settings, device=device, progress=progress)
    r = sample_lattice_flow(model_path, out, metropolis=True, device=device, progress=progress, **plan["sample"])
    m = r.metropolis
    return SamplerRow(sampler="flow", size=action.size, kappa=action.kappa, lam=action.lam, exact=True,
                      configs=r.configs, configs_per_second=r.proposals_per_second, acceptance=m.acceptance,
                      acceptance_error=m.acceptance_error, tau_int=m.tau_int_abs_m.value,
                      tau_int_error=m.tau_int_abs_m.error, train_seconds=float(model.train_seconds),
                      importance_ess=m.importance_ess, log_z=m.log_z.value, log_z_error=m.log_z.error,
                      generation_seconds=r.seconds, ensemble=str(out), note=f"{settings.coupling}, {settings.layers} layers, "
                                              f"restarts {len(model.restarts)}")


def _run_path(plan: dict, action: Phi4Action, directory: Path, device: str, progress: bool) -> SamplerRow:
    from qcdgen.lattice.path_sampler import load_path_model, sample_lattice_path_sampler, train_lattice_path_sampler

    model_path, out = directory / "path.pt", directory / "path.h5"
    settings = plan["train"]
    model = _reuse(lambda: load_path_model(model_path, device), model_path,
                   lambda m: m.settings == settings and m.action == action)
    if model is None:
        model = train_lattice_path_sampler(action, model_path, settings, device=device, progress=progress)
    r = sample_lattice_path_sampler(model_path, out, metropolis=True, device=device, progress=progress,
                                    **plan["sample"])
    m = r.summary
    return SamplerRow(sampler="path", size=action.size, kappa=action.kappa, lam=action.lam, exact=True,
                      configs=r.configs, configs_per_second=r.proposals_per_second, acceptance=m.acceptance,
                      acceptance_error=m.acceptance_error, tau_int=m.tau_int_abs_m.value,
                      tau_int_error=m.tau_int_abs_m.error, train_seconds=float(model.train_seconds),
                      importance_ess=r.importance_ess, log_z=r.log_z.value, log_z_error=r.log_z.error,
                      generation_seconds=r.seconds, ensemble=str(out), note=f"{settings.loss}, {settings.time_steps} time steps, "
                                              f"restarts {len(model.restarts)}")


def _reuse(load, path: Path, matches):
    """A trained model at ``path`` made with the wanted settings (an interrupted study resumes), else None."""
    if not path.is_file():
        return None
    try:
        model = load()
    except Exception:  # noqa: BLE001 - an unreadable or foreign file is simply retrained
        return None
    return model if matches(model) else None


def assign_payoffs(rows: list[SamplerRow]) -> None:
    """Set ``payoff_configs`` of every generative row: (training + data seconds) / (best HMC cost − own cost),
    ``math.inf`` (never) when its sampling cost is not below the cheaper HMC at the same (L, κ)."""
    for row in rows:
        if not row.generative:
            continue
        hmc_costs = [r.cost for r in rows if r.sampler in HMC_SAMPLERS and (r.size, r.kappa) == (row.size, row.kappa)
                     and math.isfinite(r.cost)]
        if not hmc_costs or not math.isfinite(row.cost):
            row.payoff_configs = math.nan
            continue
        gain = min(hmc_costs) - row.cost
        invest = (row.train_seconds or 0.0) + (row.data_seconds or 0.0)
        row.payoff_configs = invest / gain if gain > 0 else math.inf


def compare_samplers(settings: CompareSettings, out_dir: str | Path, progress: bool = True) -> SamplerStudy:
    """Run (or resume) the study of ``settings`` in ``out_dir`` and return its rows.

    For every (L, κ): plain HMC (the reference), then the other samplers in the order of
    :data:`SAMPLERS`; every ensemble except the reference is validated against it. A row whose JSON
    in ``out_dir`` was made with the same settings (and whose ensemble is still there) is read back,
    not recomputed.
    """
    resolve_device(settings.device)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out-dir {str(out_dir)!r} cannot be created: {exc.strerror or exc}") from None
    rows: list[SamplerRow] = []
    reused: list[str] = []
    for size in settings.sizes:
        for kappa in settings.kappas:
            action = Phi4Action(size=size, kappa=kappa, lam=settings.lam, dim=settings.dim)
            directory = point_dir(out_dir, size, kappa)
            directory.mkdir(parents=True, exist_ok=True)
            plans = _plans(settings, size, kappa)
            done: dict[str, SamplerRow] = {}
            for sampler in settings.samplers:
                plan = plans[sampler]
                if sampler == "diffusion":  # the training data are part of what the row depends on
                    plan = {**plan, "data_identity": _identity(settings, plans[plan["data"]])}
                identity = _identity(settings, plan)
                path = _row_path(out_dir, size, kappa, sampler)
                row = _load_row(path, identity)
                label = f"{sampler} L={size} kappa={kappa:g}"
                if row is not None:
                    reused.append(label)
                else:
                    t0 = time.perf_counter()
                    if sampler in HMC_SAMPLERS:
                        row = _run_hmc(sampler, plan, directory, progress)
                    elif sampler == "diffusion":
                        row = _run_diffusion(plan, action, directory, done[plan["data"]], settings.device, progress)
                    elif sampler == "flow":
                        row = _run_flow(plan, action, directory, settings.device, progress)
                    else:
                        row = _run_path(plan, action, directory, settings.device, progress)
                    if sampler != REFERENCE:
                        _validate(row, Path(done[REFERENCE].ensemble), settings)
                    row.run_seconds = time.perf_counter() - t0
                    _save_row(path, identity, row)
                    if progress:
                        print(f"  {label}: done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
                done[sampler] = row
                rows.append(row)
    assign_payoffs(rows)
    return SamplerStudy(settings=settings, rows=rows, out_dir=out_dir, reused=reused)


def with_overrides(settings: CompareSettings, **overrides) -> CompareSettings:
    """``settings`` with the non-None overrides applied."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


__all__ = ["SAMPLERS", "PRESETS", "Preset", "CompareSettings", "SamplerRow", "SamplerStudy", "compare_samplers",
           "assign_payoffs", "point_dir"]
