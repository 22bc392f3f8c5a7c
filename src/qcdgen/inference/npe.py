"""Neural posterior estimation (NPE): an amortised conditional flow q(θ | x) trained on simulations.

Papamakarios & Murray, NeurIPS 2016; Greenberg, Nonnenmacher & Macke, ICML 2019. Given pairs
(θ_i, x_i) with θ_i ~ p(θ) and x_i ~ p(x | θ_i), maximising E[log q(θ | x)] over the pairs
minimises E_x KL(p(θ | x) ‖ q(θ | x)): the flow converges to the posterior for *every* x at once,
so a new observation costs one network pass (milliseconds), not an MCMC run.

- **Flow**: a conditional neural spline flow (:func:`qcdgen.flows.conditional.neural_spline_flow`,
  zuko's NSF), a torch Distribution with seeded sampling, over standardised parameters.
- **Bounded priors**: with ``bounds`` (a box prior, e.g. a campaign's design box) θ is mapped to
  the unit cube and through a logit before standardising, so every posterior draw lies inside
  the box; without, θ is only standardised (e.g. a Gaussian prior).
- **Summaries** x [n, m] are standardised per component and fed to the flow as its context.
- **Event bags** x [n, K, F] (``bags=True``): K events of F features per sample; a
  :class:`DeepSetEncoder` (per-event MLP φ, mean over events, MLP ρ; Zaheer et al., NeurIPS 2017)
  turns a bag into a summary, trained jointly with the flow, giving p(θ | bag) as in
  arXiv:2603.24088. Mean pooling makes it invariant under permutations of the events.
- **Training**: Adam with a cosine learning rate over ``epochs`` of shuffled minibatches, a
  held-out validation fraction, the weights of the best validation loss kept, early stopping
  after ``patience`` epochs without improvement (``patience=0``: fixed epochs). Seeded: the
  weights' initialisation, the split and the batches come from ``seed`` (torch's global RNG
  is left untouched).
- **Calibration**: :func:`npe_sbc` computes simulation-based-calibration ranks of θ* among
  posterior draws on held-out simulations (vectorised over simulations) and tests them with
  :func:`qcdgen.inference.sbc.rank_uniformity` and :func:`~qcdgen.inference.sbc.expected_coverage`.
- **Files** (:meth:`NPE.save`, :func:`load_npe`): ``torch.save`` of tensors and plain values,
  written atomically and loaded with ``weights_only=True``; a missing, corrupt or foreign file
  is one :class:`~qcdgen.errors.InputError` line.

:func:`npe_runs` and :func:`posterior_file` are the pipelines of ``qcdgen infer npe`` and
``qcdgen infer posterior``. No physics here: a campaign's observables are just a vector, an
event is just a row of numbers (the per-event table :data:`EVENT_FEATURES_FILE`).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qcdgen.errors import InputError

__all__ = ["NPESettings", "NPE", "DeepSetEncoder", "NPEResult", "train_npe", "sample_posterior",
           "posterior_log_prob", "npe_sbc", "load_npe", "read_event_table", "make_bags", "npe_runs",
           "posterior_file", "KIND", "FORMAT", "EVENT_FEATURES_FILE"]

KIND = "qcdgen.inference.npe"
FORMAT = 1
#: the per-event feature table of a campaign point read by ``qcdgen infer npe --bags K``
EVENT_FEATURES_FILE = "event_features.csv"
_EPS = 1e-6


@dataclass(frozen=True)
class NPESettings:
    """Network and optimisation settings (plain values: they go into the file)."""

    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    validation_fraction: float = 0.1
    patience: int = 20                  # 0: run all epochs (the best-validation weights are still kept)
    transforms: int = 3
    hidden: tuple[int, ...] = (64, 64)
    bins: int = 8
    summary: int = 16                   # DeepSet summary size (event bags only)
    encoder_hidden: tuple[int, ...] = (64, 64)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "transforms", "bins", "summary"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{'--' + name if name == 'epochs' else name} must be an integer >= 1, got {v!r}")
        for name in ("patience", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise InputError(f"--{name} must be an integer >= 0, got {v!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"lr must be a number > 0, got {self.lr!r}")
        if not (0 < self.validation_fraction < 0.5):
            raise InputError(f"validation_fraction must be in (0, 0.5), got {self.validation_fraction!r}")
        for name in ("hidden", "encoder_hidden"):
            v = getattr(self, name)
            if not v or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in v):
                raise InputError(f"{name} must be a non-empty list of integers >= 1, got {v!r}")
            object.__setattr__(self, name, tuple(int(h) for h in v))

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class DeepSetEncoder(nn.Module):
    """Bag [..., K, F] → summary [..., S]: ρ(mean_k φ(e_k)); invariant under permutations of the K events."""

    def __init__(self, features: int, summary: int = 16, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        hidden = list(hidden)
        self.phi = _mlp([features, *hidden])
        self.rho = _mlp([hidden[-1], *hidden, summary])

    def forward(self, bags: torch.Tensor) -> torch.Tensor:
        return self.rho(nn.functional.silu(self.phi(bags)).mean(dim=-2))


@contextlib.contextmanager
def _seeded_init(seed: int):
    """Initialise modules from ``seed`` without touching the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


