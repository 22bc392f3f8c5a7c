"""The one protocol every generative lattice sampler follows, and the objects the shared pipeline returns.

A sampler is a :class:`LatticeSampler`. It names itself (``name``: registry key and CLI name;
``kind``: the ``kind`` of its model files), declares its settings dataclass, and supplies three
methods:

- ``build(settings, action, data=None) -> nn.Module``: the untrained network, its initial weights
  drawn from ``settings.seed`` alone (``data``: the training configurations of a sampler that
  ``trains_on_data``; ``None`` when a model file is being loaded);
- ``loss(settings, action)``: the training loss, ``loss(module, batch, generator)`` for a sampler
  trained on an ensemble (:func:`qcdgen.train.train_model`) and ``loss(module, n, generator) ->
  (loss, metrics)`` for one trained on e^{−S} alone (:func:`qcdgen.train.train_dataless`);
- ``draw(model, n, generator, options) -> (phi, log_q)``: n proposals and the log-density the
  independence Metropolis step needs (for the path sampler: endpoints and the path-space log weight).

Training with checkpoints and resume, the model file, sampling into an HDF5 ensemble with resume,
independence Metropolis, log Z and its pull against an exact result are shared
(:mod:`qcdgen.lattice.samplers.pipeline`). Every other method here is a hook with a default.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from qcdgen.checks import check_positive_int
from qcdgen.errors import InputError
from qcdgen.lattice.actions import Phi4Action
from qcdgen.lattice.metropolis import MetropolisSummary, check_sampling_args, json_dict
from qcdgen.stats import Estimate


def pull(value: float, error: float, exact: float) -> float:
    """(value − exact)/error, NaN when the error is zero or not finite."""
    return (value - exact) / error if error > 0 and math.isfinite(error) else math.nan


def check_sampling(settings) -> None:
    """Refuse bad ``configs``, ``chains``, ``batch_size`` and ``seed`` of any sampling settings (naming the flag)."""
    check_sampling_args(settings.configs, settings.chains, settings.batch_size, settings.metropolis)
    check_positive_int(settings.seed, "--seed", minimum=0)


@dataclass(frozen=True)
class SamplingSettings:
    """How many proposals to draw and how to correct them (the ``*-sample`` flags every sampler shares)."""

    configs: int
    metropolis: bool = True
    chains: int = 1
    batch_size: int = 1000
    seed: int = 0

    __post_init__ = check_sampling


@dataclass
class TrainedSampler:
    """A trained sampler: its network, action, settings, curves and post-training evaluation.

    ``exact_log_z`` is the exact log Z when one is known (the free field), and ``log_z_pull`` the
    pull of the evaluation's log Z against it (NaN otherwise).
    """

    spec: LatticeSampler
    module: nn.Module
    action: Phi4Action
    settings: Any
    loss_steps: np.ndarray
    loss_values: np.ndarray
    metrics: dict = field(default_factory=dict)
    restarts: list = field(default_factory=list)
    train_seconds: float = 0.0
    evaluation: dict = field(default_factory=dict)
    training_file: str | None = None  # samplers trained on an ensemble: the file and how many configurations
    training_configs: int | None = None
    exact_log_z: float | None = None
    log_z_pull: float = math.nan

    @property
    def name(self) -> str:
        return self.spec.name

    def draw(self, n: int, generator: torch.Generator, options=None) -> tuple[torch.Tensor, torch.Tensor]:
        """n proposals and their log q (``options``: the sampler's sampling settings, default ones if None)."""
        return self.spec.draw(self, n, generator, options or self.spec.make_sampling({"configs": max(n, 2)}))


@dataclass
class SampleResult:
    """What a sampling run measured about itself.

    ``summary`` is the independence-Metropolis diagnostics (None without the correction); ``log_z``
    and ``importance_ess`` are the importance-sampling estimates over the proposals; ``exact`` says
    whether the written ensemble follows e^{−S} exactly. Sampler-specific results (``divergence``,
    ``mala_acceptance``, ``mean_work``) are in ``extra`` and read as attributes.
    """

    name: str
    sampler: str  # the label written to the ensemble, e.g. "flow-affine+imh"
    settings: Any
    seconds: float
    proposals_per_second: float
    train_seconds: float
    summary: MetropolisSummary | None
    exact: bool
    log_z: Estimate
    importance_ess: float
    exact_log_z: float | None = None
    log_z_pull: float = math.nan
    extra: dict = field(default_factory=dict)

    def __getattr__(self, item: str):
        if item.startswith("__") or item == "extra":
            raise AttributeError(item)
        try:
            return self.extra[item]
        except KeyError:
            raise AttributeError(f"{type(self).__name__!r} has no attribute {item!r}") from None

    configs = property(lambda self: self.settings.configs)
    chains = property(lambda self: self.settings.chains)
    seed = property(lambda self: self.settings.seed)
    # the Metropolis diagnostics (NaN without the correction); ``metropolis`` is the summary or None
    metropolis = property(lambda self: self.summary)
    acceptance = property(lambda self: (self.summary or MetropolisSummary()).acceptance)
    acceptance_error = property(lambda self: (self.summary or MetropolisSummary()).acceptance_error)
    tau_int = property(lambda self: (self.summary or MetropolisSummary()).tau_int)  # of the tracked observable
    tau_int_abs_m = tau_int  # φ⁴: the tracked observable is |M|


@dataclass
class TrainingData:
    """The configurations a data-trained sampler learns from, and where they came from."""

    action: Phi4Action
    phi: torch.Tensor
    file: str
    configs: int


class LatticeSampler:
    """Base class of the generative lattice samplers (see the module docstring).

    Subclasses set the class attributes and implement :meth:`build`, :meth:`loss` and :meth:`draw`.
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    settings_type: ClassVar[type]
    sampling_type: ClassVar[type] = SamplingSettings
    model_type: ClassVar[type] = TrainedSampler
    trains_on_data: ClassVar[bool] = False  # True: trained on an HMC ensemble, False: on e^{−S} alone
    study: ClassVar[bool] = False  # True: one of the samplers ``compare-samplers`` runs
    presets: ClassVar[dict] = {}

    # ------------------------------------------------------------------ the protocol
    def build(self, settings, action: Phi4Action, data: torch.Tensor | None = None) -> nn.Module:
        raise NotImplementedError

    def loss(self, settings, action: Phi4Action):
        raise NotImplementedError

    def draw(self, model: TrainedSampler, n: int, generator: torch.Generator,
             options) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    # ------------------------------------------------------------------ settings
    def make_settings(self, given=None):
        """Settings from an instance, or from a mapping of flags (``None``: the default; ``preset``: a named base)."""
        if isinstance(given, self.settings_type):
            return given
        given = dict(given or {})
        preset = given.pop("preset", None)
        if preset is not None and preset not in self.presets:
            raise InputError(f"--preset must be one of {', '.join(self.presets)}, got {preset!r}")
        base = self.presets[preset] if preset is not None else self.settings_type()
        return replace(base, **{k: v for k, v in given.items() if v is not None})

    def make_sampling(self, given):
        """Sampling settings from an instance or a mapping of flags."""
        if isinstance(given, self.sampling_type):
            return given
        given = asdict(given) if is_dataclass(given) else dict(given)
        return self.sampling_type(**{k: v for k, v in given.items() if v is not None})

    # ------------------------------------------------------------------ training hooks
    def check(self, settings, action: Phi4Action) -> None:
        """Refuse a lattice this sampler cannot handle (before any work)."""

    def training_data(self, ensemble, settings, device: torch.device) -> TrainingData:
        raise NotImplementedError(f"the {self.name} sampler does not train on an ensemble")

    def training_settings(self, settings):
        """The optimiser loop's settings (:class:`~qcdgen.train.TrainSettings` or ``DatalessSettings``)."""
        return settings.train_settings() if self.trains_on_data else settings.dataless()

    def augment(self, settings):
        """``augment(batch, generator)`` applied to every training batch, or None."""
        return None

    def work(self, settings, action: Phi4Action) -> float:
        """Elements a typical tensor operation of training touches (chooses the CPU threads)."""
        return settings.batch_size * getattr(settings, "channels", 1) * action.volume

    def evaluate(self, module: nn.Module, settings, action: Phi4Action, generator: torch.Generator) -> dict:
        """Post-training estimates stored in the model file (``log_z``/``log_z_error`` get a pull)."""
        return {}

    def saved(self, out, model: TrainedSampler) -> None:
        """Write companion files after the model file (e.g. a loss curve)."""

    def upgrade(self, payload: dict) -> dict:
        """A model file written before the shared format, in the shared layout."""
        return payload

    # ------------------------------------------------------------------ sampling hooks
    def label(self, model: TrainedSampler, options) -> str:
        """The ``sampler`` attribute of the ensemble."""
        return self.name + ("+imh" if options.metropolis else "")

    def sampling_work(self, model: TrainedSampler, options) -> float:
        return options.batch_size * getattr(model.settings, "channels", 1) * model.action.volume

    def exact_log_q(self, model: TrainedSampler, options) -> bool:
        """Whether ``draw`` returns the exact log q (the Metropolis step is then exact)."""
        return True

    def proposal_estimates(self, model: TrainedSampler, phi: torch.Tensor, log_q: torch.Tensor) -> dict | None:
        """``{"log_z", "importance_ess", ...}`` over every proposal, or None: taken from the Metropolis step."""
        return None

    def finish(self, model: TrainedSampler, phi: torch.Tensor, options, generator) -> tuple[torch.Tensor, dict]:
        """A last step on the (corrected) configurations and what it measured, into ``SampleResult.extra``."""
        return phi, {}

    def ensemble_attrs(self, model: TrainedSampler, result: SampleResult) -> dict:
        """Sampler-specific ensemble attributes (plain values) next to the shared ones."""
        return {f"{self.name}_settings": json_dict(asdict(model.settings)),
                "sample_settings": json_dict(asdict(result.settings))}

    # ------------------------------------------------------------------ sampler studies
    def study_plan(self, study, volume: int) -> dict:
        """``{"train": settings, "sample": {flags}}`` (and ``"data"``: the HMC run it trains on) of a study point."""
        raise NotImplementedError(f"the {self.name} sampler takes no part in sampler studies")

    def study_note(self, model: TrainedSampler, result: SampleResult, data_sampler: str | None) -> str:
        return ""
