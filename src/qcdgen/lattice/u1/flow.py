"""A gauge-equivariant normalizing flow for 2D U(1) lattice gauge theory (Kanwar, Albergo, Boyda,
Cranmer, Hackett, Racanière, Rezende & Shanahan, PRL 125 (2020) 121601; masks as in Albergo et al.,
"Introduction to normalizing flows for lattice field theory", arXiv:2101.08176).

Prior: independent uniform links on [−π, π), log q₀ = −2V log 2π (V = L²), the measure of
:func:`qcdgen.lattice.u1.exact.log_partition`, so log⟨e^{−S}/q⟩_q estimates that log Z.

Coupling layer (direction μ, offset s). The stripe coordinate is c(x) = x_ν, ν = 1 − μ (the
coordinate across the links of direction μ). Active links: θ_μ(x) with c(x) ≡ s (mod 4), every link
of the stripe. Each sits in two plaquettes, once with sign + and once with −; the + one is its
*active* plaquette (μ = 0: P(x); μ = 1: P(x − 0̂)), the other is *passive*. The two remaining
plaquette stripes are *frozen*: they contain no active link. In stripe offsets relative to s:

    μ = 0:  active plaquettes c ≡ s,      passive c ≡ s − 1,   frozen c ≡ s + 1, s + 2
    μ = 1:  active plaquettes c ≡ s − 1,  passive c ≡ s,       frozen c ≡ s + 1, s + 2

Every active plaquette holds exactly one active link. With u = (θ_P + π) mod 2π ∈ [0, 2π), the
active plaquette is moved by a circular spline h (:mod:`qcdgen.flows.circular`, fixed points
u = 0 ≡ 2π, i.e. θ_P = ±π) whose parameters come from a periodic CNN fed with (cos θ_P, sin θ_P) on
the frozen plaquettes (zero elsewhere), and the active link absorbs the change:

    θ_ℓ ← θ_ℓ + h(u) − u,       log J = Σ_{active P} log h'(u_P).

The active link enters its plaquette with +, so θ_P ← θ_P + h(u) − u; no other plaquette that
the network sees changes, so the Jacobian is triangular with diagonal h'(u_P), and the inverse
is the same update with h⁻¹. Since the map acts on plaquettes only, it commutes with every gauge
transformation θ_μ(x) → θ_μ(x) + α(x) − α(x + μ̂), and log q is gauge invariant. Layers cycle
μ = 0, 1 (inner) and s = 0 … 3 (outer). The stripes have period 4, so L must be a multiple of 4.

Precision: links, plaquettes, splines, log-Jacobians and log q are float64 always. ``dtype`` is that
of the CNNs only: float32 by default (about twice as fast on a CPU as float64). The networks see
only frozen plaquettes, which forward and inverse pass compute from the same untouched links, so
sample and log_prob agree to float64 rounding (~1e-13) for either dtype; evaluating log_prob on
*wrapped* links can change a float32 network input by one ulp, i.e. log q by ≲ 1e-6 at worst.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qcdgen.checks import check_positive_int
from qcdgen.errors import InputError
from qcdgen.flows import reverse_kl_loss
from qcdgen.flows.circular import circular_spline, n_circular_params
from qcdgen.lattice.u1.action import U1Action, plaquettes, wrap_angle
from qcdgen.nn.periodic_cnn import PeriodicConv

STRIPE = 4
LINK_DTYPE = torch.float64
PRIORS = ("uniform", "plaquette")  # Haar links; i.i.d. von Mises plaquettes (:mod:`.plaquette_prior`)


def check_flow_size(size) -> int:
    """Refuse a lattice the stripe masks cannot tile (InputError naming --size)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < STRIPE or size % STRIPE:
        raise InputError(f"--size must be a multiple of {STRIPE} (>= {STRIPE}) for the U(1) gauge flow's "
                         f"stripe masks, got {size!r}")
    return size


def stripe_masks(size: int, mu: int, offset: int) -> dict[str, torch.Tensor]:
    """Boolean [L, L] masks of one coupling: ``links`` (active links of direction mu), ``active``,
    ``passive`` and ``frozen`` plaquettes (indexed by the plaquette's base site x)."""
    coord = torch.arange(size)
    c = (coord.view(1, -1) if mu == 0 else coord.view(-1, 1)).expand(size, size) % STRIPE
    active_stripe = offset if mu == 0 else (offset - 1) % STRIPE
    passive_stripe = (offset - 1) % STRIPE if mu == 0 else offset
    return {"links": c == offset, "active": c == active_stripe, "passive": c == passive_stripe,
            "frozen": (c == (offset + 1) % STRIPE) | (c == (offset + 2) % STRIPE)}