class NPE(nn.Module):
    """q(θ | x): standardisation (and the box's logit) of θ and x, an optional DeepSet encoder, a conditional NSF.

    ``config`` (plain values) holds everything needed to rebuild the module: ``names`` of the
    parameters, ``inputs`` (the summary components or the event features), ``bag_size`` (K, or
    None for summaries), ``bounds`` ([lo, hi] or None) and the settings.
    """

    def __init__(self, config: dict):
        super().__init__()
        self.config = copy.deepcopy(config)
        s = NPESettings(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in config["settings"].items()})
        d, m = len(config["names"]), len(config["inputs"])
        bags = config.get("bag_size") is not None
        self.register_buffer("theta_mean", torch.zeros(d))
        self.register_buffer("theta_std", torch.ones(d))
        self.register_buffer("x_mean", torch.zeros(m))
        self.register_buffer("x_std", torch.ones(m))
        bounds = config.get("bounds")
        self.register_buffer("lo", torch.tensor(bounds[0], dtype=torch.float32) if bounds else torch.zeros(0))
        self.register_buffer("hi", torch.tensor(bounds[1], dtype=torch.float32) if bounds else torch.zeros(0))
        from qcdgen.flows.conditional import neural_spline_flow

        with _seeded_init(s.seed):
            self.encoder = DeepSetEncoder(m, s.summary, s.encoder_hidden) if bags else nn.Identity()
            context = s.summary if bags else m
            self.flow = neural_spline_flow(d, context=context, transforms=s.transforms, hidden=s.hidden, bins=s.bins)

    # -- coordinates ------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.config["names"])

    @property
    def inputs(self) -> list:
        return list(self.config["inputs"])

    @property
    def bag_size(self) -> int | None:
        k = self.config.get("bag_size")
        return None if k is None else int(k)

    @property
    def bounded(self) -> bool:
        return self.lo.numel() > 0

    def _unbounded(self, theta: torch.Tensor) -> torch.Tensor:
        if not self.bounded:
            return theta
        u = ((theta - self.lo) / (self.hi - self.lo)).clamp(_EPS, 1 - _EPS)
        return torch.log(u) - torch.log1p(-u)

    def to_latent(self, theta: torch.Tensor) -> torch.Tensor:
        """θ → the flow's coordinates (logit of the box if bounded, then standardised)."""
        return (self._unbounded(theta) - self.theta_mean) / self.theta_std

    def from_latent(self, z: torch.Tensor) -> torch.Tensor:
        t = z * self.theta_std + self.theta_mean
        return self.lo + (self.hi - self.lo) * torch.sigmoid(t) if self.bounded else t

    def log_det_to_latent(self, theta: torch.Tensor) -> torch.Tensor:
        """log|det ∂z/∂θ| of :meth:`to_latent` (per sample)."""
        out = -torch.log(self.theta_std).sum().expand(theta.shape[:-1])
        if self.bounded:
            u = ((theta - self.lo) / (self.hi - self.lo)).clamp(_EPS, 1 - _EPS)
            out = out + (-torch.log(u) - torch.log1p(-u) - torch.log(self.hi - self.lo)).sum(-1)
        return out

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """Raw x ([..., m] or bags [..., K, F]) → the flow's context."""
        return self.encoder((x - self.x_mean) / self.x_std)

    def forward(self, x: torch.Tensor):
        """The posterior over the latent coordinates, q(z | x), a torch Distribution (batch shape x's)."""
        return self.flow(self.context(x))

    def loss(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Mean −log q(z | x) over the batch (z = to_latent(θ); the Jacobian does not depend on the weights)."""
        return -self(x).log_prob(self.to_latent(theta)).mean()

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, info: dict | None = None) -> Path:
        """Write atomically: kind, format, config, weights (tensors) and ``info`` (plain values)."""
        from qcdgen.io.checkpoint import plain_values, save_checkpoint

        save_checkpoint(path, {"kind": KIND, "format": FORMAT, "config": self.config,
                               "weights": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
                               "info": plain_values(info or {}, arrays_as_tensors=False)})
        return Path(path)


def load_npe(path: str | os.PathLike) -> tuple[NPE, dict]:
    """(model in eval mode, info) from an NPE file; a missing, corrupt or foreign file is one InputError line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"NPE file {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt or foreign file
        reason = (exc.strerror or str(exc)) if isinstance(exc, OSError) else \
            f"not a torch.save file of tensors and plain values: {type(exc).__name__}"
        raise InputError(f"{str(path)!r} is not a readable qcdgen NPE file ({reason})") from None
    if not isinstance(state, dict) or state.get("kind") != KIND:
        kind = state.get("kind") if isinstance(state, dict) else None
        raise InputError(f"{str(path)!r} is not a qcdgen NPE file (kind {kind!r}, expected {KIND!r}); "
                         "make one with qcdgen infer npe")
    if state.get("format") != FORMAT:
        raise InputError(f"{str(path)!r} has NPE format {state.get('format')!r}; this qcdgen reads format {FORMAT}")
    try:
        model = NPE(state["config"])
        model.load_state_dict(state["weights"], strict=True)
        info = dict(state.get("info") or {})
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise InputError(f"{str(path)!r} is a corrupt NPE file ({type(exc).__name__}: {reason})") from None
    if not all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point()):
        raise InputError(f"{str(path)!r} is a corrupt NPE file (non-finite weights)")
    model.eval()
    return model, info


