"""A conditional point-cloud generative model of whole heavy-ion events (after HEIDi, arXiv:2412.10352).

An event is a set of particles x = (log pT, η, φ) with species s, plus exact event summaries
(⟨pT⟩ …) and standardised conditions c.

    z ~ p(z | c)                     LatentPrior: conditional NSF                     (prior.py)
    N ~ NB(μ(c, z), r(c, z))         NegBinomialHead                                   (prior.py)
    s_i ~ Cat(softmax ℓ(c, z))       species head, i.i.d. per particle
    y_i ~ flow matching v(·|s_i,z,c) MomentumDecoder: (log pT, η), i.i.d. given (z, c)   (decoder.py)
    V_n ~ p(V | z, c), n = 2, 3      explicit flow vectors, uniform reaction plane     (harmonics.py)
    φ_i ~ (1/2π)[1 + 2Σ_n a_n(y_i, s_i) cos(nφ − arg V_n)]                              (harmonics.py)

Training is amortised like a VAE for z: a PointNet encoder (Qi et al., CVPR 2017) maps a particle
subsample (log pT, η, species; no azimuths) and the summaries to μ(x) ∈ R^d, and z = μ + σ_z ε with a
*fixed* σ_z. The regulariser is the KL divergence to N(0, I) of that fixed-width posterior,
½ Σ_d (μ_d² + σ_z² − 1 − log σ_z²), weighted by β. Fixed σ_z (instead of a learned one) cannot
collapse: every latent direction keeps a resolution σ_z relative to the O(1) scale set by the KL
term, the decoders learn to be smooth on that scale (so imperfect prior samples decode sensibly), and
the flow prior has a non-degenerate target. Since the per-particle losses are averages over particles
(the ELBO would sum them), β ≈ 1/⟨N⟩ matches ELBO weighting; the default 10⁻³ suits N ~ 10³.

The azimuths are different: they are modelled through explicit flow vectors whose prior is fitted by
marginal likelihood (:mod:`.harmonics`), and z is blind to them. If z saw an event's observed
q_n = |Q_n|/N, which includes the finite-multiplicity noise 1/√N, that noise would be generated a
second time on top of the sampling noise: v₂{2} was 37 % too high in central collisions that way.

With ``disjoint_encoder`` (default) the encoder sees the even slots of each padded subsample and the
(log pT, η, species) losses use the odd ones, so z cannot store the idiosyncrasies (pT fluctuations)
of the very particles it is scored on; that would inflate generated fluctuations. The ⟨pT⟩ summary
still includes all particles, a leak of relative size k/(2N): keep k ≪ N.

Pooling is exactly permutation invariant: the masked sum is taken over values sorted along the
particle axis, so the float rounding does not depend on the particle order; padded slots are zeroed
before any arithmetic, so whatever they hold cannot leak into z.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from qcdgen.errors import InputError
from qcdgen.hic.surrogate.data import SUMMARY_NAMES
from qcdgen.hic.surrogate.decoder import SOLVERS, MomentumDecoder
from qcdgen.hic.surrogate.harmonics import AMPLITUDE_LAWS, FlowHarmonics
from qcdgen.hic.surrogate.prior import LatentPrior, NegBinomialHead, mlp
from qcdgen.io import load_checkpoint, save_checkpoint
from qcdgen.runtime import make_generator, resolve_device

#: a generated log pT or η farther than this many training standard deviations is clamped (and counted)
OUTLIER_SIGMA = 8.0

MODEL_KIND = "hic-surrogate-v2"  # v2: explicit flow vectors; v1 checkpoints modelled φ in the decoder
#: summary columns the encoder sees: none that depends on azimuths (see the module docstring)
ENCODER_SUMMARIES = tuple(i for i, name in enumerate(SUMMARY_NAMES) if name == "mean_pt")


@dataclass(frozen=True)
class SurrogateConfig:
    """Architecture and loss weights; stored in every checkpoint (plain numbers only)."""

    n_species: int
    n_summaries: int
    n_conditions: int = 0
    latent_dim: int = 12
    hidden: int = 128
    species_dim: int = 8
    head_hidden: int = 64
    decoder_hidden: int = 128
    decoder_layers: int = 3
    time_features: int = 6
    prior_transforms: int = 3
    prior_hidden: int = 64
    latent_noise: float = 0.1
    kl_weight: float = 1e-3
    species_weight: float = 1.0
    multiplicity_weight: float = 1.0
    harmonic_weight: float = 1.0
    harmonic_hidden: int = 64
    harmonic_proposals: int = 32
    harmonic_particles: int = 2048
    amplitude_law: int = 2
    max_multiplicity: int = 100_000
    disjoint_encoder: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise InputError(f"surrogate config {f.name} must be an integer, got {value!r}")
        minimum = {"n_species": 1, "n_summaries": 0, "n_conditions": 0, "decoder_layers": 0, "time_features": 0}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and value < minimum.get(f.name, 1):
                raise InputError(f"surrogate config {f.name} must be >= {minimum.get(f.name, 1)}, got {value}")
            if f.type == "float" and not (math.isfinite(value) and value >= 0):
                raise InputError(f"surrogate config {f.name} must be a finite number >= 0, got {value!r}")
        if self.latent_noise <= 0:
            raise InputError(f"surrogate config latent_noise must be > 0, got {self.latent_noise!r}")
        if self.amplitude_law not in AMPLITUDE_LAWS:
            raise InputError(f"surrogate config amplitude_law must be one of {AMPLITUDE_LAWS}, got {self.amplitude_law}")


class PointEncoder(nn.Module):
    """μ(x) = ρ([mean_i φ(p_i), max_i φ(p_i), summaries]), p_i = (ŷ_logpT, ŷ_η, e_s): azimuth-blind."""

    def __init__(self, cfg: SurrogateConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.n_species, cfg.species_dim)
        self.phi = mlp(2 + cfg.species_dim, cfg.hidden, cfg.hidden, layers=1)
        n_summaries = len(ENCODER_SUMMARIES) if cfg.n_summaries == len(SUMMARY_NAMES) else cfg.n_summaries
        self.rho = mlp(2 * cfg.hidden + n_summaries, cfg.hidden, cfg.latent_dim, layers=2)

    def forward(self, y2: torch.Tensor, species: torch.Tensor, mask: torch.Tensor,
                summaries: torch.Tensor) -> torch.Tensor:
        h = self.phi(torch.cat([y2, self.embed(species)], -1))  # [B, k, H]
        m = mask[..., None]
        count = mask.sum(1, keepdim=True).to(h.dtype)
        total = torch.where(m, h, 0.0).sort(dim=1).values.sum(1)  # sorted: order-independent rounding
        mean = total / count.clamp_min(1.0)
        top = torch.where(m, h, -torch.inf).amax(1)
        top = torch.where(count > 0, top, 0.0)
        return self.rho(torch.cat([mean, top, summaries], -1))


class EventSurrogate(nn.Module):
    """Encoder, latent prior, multiplicity and species heads, momentum decoder, and the data standardisation."""

    def __init__(self, config: SurrogateConfig):
        super().__init__()
        cfg = self.config = config
        ctx = cfg.latent_dim + cfg.n_conditions
        self.encoder = PointEncoder(cfg)
        self.prior = LatentPrior(cfg.latent_dim, cfg.n_conditions, cfg.prior_transforms, cfg.prior_hidden)
        self.multiplicity = NegBinomialHead(ctx, cfg.head_hidden)
        self.species_head = mlp(ctx, cfg.head_hidden, cfg.n_species)
        self.decoder = MomentumDecoder(cfg.n_species, ctx, cfg.decoder_hidden, cfg.decoder_layers, cfg.time_features)
        self.harmonics = FlowHarmonics(cfg.n_species, ctx, cfg.harmonic_hidden, cfg.species_dim, cfg.harmonic_proposals,
                                       cfg.amplitude_law)
        # standardisation of (log pT, η) and of the summaries; set by fit_standardisation
        self.register_buffer("x_shift", torch.zeros(2))
        self.register_buffer("x_scale", torch.ones(2))
        self.register_buffer("s_shift", torch.zeros(cfg.n_summaries))
        self.register_buffer("s_scale", torch.ones(cfg.n_summaries))

    # ----------------------------------------------------------------- inputs
    def check_batch(self, x, species, mask, n, summaries, cond) -> None:
        """Refuse malformed tensors with an :class:`InputError` naming the argument."""
        cfg = self.config
        for name, t in (("x", x), ("species", species), ("mask", mask), ("n", n), ("summaries", summaries),
                        ("cond", cond)):
            if not isinstance(t, torch.Tensor):
                raise InputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if x.dim() != 3 or x.shape[-1] != 3:
            raise InputError(f"x must have shape [B, k, 3] = (log pT, eta, phi), got {tuple(x.shape)}")
        b, k = x.shape[:2]
        expect = {"species": (b, k), "mask": (b, k), "n": (b,), "summaries": (b, cfg.n_summaries),
                  "cond": (b, cfg.n_conditions)}
        for name, t in (("species", species), ("mask", mask), ("n", n), ("summaries", summaries), ("cond", cond)):
            if tuple(t.shape) != expect[name]:
                raise InputError(f"{name} must have shape {expect[name]}, got {tuple(t.shape)}")
        if mask.dtype != torch.bool:
            raise InputError(f"mask must be a bool tensor, got {mask.dtype}")
        if species.dtype.is_floating_point or n.dtype.is_floating_point:
            raise InputError("species and n must be integer tensors")
        if b == 0:
            raise InputError("the batch holds no events")
        if not torch.isfinite(torch.where(mask[..., None], x, 0.0)).all():
            raise InputError("x holds NaN or inf at valid (mask = True) particles")
        valid_s = species[mask]
        if len(valid_s) and (valid_s.min() < 0 or valid_s.max() >= cfg.n_species):
            raise InputError(f"species indices must lie in [0, {cfg.n_species}), got "
                             f"[{int(valid_s.min())}, {int(valid_s.max())}]")
        if (n < mask.sum(1)).any():
            raise InputError("n (multiplicity) is smaller than the number of valid particles in some event")
        if not (torch.isfinite(summaries).all() and torch.isfinite(cond).all()):
            raise InputError("summaries and cond must be finite")

    @torch.no_grad()
    def fit_standardisation(self, x: torch.Tensor, mask: torch.Tensor, n: torch.Tensor,
                            summaries: torch.Tensor) -> None:
        """Shift/scale of (log pT, η) over valid particles and of the summaries; log ⟨N⟩ for the NB head."""
        valid = x[mask][:, :2].double()
        if len(valid) < 2 or len(n) < 2:
            raise InputError("fitting the standardisation needs at least 2 events and 2 particles")
        self.x_shift.copy_(valid.mean(0))
        self.x_scale.copy_(valid.std(0).clamp_min(1e-6))
        if self.config.n_summaries:
            s = summaries.double()
            self.s_shift.copy_(s.mean(0))
            self.s_scale.copy_(s.std(0).clamp_min(1e-6))
        self.multiplicity.log_n0.copy_(torch.log(n.double().mean().clamp_min(1.0)))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """(log pT, η, …) → y = (ŷ_logpT, ŷ_η)."""
        return (x[..., :2] - self.x_shift) / self.x_scale

    def unstandardise(self, y: torch.Tensor) -> torch.Tensor:
        """y → (log pT, η)."""
        return y * self.x_scale + self.x_shift

    # ----------------------------------------------------------------- model
    def encode(self, *, x: torch.Tensor, species: torch.Tensor, mask: torch.Tensor,
               summaries: torch.Tensor) -> torch.Tensor:
        """Posterior mean μ [B, d] of a padded particle subsample (padding is ignored exactly)."""
        x = torch.where(mask[..., None], x, 0.0)
        species = torch.where(mask, species, 0)
        s = (summaries - self.s_shift) / self.s_scale
        if self.config.n_summaries == len(SUMMARY_NAMES):
            s = s[..., list(ENCODER_SUMMARIES)]
        return self.encoder(self.standardise(x), species, mask, s)

    def forward(self, *, x: torch.Tensor, species: torch.Tensor, mask: torch.Tensor, n: torch.Tensor,
                summaries: torch.Tensor, cond: torch.Tensor, generator: torch.Generator,
                particles: int | None = None) -> dict[str, torch.Tensor]:
        """Training loss terms (scalars) and their weighted total ``loss``:

        The batch holds a random-order particle subsample per event; the first ``particles`` slots
        (all if None) feed the encoder and the per-particle momentum and species losses, every slot
        feeds the azimuthal marginal likelihood (cheap per particle, and its flow-vector posterior
        sharpens as 1/√P: with a few hundred particles it is as wide as v₂ itself).

        flow_matching (per valid particle), species (cross-entropy per valid particle), multiplicity
        (NB −log P(n) per event), kl (fixed-σ_z posterior vs N(0, I), per event), prior (−log p(z̃|c)
        per event, z̃ detached so it only trains the flow), harmonics (−IWAE bound on the azimuths'
        marginal likelihood, per particle of the whole subsample, + log 2π so that 0 means isotropic).
        """
        cfg = self.config
        self.check_batch(x, species, mask, n, summaries, cond)
        x_all, species_all, all_mask = x, species, mask
        if particles is not None:
            if isinstance(particles, bool) or not isinstance(particles, int) or particles < 1:
                raise InputError(f"particles must be an integer >= 1, got {particles!r}")
            x, species, mask = x[:, :particles], species[:, :particles], mask[:, :particles]
        if cfg.disjoint_encoder:  # even slots feed the encoder, odd slots the per-particle losses
            even = torch.arange(mask.shape[1], device=mask.device) % 2 == 0
            enc_mask, mask = mask & even, mask & ~even
        else:
            enc_mask = mask
        mu = self.encode(x=x, species=species, mask=enc_mask, summaries=summaries)
        sigma = cfg.latent_noise
        z = mu + sigma * torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        kl = 0.5 * (mu.pow(2) + sigma ** 2 - 1 - 2 * math.log(sigma)).sum(-1).mean()
        ev = torch.cat([z, cond], -1)
        log_mu, log_r = self.multiplicity(ev)
        nb = NegBinomialHead.nll(n, log_mu, log_r).mean().to(mu.dtype)
        safe_species = torch.where(mask, species, 0)
        logp = F.log_softmax(self.species_head(ev), -1)
        logp_s = logp.gather(1, safe_species)  # [B, k]
        w = mask.to(mu.dtype)
        ce = -(logp_s * w).sum() / w.sum().clamp_min(1.0)
        y = self.standardise(torch.where(mask[..., None], x, 0.0))
        fm = self.decoder.loss(y, safe_species, mask, self.decoder.context(ev), generator)
        prior = -self.prior.log_prob(z.detach(), cond).mean()
        # azimuths: every particle of the subsample (z is blind to them, so no disjoint split is needed)
        safe_all = torch.where(all_mask, species_all, 0)
        y_all = self.standardise(torch.where(all_mask[..., None], x_all, 0.0))
        w_all = all_mask.to(mu.dtype)
        bound = self.harmonics.marginal_log_likelihood(x_all[..., 2] * w_all, y_all, safe_all, w_all, ev, generator)
        harm = -bound.sum() / w_all.sum().clamp_min(1.0) - math.log(2 * math.pi)
        loss = (fm + cfg.species_weight * ce + cfg.multiplicity_weight * nb + cfg.kl_weight * kl + prior
                + cfg.harmonic_weight * harm)
        return {"loss": loss, "flow_matching": fm, "species": ce, "multiplicity": nb, "kl": kl, "prior": prior,
                "harmonics": harm}


def build_surrogate(config: SurrogateConfig, seed: int = 0, device: str | torch.device = "cpu") -> EventSurrogate:
    """A freshly initialised model; the initial weights depend only on ``seed``."""
    dev = resolve_device(device)
    make_generator(seed, torch.device("cpu"))  # validates the seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EventSurrogate(config)
    return model.to(dev)


#: default particles per decoding chunk: cache-sized on the CPU (measured: 2048 particles decode 2× faster
#: per particle than 8192 or more, 1 thread), large on a GPU (occupancy)
CPU_CHUNK, GPU_CHUNK = 2048, 1 << 16


@torch.no_grad()
def sample_events(model: EventSurrogate, cond: torch.Tensor, *, n_steps: int = 8, solver: str = "heun", seed: int = 0,
                  device: str | torch.device = "cpu", max_particles: int | None = None, rotate: bool = True,
                  latent: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Generate one event per row of ``cond`` [E, C] (standardised conditions; [E, 0] if unconditional).

    Returns CPU tensors ``n`` [E] (int64), ``species`` [P] (int64) and ``x`` [P, 3] = (log pT, η, φ)
    (float32), P = Σ n, particles grouped by event in order. φ is turned by one uniform random angle
    per event (the reaction plane of V₂) unless ``rotate=False`` (then at 0). ``latent`` [E, d] replaces
    the prior draw (e.g. encoder means, for reconstructions). Particles are decoded in chunks of at
    most ``max_particles`` (the memory bound; default :data:`CPU_CHUNK` on the CPU, where chunks that
    keep the decoder's activations in cache run twice as fast as big ones, :data:`GPU_CHUNK` on a GPU).
    The model is moved to ``device`` and put in eval mode.
    """
    dev = resolve_device(device)
    if max_particles is None:
        max_particles = CPU_CHUNK if dev.type == "cpu" else GPU_CHUNK
    gen = make_generator(seed, dev)
    rng = np.random.default_rng(seed)
    cfg = model.config
    if solver not in SOLVERS:
        raise InputError(f"solver must be one of {SOLVERS}, got {solver!r}")
    for name, value in (("n_steps", n_steps), ("max_particles", max_particles)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    cond = torch.as_tensor(cond, dtype=torch.float32)
    if cond.dim() != 2 or cond.shape[1] != cfg.n_conditions or len(cond) == 0:
        raise InputError(f"cond must have shape [E >= 1, {cfg.n_conditions}], got {tuple(cond.shape)}")
    if not torch.isfinite(cond).all():
        raise InputError("cond holds NaN or inf")
    model.to(dev).eval()
    cond = cond.to(dev)
    if latent is None:
        z = model.prior.sample(cond, gen)
    else:
        z = torch.as_tensor(latent, dtype=torch.float32).to(dev)
        if tuple(z.shape) != (len(cond), cfg.latent_dim) or not torch.isfinite(z).all():
            raise InputError(f"latent must be finite with shape [{len(cond)}, {cfg.latent_dim}], got {tuple(z.shape)}")
    ev = torch.cat([z, cond], -1)
    n = NegBinomialHead.sample(*model.multiplicity(ev), rng, cfg.max_multiplicity)
    cdf = torch.softmax(model.species_head(ev).double(), -1).cumsum(-1)
    ctx = model.decoder.context(ev)
    flow = model.harmonics.sample_vectors(ev, gen, rotate=rotate)
    owner = torch.repeat_interleave(torch.arange(len(cond), device=dev), n)
    species_out, x_out, clamped = [], [], 0
    for start in range(0, len(owner), max_particles):
        e = owner[start:start + max_particles]
        u = torch.rand(len(e), generator=gen, device=dev, dtype=torch.float64)
        s = (u[:, None] >= cdf[e]).sum(-1).clamp_max(cfg.n_species - 1)
        y = model.decoder.sample(s, ctx[e], n_steps, solver, gen)
        wild = (y.abs() > OUTLIER_SIGMA).any(-1)
        clamped += int(wild.sum())
        y = y.clamp(-OUTLIER_SIGMA, OUTLIER_SIGMA)
        phi = model.harmonics.sample_phi(y, s, ev[e], flow[e], gen)
        x = torch.cat([model.unstandardise(y), phi[:, None]], -1)
        species_out.append(s.cpu())
        x_out.append(x.float().cpu())
    species = torch.cat(species_out) if species_out else torch.zeros(0, dtype=torch.int64)
    x = torch.cat(x_out) if x_out else torch.zeros((0, 3))
    if clamped:
        warnings.warn(f"{clamped} of {len(x)} generated particles had log pT or η beyond {OUTLIER_SIGMA:g} "
                      "standard deviations of the training data and were clamped there; train longer",
                      RuntimeWarning, stacklevel=2)
    return n.cpu(), species, x


def save_surrogate(path: str | Path, model: EventSurrogate, training: dict | None = None) -> None:
    """Write weights, config and plain training facts (step, loss curves …) atomically."""
    save_checkpoint(path, {"kind": MODEL_KIND, "config": asdict(model.config),
                           "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                           "training": training or {}})


def load_surrogate(path: str | Path, device: str | torch.device = "cpu") -> EventSurrogate:
    """Read a model written by :func:`save_surrogate` (``weights_only=True``), in eval mode."""
    payload = load_checkpoint(path, MODEL_KIND)
    try:
        # models saved before the joint amplitude cap used law 1 (see harmonics.py)
        model = EventSurrogate(SurrogateConfig(**{"amplitude_law": 1, **payload["config"]}))
        model.load_state_dict(payload["model"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise InputError(f"{str(path)!r} holds a surrogate this version cannot read ({exc})") from None
    model.training_info = payload.get("training", {})
    return model.to(resolve_device(device)).eval()
