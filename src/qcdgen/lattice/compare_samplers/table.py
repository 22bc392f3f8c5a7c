"""The result table of a sampler study: one :class:`SamplerRow` per sampler × L × κ, the cost of an
independent configuration, and when a generator's training pays off against HMC."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from qcdgen.lattice.compare_samplers.settings import HMC_SAMPLERS, CompareSettings

#: fewer independent configurations than this: the chain's error bars (and pulls) are flagged unreliable
RELIABLE_INDEPENDENT = 50


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
        w = max([10] + [len(r.sampler) + 1 for r in self.rows])  # + 1: the '~' mark
        header = (f"{'sampler':<{w}} {'L':>3} {'kappa':>6} {'train s':>8} {'cfg/s':>9} {'acceptance':>14} "
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
                f"{name:<{w}} {r.size:>3} {r.kappa:>6.3f} {train:>8} {r.configs_per_second:>9.4g} "
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