# -- training -----------------------------------------------------------------------------------

@dataclass
class NPEResult:
    """The trained model (best validation weights) and its training record."""

    model: NPE
    train_loss: np.ndarray
    val_loss: np.ndarray
    best_epoch: int
    epochs_run: int
    seconds: float
    n_train: int
    n_val: int
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"train_seconds": self.seconds, "epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "best_val_loss": float(self.val_loss[self.best_epoch - 1]), "n_train": self.n_train,
                "n_val": self.n_val}


def _as_tensor(a, what: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.float32)
    if not torch.isfinite(t).all():
        raise InputError(f"{what} contain NaN or inf")
    return t


def train_npe(theta, x, *, names: Sequence[str] | None = None, inputs: Sequence | None = None,
              bounds=None, bags: bool = False, settings: NPESettings | None = None,
              progress: bool = False) -> NPEResult:
    """Train q(θ | x) on pairs ``theta`` [n, d] and ``x`` ([n, m] summaries, or [n, K, F] bags with ``bags``).

    ``bounds`` = (lo [d], hi [d]) of a box prior (draws then stay inside), or None. ``names`` and
    ``inputs`` label the parameters and the summary components (or event features).
    """
    settings = settings or NPESettings()
    theta = _as_tensor(theta, "parameters")
    x = _as_tensor(x, "simulations")
    if theta.dim() == 1:
        theta = theta[:, None]
    if theta.dim() != 2 or len(x) != len(theta):
        raise InputError(f"NPE training: {tuple(theta.shape)} parameters and {tuple(x.shape)} simulations do not match")
    if x.dim() != (3 if bags else 2):
        raise InputError(f"NPE training: simulations must be [n, K, features] with bags, [n, m] without; "
                         f"got {tuple(x.shape)}")
    n, d = theta.shape
    n_val = max(1, int(round(settings.validation_fraction * n)))
    if n - n_val < 2:
        raise InputError(f"NPE training needs at least 3 simulations, got {n}")
    names = list(names) if names is not None else [f"theta{j}" for j in range(d)]
    m = x.shape[-1]
    inputs = [list(k) if isinstance(k, tuple) else k for k in inputs] if inputs is not None \
        else [f"x{j}" for j in range(m)]
    if len(names) != d or len(inputs) != m:
        raise InputError(f"NPE training: {len(names)} names for {d} parameters or {len(inputs)} inputs for {m}")
    if bounds is not None:
        lo, hi = (np.asarray(b, float).reshape(d) for b in bounds)
        if not np.all(hi > lo):
            raise InputError("NPE bounds need hi > lo for every parameter")
        if torch.any(theta < torch.as_tensor(lo, dtype=torch.float32) - 1e-6) or \
                torch.any(theta > torch.as_tensor(hi, dtype=torch.float32) + 1e-6):
            raise InputError("NPE training parameters lie outside the prior bounds")
        bounds = [lo.tolist(), hi.tolist()]
    config = {"names": names, "inputs": inputs, "bag_size": int(x.shape[1]) if bags else None,
              "bounds": bounds, "settings": settings.to_dict()}
    model = NPE(config)
    gen = torch.Generator().manual_seed(int(settings.seed))
    perm = torch.randperm(n, generator=gen)
    val, train = perm[:n_val], perm[n_val:]
    with torch.no_grad():
        t = model._unbounded(theta[train])
        model.theta_mean.copy_(t.mean(0))
        model.theta_std.copy_(t.std(0).clamp_min(1e-8))
        xf = x[train].reshape(-1, m)
        model.x_mean.copy_(xf.mean(0))
        model.x_std.copy_(xf.std(0).clamp_min(1e-8) if len(xf) > 1 else torch.ones(m))
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    steps_per_epoch = math.ceil(len(train) / settings.batch_size)
    total = settings.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    best, best_epoch, best_state = math.inf, 0, None
    train_curve, val_curve = [], []
    start = time.perf_counter()
    from qcdgen.runtime import progress_bar

    with progress_bar(progress) as bar:
        task = bar.add_task("NPE training", total=settings.epochs, status="")
        for epoch in range(1, settings.epochs + 1):
            model.train()
            order = train[torch.randperm(len(train), generator=gen)]
            losses = []
            for b in range(steps_per_epoch):
                idx = order[b * settings.batch_size:(b + 1) * settings.batch_size]
                loss = model.loss(theta[idx], x[idx])
                if not torch.isfinite(loss):
                    raise InputError(f"NPE training loss became {float(loss)} at epoch {epoch}; "
                                     "try a smaller learning rate or check the simulations")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
                sched.step()
                losses.append(float(loss.detach()) * len(idx))
            model.eval()
            with torch.no_grad():
                v = float(sum(model.loss(theta[val[i:i + 4096]], x[val[i:i + 4096]]) * len(val[i:i + 4096])
                              for i in range(0, len(val), 4096)) / len(val))
            train_curve.append(sum(losses) / len(train))
            val_curve.append(v)
            if v < best:
                best, best_epoch = v, epoch
                best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            bar.update(task, advance=1, status=f"val {v:.3f} (best {best:.3f} @ {best_epoch})")
            if settings.patience and epoch - best_epoch >= settings.patience:
                break
    if best_state is None:
        raise InputError("NPE training diverged: the validation loss was never finite")
    model.load_state_dict(best_state)
    model.eval()
    return NPEResult(model, np.array(train_curve), np.array(val_curve), best_epoch, len(val_curve),
                     time.perf_counter() - start, len(train), len(val))


