"""What a sampler study runs: the presets (sizes of every run) and :class:`CompareSettings` (the flags)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from qcdgen.checks import check_positive_float, check_positive_int
from qcdgen.errors import InputError
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.samplers import study_samplers
from qcdgen.lattice.samplers.diffusion import MIN_DIFFUSION_PROPOSALS

REFERENCE = "hmc"
HMC_SAMPLERS = ("hmc", "hmc-fa")
#: the samplers of a study: the two HMC variants, then every registered study sampler
SAMPLERS = HMC_SAMPLERS + study_samplers()
PRESET_NAMES = ("quick", "study")


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


    def batch(self, sites: int, volume: int) -> int:
        """Batch size holding about ``sites`` lattice sites (at least ``min_batch`` configurations)."""
        return max(self.min_batch, sites // volume)


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
        known = HMC_SAMPLERS + study_samplers(optional=True)
        samplers = _check_list(self.samplers, "--samplers", f"samplers from {', '.join(known)}")
        unknown = [s for s in samplers if s not in known]
        if unknown:
            raise InputError(f"--samplers: unknown sampler {unknown[0]!r}; choose from {', '.join(known)}")
        samplers = tuple(s for s in known if s in samplers or s == REFERENCE)  # study order, reference first
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
