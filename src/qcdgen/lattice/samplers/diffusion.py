"""Diffusion sampler for φ⁴ trained on an HMC ensemble: ``qcdgen lattice train`` and ``qcdgen lattice sample``.

Set-up after Wang, Aarts & Zhou, JHEP 05 (2024) 060 (VE SDE, g(t) = σ^t, σ = 25, T = 1, periodic CNN
score network), with three additions that matter on small budgets:

- the score is the exact score of a stationary Gaussian fitted to the data (the free-field part,
  diagonal in momentum space) plus a network for the non-Gaussian remainder;
- the network is exactly odd in φ (Z₂) when the action is;
- every batch is transformed by a random lattice symmetry (translation, point group, φ → −φ).

The last ``heldout_fraction`` of each Markov chain is not trained on: the memorisation check compares
generated configurations with it.

Proposals: ``ode`` (default), the probability-flow ODE with the log-density log q of every proposal
(exact Jacobians on lattices of up to ``EXACT_MAX_SITES`` sites, Hutchinson otherwise); ``sde``
(Euler–Maruyama on the reverse SDE) and ``pc`` (predictor–corrector) have no log q. Independence
Metropolis against e^{−S} is exact when log q is, i.e. ``divergence="exact"``; ``mala_steps`` then
applies that many MALA steps on the true action to every configuration.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from qcdgen.checks import check_positive_int
from qcdgen.diffusion import (SDE, VESDE, VPSDE, ScoreModel, StationaryGaussian, dsm_loss, flow_sample,
                              reverse_sde_sample)
from qcdgen.errors import InputError
from qcdgen.io import atomic_write_text, read_ensemble
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.metropolis import json_dict
from qcdgen.lattice.samplers.protocol import LatticeSampler, TrainedSampler, TrainingData, check_sampling
from qcdgen.lattice.symmetries import random_symmetry
from qcdgen.mcmc import MALA
from qcdgen.nn import PeriodicScoreCNN
from qcdgen.train import TrainSettings

MODEL_KIND = "lattice-diffusion"
EXACT_MAX_SITES = 256
MIN_DIFFUSION_PROPOSALS = 64  # what a sampler study draws at least


@dataclass(frozen=True)
class DiffusionSettings:
    """Model, SDE and training settings (the ``qcdgen lattice train`` flags, one to one)."""

    sde: str = "ve"
    sigma: float = 25.0
    beta_min: float = 0.1
    beta_max: float = 20.0
    eps: float = 1e-3
    channels: int = 16
    blocks: int = 2
    odd: bool = True
    gaussian: bool = True
    global_pool: bool = False
    steps: int = 2000
    batch_size: int = 128
    lr: float = 3e-3
    ema_decay: float = 0.999
    weighting: str = "sigma2"
    augment: bool = True
    heldout_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sde not in ("ve", "vp"):
            raise InputError(f"--sde must be 've' or 'vp', got {self.sde!r}")
        if not (0 <= self.heldout_fraction < 1):
            raise InputError(f"--heldout-fraction must be in [0, 1), got {self.heldout_fraction!r}")
        check_positive_int(self.seed, "--seed", minimum=0)
        self.make_sde()
        self.train_settings()

    def make_sde(self) -> SDE:
        if self.sde == "ve":
            return VESDE(sigma=self.sigma, eps=self.eps)
        return VPSDE(beta_min=self.beta_min, beta_max=self.beta_max, eps=self.eps)

    def train_settings(self) -> TrainSettings:
        return TrainSettings(steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                             ema_decay=self.ema_decay, seed=self.seed)


# Paper set-up for a GPU: 32×32 lattices, 5120 configurations, σ = 25; a wider, deeper net and long training.
PAPER_DIFFUSION = DiffusionSettings(channels=64, blocks=6, steps=100_000, batch_size=64, lr=1e-3, ema_decay=0.9999)


@dataclass(frozen=True)
class SampleSettings:
    """The ``qcdgen lattice sample`` flags, one to one."""

    configs: int
    sampler: str = "ode"
    metropolis: bool = False
    chains: int = 1
    ode_steps: int = 12
    solver: str = "heun"
    divergence: str = "auto"
    sde_steps: int = 200
    corrector_steps: int = 1
    mala_steps: int = 0
    mala_step_size: float = 0.05
    batch_size: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        check_sampling(self)
        if self.sampler not in ("ode", "sde", "pc"):
            raise InputError(f"--sampler must be ode, sde or pc, got {self.sampler!r}")
        if self.metropolis and self.sampler != "ode":
            raise InputError("--metropolis needs the log-density of the proposals: use --sampler ode")
        if self.divergence not in ("auto", "exact", "hutchinson"):
            raise InputError(f"--divergence must be auto, exact or hutchinson, got {self.divergence!r}")
        for name in ("ode_steps", "sde_steps"):
            check_positive_int(getattr(self, name), f"--{name.replace('_', '-')}")
        check_positive_int(self.mala_steps, "--mala-steps", minimum=0)
        if not (self.mala_step_size > 0 and math.isfinite(self.mala_step_size)):
            raise InputError(f"--mala-step-size must be a finite number > 0, got {self.mala_step_size!r}")

    def resolved_divergence(self, volume: int) -> str:
        if self.divergence != "auto":
            return self.divergence
        return "exact" if volume <= EXACT_MAX_SITES else "hutchinson"


def split_heldout(chain: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of held-out configurations: the last ``fraction`` of every chain (MC order)."""
    mask = np.zeros(len(chain), dtype=bool)
    if fraction <= 0:
        return mask
    for c in np.unique(chain):
        where = np.flatnonzero(chain == c)
        n_out = int(math.floor(fraction * len(where)))
        if n_out:
            mask[where[-n_out:]] = True
    return mask