# -- posterior ----------------------------------------------------------------------------------

def _generator(generator) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, np.random.Generator):
        return torch.Generator().manual_seed(int(generator.integers(2 ** 63 - 1)))
    return torch.Generator().manual_seed(int(generator or 0))


def _obs(model: NPE, x_obs) -> tuple[torch.Tensor, bool]:
    x = torch.as_tensor(np.asarray(x_obs, dtype=np.float64), dtype=torch.float32)
    event_dims = 2 if model.bag_size is not None else 1
    single = x.dim() == event_dims
    if single:
        x = x[None]
    if x.dim() != event_dims + 1 or x.shape[-1] != len(model.inputs):
        want = f"[K, {len(model.inputs)}] events" if event_dims == 2 else f"{len(model.inputs)} summaries"
        raise InputError(f"observation of shape {tuple(x.shape)} does not fit this NPE ({want} per observation)")
    if not torch.isfinite(x).all():
        raise InputError("the observation contains NaN or inf")
    return x, single


def sample_posterior(model: NPE, x_obs, n: int, generator=None) -> np.ndarray:
    """``n`` draws of θ from q(θ | x_obs): (n, d) for one observation, (n, B, d) for a batch of B.

    ``generator``: a torch Generator, a NumPy Generator (a seed is drawn from it) or an int seed.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"--samples must be an integer >= 1, got {n!r}")
    x, single = _obs(model, x_obs)
    gen = _generator(generator)
    with torch.no_grad():
        z = model(x).sample((int(n),), generator=gen)             # [n, B, d]
        theta = model.from_latent(z).double().numpy()
    return theta[:, 0] if single else theta


def posterior_log_prob(model: NPE, theta, x_obs) -> np.ndarray:
    """log q(θ | x_obs) in the parameters' own coordinates, θ [N, d] at one observation (−inf outside a box)."""
    x, _ = _obs(model, x_obs)
    t = torch.as_tensor(np.atleast_2d(np.asarray(theta, np.float64)), dtype=torch.float32)
    with torch.no_grad():
        lp = model(x[:1].expand(len(t), *x.shape[1:])).log_prob(model.to_latent(t)) + model.log_det_to_latent(t)
        if model.bounded:
            lp = torch.where(((t > model.lo) & (t < model.hi)).all(-1), lp, torch.full_like(lp, -math.inf))
    return lp.double().numpy()