class UniformLinks(nn.Module):
    """Prior: every link uniform on [−π, π); log q₀ = −2V log 2π. Samples are float64 whatever ``dtype``."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.site_shape = (2, size, size)

    def sample(self, n: int, generator: torch.Generator, dtype: torch.dtype | None = None) -> torch.Tensor:
        u = torch.rand((n, *self.site_shape), generator=generator, device=generator.device, dtype=LINK_DTYPE)
        return (2.0 * u - 1.0) * math.pi

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        value = -2 * self.size * self.size * math.log(2.0 * math.pi)
        return torch.full((len(z),), value, dtype=LINK_DTYPE, device=z.device)


class PlaquetteCoupling(nn.Module):
    """One gauge-equivariant coupling: links of direction ``mu`` on stripe ``offset`` (see module doc)."""

    def __init__(self, size: int, mu: int, offset: int, hidden: int = 8, kernel_size: int = 3, bins: int = 8,
                 dtype: torch.dtype = torch.float64):
        super().__init__()
        self.mu, self.offset, self.size = mu, offset, size
        masks = stripe_masks(size, mu, offset)
        active = masks["active"].flatten().nonzero().squeeze(1)
        # the active link of plaquette P(y): θ_0(y) for mu = 0, θ_1(y + 0̂) for mu = 1
        rows, cols = active // size, active % size
        link = ((rows + (1 if mu == 1 else 0)) % size) * size + cols
        self.register_buffer("active_index", active, persistent=False)
        self.register_buffer("link_index", link, persistent=False)
        self.register_buffer("frozen", masks["frozen"].to(dtype), persistent=False)
        self.body = nn.Sequential(
            PeriodicConv(2, 2, hidden, kernel_size, bias=True), nn.SiLU(),
            PeriodicConv(2, hidden, hidden, kernel_size, bias=True), nn.SiLU())
        # output convolution, evaluated on the active stripes only (a quarter of the sites)
        self.head = nn.Conv2d(hidden, n_circular_params(bins), kernel_size, bias=True)
        nn.init.zeros_(self.head.weight)  # every layer starts as the identity
        nn.init.zeros_(self.head.bias)
        stripe = (offset if mu == 0 else offset - 1) % STRIPE
        r = kernel_size // 2
        window = (torch.arange(stripe, size, STRIPE).view(-1, 1) + torch.arange(-r, r + 1)) % size
        self.register_buffer("window", window.flatten(), persistent=False)
        self.width = r
        self.to(dtype)

    def _spline_params(self, plaq: torch.Tensor) -> torch.Tensor:
        """[batch, n_active, 3K] from the frozen plaquettes of ``plaq`` [batch, L, L]: the periodic CNN
        body everywhere, then its output convolution at the active plaquettes, in ``active_index`` order."""
        dtype = self.frozen.dtype
        n, size, k = len(plaq), self.size, 2 * self.width + 1
        ctx = torch.stack([torch.cos(plaq), torch.sin(plaq)], dim=1).to(dtype) * self.frozen
        feat = self.body(ctx)  # [batch, C, L, L]
        stripes = size // STRIPE
        if self.mu == 0:  # active plaquettes (i, a_j): stripes are columns, ordered (i, j)
            win = feat.index_select(3, self.window).view(n, -1, size, stripes, k).permute(0, 3, 1, 2, 4)
            win = win.reshape(n * stripes, -1, size, k)
            win = torch.cat([win[:, :, size - self.width:], win, win[:, :, :self.width]], dim=2)
            out = self.head(win).view(n, stripes, -1, size).permute(0, 3, 1, 2)
        else:  # active plaquettes (a_j, i): stripes are rows, ordered (j, i)
            win = feat.index_select(2, self.window).view(n, -1, stripes, k, size).permute(0, 2, 1, 3, 4)
            win = win.reshape(n * stripes, -1, k, size)
            win = torch.cat([win[..., size - self.width:], win, win[..., :self.width]], dim=3)
            out = self.head(win).view(n, stripes, -1, size).permute(0, 1, 3, 2)
        return out.reshape(n, size * stripes, -1).to(plaq.dtype)

    def _couple(self, theta: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        plaq = plaquettes(theta)
        params = self._spline_params(plaq)
        u = torch.remainder(plaq.flatten(1).index_select(1, self.active_index) + math.pi, 2 * math.pi)
        v, log_deriv = circular_spline(u, params, inverse=inverse)
        shift = v - u  # forward: h(u) − u; inverse: h⁻¹(u') − u'
        n = len(theta)
        delta = torch.zeros(n, self.size * self.size, dtype=theta.dtype, device=theta.device)
        delta = delta.index_copy(1, self.link_index, shift).view(n, self.size, self.size)
        links = list(theta.unbind(1))
        links[self.mu] = links[self.mu] + delta
        return torch.stack(links, dim=1), log_deriv.sum(-1)

    def forward(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """θ' and log|det ∂θ'/∂θ| [batch]."""
        return self._couple(theta, inverse=False)

    def inverse(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """θ and log|det ∂θ/∂θ'| [batch]."""
        return self._couple(theta, inverse=True)


