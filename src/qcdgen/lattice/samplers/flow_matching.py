"""Flow-matching sampler for φ⁴ trained on an HMC ensemble (``qcdgen lattice fm-train`` / ``fm-sample``).

Conditional flow matching with the linear interpolant x_t = (1 − t) x₀ + t x₁ between N(0, I) noise
and the HMC configurations (Lipman et al., ICLR 2023; :mod:`qcdgen.diffusion.flow_matching`). The
network and its symmetries are those of the diffusion sampler (:mod:`.diffusion`): the periodic CNN
(exactly odd in φ when the action is Z₂-symmetric), the exact velocity of the stationary Gaussian
fitted to the data plus a network for the remainder, random lattice symmetries on every batch, and
the last ``heldout_fraction`` of each chain held out.

Proposals come from the ODE dx/dt = v(x, t), ``ode_steps`` uniform Heun steps, with log q exact
(step Jacobians) on lattices of up to ``EXACT_MAX_SITES`` sites and a Hutchinson estimate above;
independence Metropolis against e^{−S} is exact when log q is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from qcdgen.checks import check_positive_int
from qcdgen.diffusion import StationaryGaussian
from qcdgen.diffusion.flow_matching import LinearPath, VelocityModel, cfm_loss, transport_sample
from qcdgen.errors import InputError
from qcdgen.lattice.metropolis import json_dict
from qcdgen.lattice.samplers.diffusion import EXACT_MAX_SITES, MIN_DIFFUSION_PROPOSALS, DiffusionSampler
from qcdgen.lattice.samplers.protocol import LatticeSampler, SamplingSettings, TrainedSampler, check_sampling
from qcdgen.lattice.symmetries import random_symmetry
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.train import TrainSettings

MODEL_KIND = "lattice-flow-matching"


@dataclass(frozen=True)
class FlowMatchingSettings:
    """Network and training settings (the ``qcdgen lattice fm-train`` flags, one to one)."""

    channels: int = 16
    blocks: int = 2
    odd: bool = True
    gaussian: bool = True
    steps: int = 2000
    batch_size: int = 128
    lr: float = 3e-3
    ema_decay: float = 0.999
    augment: bool = True
    heldout_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.heldout_fraction < 1):
            raise InputError(f"--heldout-fraction must be in [0, 1), got {self.heldout_fraction!r}")
        check_positive_int(self.channels, "--channels")
        check_positive_int(self.blocks, "--blocks")
        check_positive_int(self.seed, "--seed", minimum=0)
        self.train_settings()

    def make_path(self):
        return LinearPath()

    def train_settings(self) -> TrainSettings:
        return TrainSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                             ema_decay=self.ema_decay, seed=self.seed)


@dataclass(frozen=True)
class TransportSampleSettings(SamplingSettings):
    """The ``fm-sample`` / ``sb-sample`` flags: the shared ones, ODE steps, solver and log q."""

    batch_size: int = 250
    ode_steps: int = 12
    solver: str = "heun"
    divergence: str = "auto"

    def __post_init__(self) -> None:
        check_sampling(self)
        check_positive_int(self.ode_steps, "--ode-steps")
        if self.solver not in ("heun", "euler"):
            raise InputError(f"--solver must be heun or euler, got {self.solver!r}")
        if self.divergence not in ("auto", "exact", "hutchinson"):
            raise InputError(f"--divergence must be auto, exact or hutchinson, got {self.divergence!r}")

    def resolved_divergence(self, volume: int) -> str:
        if self.divergence != "auto":
            return self.divergence
        return "exact" if volume <= EXACT_MAX_SITES else "hutchinson"


class FlowMatchingSampler(LatticeSampler):
    """Flow matching (linear interpolant) trained on an HMC ensemble, sampled by the exact-log-q ODE."""

    name = "flow-matching"
    kind = MODEL_KIND
    settings_type = FlowMatchingSettings
    sampling_type = TransportSampleSettings
    model_type = TrainedSampler
    trains_on_data = True
    # In ``compare-samplers`` when named (``--samplers hmc,hmc-fa,flow-matching``), not in its default set
    # (each study would train two more models); benchmarks/bench_transport.py names them.
    study = False
    study_optional = True
    seed_offset = 3  # study seeds: the diffusion sampler uses +2 / +12
    training_data = DiffusionSampler.training_data  # held-out split of every chain, as for the diffusion model
    saved = DiffusionSampler.saved  # MODEL.loss.csv

    def build(self, settings, action, data=None):
        gaussian = None
        if settings.gaussian and data is None:  # loading: the fitted spectrum comes with the weights
            gaussian = StationaryGaussian(torch.ones(action.site_shape))
        elif settings.gaussian:
            gaussian = StationaryGaussian.fit(torch.cat([data, -data]) if settings.odd else data).to(data.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            net = PeriodicScoreCNN(dim=action.dim, channels=settings.channels, blocks=settings.blocks,
                                   odd=settings.odd)
        return VelocityModel(net, settings.make_path(), gaussian)

    def loss(self, settings, action):
        return lambda m, b, g: cfm_loss(m, b, g)

    def augment(self, settings):
        return (lambda b, g: random_symmetry(b, g, z2=settings.odd)) if settings.augment else None

    def draw(self, model, n, generator, options):
        fs = transport_sample(model.module, (n, *model.action.site_shape), options.ode_steps, generator,
                              generator.device, divergence=options.resolved_divergence(model.action.volume),
                              solver=options.solver)
        return fs.x, fs.log_q

    def label(self, model, options):
        return self.name + ("+imh" if options.metropolis else "")

    def sampling_work(self, model, options):
        return options.batch_size * model.settings.channels * model.action.volume  # as the diffusion sampler

    def exact_log_q(self, model, options):
        return options.resolved_divergence(model.action.volume) == "exact"

    def finish(self, model, phi, options, generator):
        return phi, {"divergence": options.resolved_divergence(model.action.volume)}

    def ensemble_attrs(self, model, result):
        return {"training_file": model.training_file, "heldout_fraction": model.settings.heldout_fraction,
                f"{self.name}_settings": json_dict(asdict(model.settings)),
                "path": json_dict(model.module.path.to_dict()),
                "sample_settings": json_dict(asdict(result.settings)), "divergence": result.divergence}

    # ------------------------------------------------------------------ sampler studies
    def study_train_settings(self, study, volume: int):
        """The study's network and training budget: the diffusion sampler's (same network family)."""
        p = study.preset_values
        return self.settings_type(channels=p.diffusion_channels, blocks=p.diffusion_blocks,
                                  steps=study.resolved("diffusion_steps"),
                                  batch_size=p.batch(p.diffusion_batch_sites, volume), lr=3e-3,
                                  seed=study.seed + self.seed_offset)

    def study_plan(self, study, volume):
        p = study.preset_values
        if study.proposals is not None:
            proposals = study.proposals
        else:  # exact log q costs ~ volume per proposal: a fixed number of proposal-sites, as for diffusion
            wanted = p.diffusion_sites // volume if volume <= EXACT_MAX_SITES else p.proposals // 16
            proposals = max(MIN_DIFFUSION_PROPOSALS, wanted)
        return {"train": self.study_train_settings(study, volume),
                "data": "hmc-fa" if "hmc-fa" in study.samplers else "hmc",
                "sample": dict(configs=proposals, metropolis=True, chains=study.mh_chains, ode_steps=p.ode_steps,
                               solver="heun", seed=study.seed + 10 + self.seed_offset, batch_size=250)}

    def study_note(self, model, result, data_sampler):
        return f"log q {result.divergence}; trained on {data_sampler}"



__all__ = ["FlowMatchingSampler", "FlowMatchingSettings", "TransportSampleSettings", "MODEL_KIND"]