def npe_sbc(model: NPE, theta, x, n_posterior: int = 99, seed: int = 0, shift=None, batch: int = 512):
    """Simulation-based calibration on held-out pairs (θ*_i, x_i) drawn from the joint p(θ) p(x | θ).

    Ranks r_i = #{l : θ_l < θ*_i} among ``n_posterior`` draws of q(θ | x_i) (as :func:`qcdgen.inference.sbc.sbc_ranks`,
    vectorised over the simulations), then :func:`~qcdgen.inference.sbc.rank_uniformity` and
    :func:`~qcdgen.inference.sbc.expected_coverage`. ``shift`` [d] is added to every draw (a
    deliberately biased posterior, for tests). Returns an :class:`~qcdgen.inference.sbc.SBCResult`.
    """
    from qcdgen.inference.sbc import SBCResult, expected_coverage, rank_uniformity

    theta = np.asarray(theta, float)
    theta = theta[:, None] if theta.ndim == 1 else theta
    if len(theta) < 1 or len(theta) != len(x):
        raise InputError(f"SBC needs matching held-out parameters and simulations, got {len(theta)} and {len(x)}")
    gen = torch.Generator().manual_seed(int(seed))
    ranks = []
    for i in range(0, len(theta), batch):
        draws = sample_posterior(model, np.asarray(x[i:i + batch]), int(n_posterior), gen)   # [L, B, d]
        if shift is not None:
            draws = draws + np.asarray(shift, float)
        ranks.append(np.sum(draws < theta[None, i:i + batch], axis=0))
    ranks = np.concatenate(ranks).astype(int)
    return SBCResult(ranks, int(n_posterior), rank_uniformity(ranks, n_posterior), expected_coverage(ranks, n_posterior))


# -- event tables and bags ----------------------------------------------------------------------