def build_score_model(settings: DiffusionSettings, action: Phi4Action,
                      gaussian: StationaryGaussian | None) -> ScoreModel:
    """The score model; its initial weights depend only on ``settings.seed`` (not on torch's global state)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        net = PeriodicScoreCNN(dim=action.dim, channels=settings.channels, blocks=settings.blocks,
                               odd=settings.odd, global_pool=settings.global_pool)
    return ScoreModel(net, settings.make_sde(), gaussian)


def loss_curve_path(model_path: str | Path) -> Path:
    """MODEL.pt -> MODEL.loss.csv (columns step,loss: mean loss over each logging window)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".loss.csv")


def with_overrides(settings: DiffusionSettings, **overrides) -> DiffusionSettings:
    """``settings`` with the non-None overrides applied (CLI flags that were given)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


class LatticeDiffusionModel(TrainedSampler):
    """A trained diffusion model: :class:`TrainedSampler` with the score model and its SDE."""

    score = property(lambda self: self.module)
    sde = property(lambda self: self.module.sde)


def _mala(action, phi: torch.Tensor, settings: SampleSettings, generator) -> tuple[torch.Tensor, float]:
    sampler = MALA(lambda x: (action.log_prob(x), action.force(x)), settings.mala_step_size)
    state = sampler.init(phi)
    probs = []
    for _ in range(settings.mala_steps):
        state, prob = sampler.step(state, generator)
        probs.append(prob.mean())
    return state.position, float(torch.stack(probs).mean())


class DiffusionSampler(LatticeSampler):
    name = "diffusion"
    kind = MODEL_KIND
    settings_type = DiffusionSettings
    sampling_type = SampleSettings
    model_type = LatticeDiffusionModel
    trains_on_data = True
    study = True
    presets = {"quick": DiffusionSettings(), "paper": PAPER_DIFFUSION}

    def training_data(self, ensemble, settings, device):
        ens = read_ensemble(ensemble)
        heldout = split_heldout(ens.chain, settings.heldout_fraction)
        train_phi = ens.phi[~heldout]
        if len(train_phi) < 8:
            raise InputError(f"{str(ensemble)!r} leaves {len(train_phi)} training configurations after holding out "
                             f"{settings.heldout_fraction:.0%}; generate at least 10 configurations")
        return TrainingData(action=Phi4Action.from_dict(ens.attrs), file=str(Path(ensemble).resolve()),
                            phi=torch.as_tensor(train_phi, dtype=torch.float32, device=device), configs=len(train_phi))

    def build(self, settings, action, data=None):
        gaussian = None
        if settings.gaussian and data is None:  # loading: the fitted spectrum comes with the weights
            gaussian = StationaryGaussian(torch.ones(action.site_shape))
        elif settings.gaussian:
            gaussian = StationaryGaussian.fit(torch.cat([data, -data]) if settings.odd else data).to(data.device)
        return build_score_model(settings, action, gaussian)

    def loss(self, settings, action):
        return lambda m, b, g: dsm_loss(m, b, g, settings.weighting)

    def augment(self, settings):
        return (lambda b, g: random_symmetry(b, g, z2=settings.odd)) if settings.augment else None

    def saved(self, out, model):
        atomic_write_text(loss_curve_path(out), "step,loss\n" + "".join(
            f"{int(k)},{float(v):.6g}\n" for k, v in zip(model.loss_steps, model.loss_values)))

    def upgrade(self, payload):
        """Model files from before the shared format: network and Gaussian power apart, settings as ``settings``."""
        weights = {f"net.{k}": v for k, v in payload["net"].items()}
        if payload["gaussian_power"] is not None:
            weights["gaussian.power"] = payload["gaussian_power"]
        return {**payload, "config": payload["settings"], "weights": weights, "restarts": [],
                "curves": {"steps": payload["loss_steps"], "loss": payload["loss_values"]}}

    def draw(self, model, n, generator, options):
        shape, device = (n, *model.action.site_shape), generator.device
        if options.sampler == "ode":
            fs = flow_sample(model.module, model.sde, shape, options.ode_steps, generator, device,
                             divergence=options.resolved_divergence(model.action.volume), solver=options.solver)
            return fs.x, fs.log_q
        x = reverse_sde_sample(model.module, model.sde, shape, options.sde_steps, generator, device,
                               corrector_steps=options.corrector_steps if options.sampler == "pc" else 0)
        return x, torch.full((n,), math.nan, dtype=torch.float64, device=device)

    def label(self, model, s):
        return (f"diffusion-{s.sampler}" + ("+imh" if s.metropolis else "")
                + (f"+mala{s.mala_steps}" if s.mala_steps else ""))

    def sampling_work(self, model, options):
        # The exact log q batches V vector-Jacobian products into every network call, but those are
        # memory-bound: at L = 8 (batch 250) 2 threads ran no faster than 1 on an idle 2-core machine
        # (20.1 s against 19.2 s), so the work counts the network's own size only.
        return options.batch_size * model.settings.channels * model.action.volume

    def exact_log_q(self, model, options):
        return options.resolved_divergence(model.action.volume) == "exact"

    def finish(self, model, phi, options, generator):
        mala_acceptance = math.nan
        if options.mala_steps:
            phi, mala_acceptance = _mala(model.action, phi, options, generator)
        return phi, {"divergence": options.resolved_divergence(model.action.volume), "mala_acceptance": mala_acceptance}

    def ensemble_attrs(self, model, result):
        return dict(training_file=model.training_file, heldout_fraction=model.settings.heldout_fraction,
                    sde=json_dict(model.sde.to_dict()), sample_settings=json_dict(asdict(result.settings)),
                    divergence=result.divergence, mala_acceptance=result.mala_acceptance)

    def study_plan(self, study, volume):
        p = study.preset_values
        if study.proposals is not None:  # a fixed number of proposal-sites while log q is exact (cost ~ volume)
            proposals = study.proposals
        else:
            wanted = p.diffusion_sites // volume if volume <= EXACT_MAX_SITES else p.proposals // 16
            proposals = max(MIN_DIFFUSION_PROPOSALS, wanted)
        return {"train": DiffusionSettings(channels=p.diffusion_channels, blocks=p.diffusion_blocks,
                                           steps=study.resolved("diffusion_steps"),
                                           batch_size=p.batch(p.diffusion_batch_sites, volume), lr=3e-3,
                                           seed=study.seed + 2),
                "data": "hmc-fa" if "hmc-fa" in study.samplers else "hmc",
                "sample": dict(configs=proposals, metropolis=True, chains=study.mh_chains, ode_steps=p.ode_steps,
                               solver="heun", seed=study.seed + 12, batch_size=250)}

    def study_note(self, model, result, data_sampler):
        return f"log q {result.divergence}; trained on {data_sampler}"