class U1GaugeFlow(nn.Module):
    """Gauge-equivariant flow on U(1) links [batch, 2, L, L]: a prior, then ``layers`` plaquette couplings.

    ``prior`` is ``"uniform"`` (Haar links, Kanwar et al.) or ``"plaquette"`` (i.i.d. von Mises plaquettes at
    κ = ``beta``, :mod:`qcdgen.lattice.u1.plaquette_prior`); both are gauge invariant with exact log q₀.

    Layer l updates direction μ = l mod 2 on stripe s = (l // 2) mod 4. Each coupling's CNN has two
    hidden convolutions of ``hidden`` channels (SiLU) and a zero-initialised output convolution, so
    the untrained flow is the identity (q = prior). Weights come from ``seed`` without touching the
    global RNG. ``dtype`` is the networks' dtype (links and log q are always float64).
    """

    def __init__(self, size: int, layers: int = 16, hidden: int = 8, kernel_size: int = 3, bins: int = 8,
                 seed: int = 0, dtype: torch.dtype = torch.float32, prior: str = "uniform", beta: float | None = None):
        super().__init__()
        if prior not in PRIORS:
            raise InputError(f"--prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        self.size = check_flow_size(size)
        check_positive_int(layers, "layers")
        check_positive_int(hidden, "hidden")
        check_positive_int(bins, "bins", minimum=2)
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0 \
                or kernel_size // 2 > size:
            raise InputError(f"kernel_size must be an odd integer from 1 to {2 * size + 1}, got {kernel_size!r}")
        if dtype not in (torch.float32, torch.float64):
            raise InputError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.config = {"size": size, "layers": layers, "hidden": hidden, "kernel_size": kernel_size, "bins": bins,
                       "seed": seed, "dtype": str(dtype).removeprefix("torch."), "prior": prior}
        if prior == "plaquette":
            from qcdgen.lattice.u1.plaquette_prior import IndependentPlaquettes

            self.prior = IndependentPlaquettes(size, beta)
            self.config["prior_beta"] = float(beta)
        else:
            self.prior = UniformLinks(size)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.layers = nn.ModuleList(
                PlaquetteCoupling(size, l % 2, (l // 2) % STRIPE, hidden, kernel_size, bins, dtype)
                for l in range(layers))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """θ = f(z) (not wrapped) and log|det ∂θ/∂z| [batch], float64."""
        theta = z.to(LINK_DTYPE)
        log_det = torch.zeros(len(theta), dtype=LINK_DTYPE, device=theta.device)
        for layer in self.layers:
            theta, ld = layer(theta)
            log_det = log_det + ld
        return theta, log_det

    def inverse(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f⁻¹(θ) (not wrapped) and log|det ∂z/∂θ| [batch], float64."""
        z = theta.to(LINK_DTYPE)
        log_det = torch.zeros(len(z), dtype=LINK_DTYPE, device=z.device)
        for layer in reversed(self.layers):
            z, ld = layer.inverse(z)
            log_det = log_det + ld
        return z, log_det

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n configurations θ ~ q [n, 2, L, L] wrapped to (−π, π], and log q(θ) [n] (float64)."""
        z = self.prior.sample(n, generator)
        theta, log_det = self(z)
        return wrap_angle(theta), self.prior.log_prob(z) - log_det

    def log_prob(self, theta: torch.Tensor) -> torch.Tensor:
        """log q(θ) [n] by the inverse pass (any representative of the angles mod 2π)."""
        z, log_det = self.inverse(theta)
        return self.prior.log_prob(z) + log_det


def u1_reverse_kl_loss(action: U1Action, path_gradient: bool = False):
    """``loss(module, n, generator) -> (loss, metrics)`` for :func:`qcdgen.train.train_dataless`:
    loss = E_q[log q + S] (the variational free energy, ≥ −log Z), metrics ``ess``, ``log_z``, ``kl``
    (see :func:`qcdgen.flows.reverse_kl_loss`); ``path_gradient`` as there."""

    def log_p(theta: torch.Tensor) -> torch.Tensor:
        return action.log_prob(theta.to(torch.float64))

    def loss(module: nn.Module, n: int, generator: torch.Generator):
        return reverse_kl_loss(module, log_p, n, generator, path_gradient=path_gradient)

    return loss