def read_event_table(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """A per-event feature CSV: a header of feature names, one row of numbers per event (``#`` comments)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"event table {str(path)!r} does not exist")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(line for line in f if line.strip() and not line.lstrip().startswith("#")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"event table {str(path)!r} cannot be read ({exc})") from None
    if len(rows) < 2:
        raise InputError(f"event table {str(path)!r} needs a header of feature names and at least one event row")
    names = [h.strip() for h in rows[0]]
    if len(set(names)) != len(names) or not all(names):
        raise InputError(f"event table {str(path)!r}: feature names must be distinct and non-empty, got {names}")
    try:
        values = np.array([[float(v) for v in r] for r in rows[1:]], float)
    except ValueError:
        raise InputError(f"event table {str(path)!r}: every row must hold {len(names)} numbers") from None
    if values.ndim != 2 or values.shape[1] != len(names):
        raise InputError(f"event table {str(path)!r}: every row must hold {len(names)} numbers")
    if not np.all(np.isfinite(values)):
        raise InputError(f"event table {str(path)!r} contains NaN or inf")
    return names, values


def make_bags(events: np.ndarray, k: int) -> np.ndarray:
    """Consecutive bags of ``k`` events, [floor(n/k), k, F] (the remainder is dropped)."""
    events = np.asarray(events, float)
    nb = len(events) // int(k)
    return events[:nb * k].reshape(nb, int(k), events.shape[-1])


def _check_int(v, what: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise InputError(f"{what} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def npe_runs(runs: str | os.PathLike, out: str | os.PathLike, *, bags: int | None = None, epochs: int = 200,
             seed: int = 0, sbc: int = 0, observables=None, progress: bool = True) -> tuple[NPEResult, object]:
    """``qcdgen infer npe``: train an NPE on a campaign's finished points and write it to ``out``.

    Summaries: each point's observables (:func:`qcdgen.inference.campaign.load_runs`; outputs
    undefined at a point or constant are left out). Bags (``bags=K``): each point's
    :data:`EVENT_FEATURES_FILE` cut into bags of K events. The prior is the design's box.
    ``sbc`` > 0 holds out that many design points (one bag each with ``bags``) and returns the
    :func:`npe_sbc` result of the trained model on them (else None).
    """
    from qcdgen.inference.campaign import load_runs, point_dir
    from qcdgen.inference.emulator import select_outputs, usable_outputs
    from qcdgen.io.atomic import check_writable

    out = check_writable(out, "NPE")
    sbc = _check_int(sbc, "--sbc", 0)
    if bags is not None:
        bags = _check_int(bags, "--bags", 1)
    settings = NPESettings(epochs=epochs, seed=seed)
    rs = load_runs(runs)
    n_points = len(rs.X)
    if sbc and n_points - sbc < 3:
        raise InputError(f"--sbc {sbc} leaves {n_points - sbc} of {n_points} finished design points for training; "
                         "use fewer held-out points or a larger campaign")
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 7])).permutation(n_points)
    held, kept = np.sort(order[:sbc]), np.sort(order[sbc:])
    box = rs.box
    if bags is None:
        sel = select_outputs(rs.keys, observables, None)
        keys = [rs.keys[j] for j in sel]
        keep, excluded = usable_outputs(rs.Y[:, sel], keys)
        if len(keep) == 0:
            raise InputError(f"no usable observables in {str(runs)!r}: every one is undefined at some point or constant")
        keys = [keys[j] for j in keep]
        Y = rs.Y[:, sel[keep]]
        theta_tr, x_tr, theta_ho, x_ho = rs.X[kept], Y[kept], rs.X[held], Y[held]
        inputs = [list(k) for k in keys]
    else:
        if observables:
            raise InputError("--observables selects summary observables; with --bags the event table's features are used")
        feats, tables = None, []
        for i in rs.indices:
            path = point_dir(Path(runs), i) / EVENT_FEATURES_FILE
            names, table = read_event_table(path)
            if feats is None:
                feats = names
            elif names != feats:
                raise InputError(f"{str(path)!r} has features {names}, the first point {feats}")
            tables.append(table)
        per = [make_bags(t, bags) for t in tables]
        if any(len(b) == 0 for b in per):
            short = min(len(t) for t in tables)
            raise InputError(f"--bags {bags}: a design point has only {short} events; use a smaller K")
        theta_tr = np.concatenate([np.repeat(rs.X[a][None], len(per[a]), 0) for a in kept])
        x_tr = np.concatenate([per[a] for a in kept])
        theta_ho = rs.X[held]
        x_ho = np.stack([per[a][0] for a in held]) if sbc else None
        inputs, excluded = feats, {}
    res = train_npe(theta_tr, x_tr, names=box.names, inputs=inputs, bounds=(box.lo, box.hi),
                    bags=bags is not None, settings=settings, progress=progress)
    sbc_result = npe_sbc(res.model, theta_ho, x_ho, seed=seed) if sbc else None
    res.info = {"runs": str(runs), "points": int(n_points), "train_points": int(len(kept)),
                "held_out_points": int(len(held)), "pairs": int(len(theta_tr)), **res.summary(),
                "excluded": [[k[0], k[1], why] for k, why in excluded.items()]}
    if sbc_result is not None:
        res.info["sbc"] = sbc_result.to_json_dict()
    res.model.save(out, res.info)
    return res, sbc_result


@dataclass
class PosteriorSamples:
    names: list[str]
    samples: np.ndarray
    milliseconds: float
    used_events: int | None = None
    total_events: int | None = None

    def summary(self) -> list[dict]:
        out = []
        for j, name in enumerate(self.names):
            q = np.quantile(self.samples[:, j], [0.025, 0.16, 0.5, 0.84, 0.975])
            out.append({"parameter": name, "mean": float(self.samples[:, j].mean()),
                        "std": float(self.samples[:, j].std(ddof=1)), "median": float(q[2]),
                        "lo68": float(q[1]), "hi68": float(q[3]), "lo95": float(q[0]), "hi95": float(q[4])})
        return out

    def csv_text(self) -> str:
        lines = [",".join(self.names)] + [",".join(repr(float(v)) for v in row) for row in self.samples]
        return "\n".join(lines) + "\n"


def posterior_file(npe: str | os.PathLike, data: str | os.PathLike, *, samples: int = 10000, seed: int = 0,
                   out: str | os.PathLike | None = None) -> PosteriorSamples:
    """``qcdgen infer posterior``: draws from q(θ | data) of a trained NPE file.

    A summary NPE reads ``observable,class,value,error`` (:func:`qcdgen.inference.data.read_data`;
    the error column is not used: the NPE's noise model is the simulator's). Every trained
    observable must be there and no other. A bag NPE reads a per-event table with its features
    (:func:`read_event_table`) and uses the first K events.
    """
    from qcdgen.io.atomic import atomic_write_text, check_writable

    if out is not None:
        out = check_writable(out, "posterior samples")
    samples = _check_int(samples, "--samples", 1)
    model, _ = load_npe(npe)
    used = total = None
    if model.bag_size is None:
        from qcdgen.inference.data import read_data

        d = read_data(data)
        want = [tuple(k) for k in model.inputs]
        where = {tuple(k): i for i, k in enumerate(d.keys)}
        for key in d.keys:
            if key not in set(want):
                raise InputError(f"observable {key[0]!r} class {key[1]!r} of {str(data)!r} is not one the NPE was "
                                 f"trained on ({len(want)} observables; remove it from the data)")
        missing = [k for k in want if k not in where]
        if missing:
            raise InputError(f"{str(data)!r} lacks {len(missing)} observable(s) the NPE needs, e.g. "
                             f"{missing[0][0]!r} class {missing[0][1]!r} (NPE conditions on all of them)")
        x = d.values[[where[k] for k in want]]
    else:
        names, table = read_event_table(data)
        if names != list(model.inputs):
            unknown = [n for n in names if n not in model.inputs]
            if unknown:
                raise InputError(f"event feature {unknown[0]!r} of {str(data)!r} is not one the NPE was trained on "
                                 f"({', '.join(model.inputs)})")
            missing = [n for n in model.inputs if n not in names]
            if missing:
                raise InputError(f"{str(data)!r} lacks the event feature {missing[0]!r} the NPE needs")
            table = table[:, [names.index(n) for n in model.inputs]]
        k = model.bag_size
        if len(table) < k:
            raise InputError(f"{str(data)!r} has {len(table)} events; this NPE was trained on bags of {k}")
        x, used, total = table[:k], k, len(table)
    sample_posterior(model, x, 16, seed)            # warm-up (first call builds lazy modules)
    t0 = time.perf_counter()
    draws = sample_posterior(model, x, samples, seed)
    ms = 1e3 * (time.perf_counter() - t0)
    result = PosteriorSamples(model.names, draws, ms, used, total)
    if out is not None:
        atomic_write_text(out, result.csv_text())
    return result
