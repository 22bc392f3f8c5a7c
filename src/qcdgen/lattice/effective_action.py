"""The flow of the effective action S_DM(φ, τ) = −log p_τ(φ) in a zero-dimensional φ⁴ toy.

Wang, Aarts & Zhou, JHEP 05 (2024) 060, "Diffusion models as stochastic quantization in lattice
field theory": the forward diffusion carries e^{−S} into a Gaussian, and the log of the noised
density is an action that obeys a closed flow equation. Here S(φ) = μ²φ²/2 + gφ⁴/4! with one real φ.

Time conventions (τ is the argument of every function here; ``t`` is the engine's SDE time):

- VE (:class:`~qcdgen.diffusion.VESDE`, dφ = g(t) dw): τ is the *added noise variance*,
  τ = s(t)² = ∫₀ᵗ g² dt', so p_τ = p₀ ∗ N(0, τ) and the Fokker–Planck equation ∂_τp = ½∂²p gives

      ∂_τS = ½(∂²S − (∂S)²)                                         (VE action equation)

  (in engine time ∂_tS = ½g(t)²(∂²S − (∂S)²)).
- VP (:class:`~qcdgen.diffusion.VPSDE`, dφ = −½β φ dt + √β dw): τ = ∫₀ᵗ β dt', the Ornstein–Uhlenbeck
  time, so φ_τ = e^{−τ/2}φ₀ + √(1 − e^{−τ}) z. From ∂_τp = ½∂(φp) + ½∂²p with p = e^{−S}:

      ∂_τS = ½(∂²S − (∂S)²) + ½(φ∂S − 1)                              (VP action equation)

  whose fixed point is S = φ²/2 + const.

Both equations hold for the *normalised* density; an additive τ-dependent constant would add its
τ-derivative. The exact p_τ is the heat-kernel (or OU-kernel) convolution of e^{−S}/Z done by the
trapezoidal rule, which converges exponentially fast for these smooth, rapidly decaying integrands.
The learned action integrates the trained score in φ, S_DM = −∫ŝ_θ dφ, with the constant fixed by
∫e^{−S_DM} dφ = 1 on the same grid.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import logsumexp

from qcdgen.checks import check_positive_int
from qcdgen.errors import InputError

__all__ = ["SDE_KINDS", "QuarticAction0D", "EffectiveActionSettings", "ActionComparison", "EffectiveActionResult",
           "exact_log_density", "exact_action", "exact_samples", "phi_grid", "action_equation_residual",
           "learned_action", "train_toy_score", "effective_action_flow"]

SDE_KINDS = ("ve", "vp")
#: the comparison region: where p_τ exceeds this fraction of its maximum
REGION_FRACTION = 1e-3
#: S − S_min beyond which e^{−S} is dropped from the quadrature grids (e^{−60} ≈ 1e−26)
DEPTH = 60.0


def _check_kind(kind: str) -> str:
    if kind not in SDE_KINDS:
        raise InputError(f"sde must be one of {SDE_KINDS}, got {kind!r}")
    return kind


def _check_tau(tau, name: str = "tau", allow_zero: bool = True) -> float:
    try:
        v = float(tau)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number >= 0, got {tau!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {tau!r}")
    return v


@dataclass(frozen=True)
class QuarticAction0D:
    """S(φ) = μ²φ²/2 + gφ⁴/4! for one real φ (g > 0; μ² < 0 is the double well, minima at φ² = −6μ²/g)."""

    mu2: float
    g: float

    def __post_init__(self) -> None:
        if isinstance(self.mu2, bool) or not isinstance(self.mu2, (int, float)) or not math.isfinite(self.mu2):
            raise InputError(f"mu2 must be a finite number, got {self.mu2!r}")
        if isinstance(self.g, bool) or not isinstance(self.g, (int, float)) or not math.isfinite(self.g) or self.g <= 0:
            raise InputError(f"g must be a finite number > 0 (the action must be bounded below), got {self.g!r}")

    def __call__(self, phi):
        return 0.5 * self.mu2 * phi ** 2 + self.g * phi ** 4 / 24.0

    @property
    def minimum(self) -> float:
        """min_φ S: 0 for μ² >= 0, −3μ⁴/(2g) at φ² = −6μ²/g otherwise."""
        return 0.0 if self.mu2 >= 0 else -1.5 * self.mu2 ** 2 / self.g

    def support(self, depth: float = DEPTH) -> float:
        """R > 0 with S(±R) − S_min = depth (a quadratic in R²)."""
        a, b, c = self.g / 24.0, 0.5 * self.mu2, -(self.minimum + depth)
        return math.sqrt((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))


def _trapezoid_log_weights(x: np.ndarray) -> np.ndarray:
    h = np.diff(x)
    w = np.zeros_like(x)
    w[:-1] += 0.5 * h
    w[1:] += 0.5 * h
    return np.log(w)


def _source_grid(action: QuarticAction0D, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """y grid over the support of e^{−S} and log(w_j p₀(y_j)) with trapezoid weights w_j (Σ w p₀ = 1)."""
    R = action.support()
    y = np.linspace(-R, R, 2 * int(math.ceil(R / spacing)) + 1)
    log_wp = _trapezoid_log_weights(y) - action(y)
    return y, log_wp - logsumexp(log_wp)


def exact_log_density(action: QuarticAction0D, phi, tau: float, kind: str = "ve",
                      spacing: float = 0.01) -> np.ndarray:
    """log p_τ(φ), float64: p₀ = e^{−S}/Z convolved with the VE heat kernel N(φ − y; 0, τ) or the OU kernel
    N(φ; e^{−τ/2}y, 1 − e^{−τ}), by the trapezoidal rule on a y grid of the given spacing (log-sum-exp)."""
    _check_kind(kind)
    tau = _check_tau(tau)
    phi = np.asarray(phi, dtype=np.float64)
    y, log_wp = _source_grid(action, spacing)
    if tau == 0.0:  # p₀ = e^{−S}/Z, Z = Σ w_j e^{−S(y_j)}
        return -action(phi) - logsumexp(_trapezoid_log_weights(y) - action(y))
    if kind == "ve":
        mean, var = 1.0, tau
    else:
        mean, var = math.exp(-0.5 * tau), -math.expm1(-tau)
    out = np.empty(phi.shape, dtype=np.float64)
    flat, res = phi.reshape(-1), out.reshape(-1)
    chunk = max(1, 2_000_000 // len(y))
    for i in range(0, len(flat), chunk):
        d = flat[i:i + chunk, None] - mean * y[None, :]
        res[i:i + chunk] = logsumexp(log_wp[None, :] - d * d / (2 * var), axis=1)
    return out - 0.5 * math.log(2 * math.pi * var)


def exact_action(action: QuarticAction0D, phi, tau: float, kind: str = "ve", spacing: float = 0.01) -> np.ndarray:
    """S_τ(φ) = −log p_τ(φ) with p_τ normalised (see :func:`exact_log_density`)."""
    return -exact_log_density(action, phi, tau, kind, spacing)


def exact_samples(action: QuarticAction0D, n: int, rng: np.random.Generator, spacing: float = 0.002) -> np.ndarray:
    """n exact draws from e^{−S}/Z by inverting the CDF tabulated on a fine grid (trapezoid CDF, linear inverse)."""
    check_positive_int(n, "samples")
    R = action.support(depth=40.0)
    x = np.linspace(-R, R, 2 * int(math.ceil(R / spacing)) + 1)
    p = np.exp(-(action(x) - action.minimum))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(x))])
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, x)


def phi_grid(action: QuarticAction0D, tau: float, kind: str = "ve", spacing: float = 0.02,
             width: float = 8.0) -> np.ndarray:
    """A uniform φ grid holding p_τ: ±(a R₀ + width·s) with (a, s²) = (1, τ) for VE, (e^{−τ/2}, 1 − e^{−τ}) for VP."""
    _check_kind(kind)
    tau = _check_tau(tau)
    R0 = action.support(depth=40.0)
    a, var = (1.0, tau) if kind == "ve" else (math.exp(-0.5 * tau), -math.expm1(-tau))
    R = a * R0 + width * math.sqrt(var)
    return np.linspace(-R, R, 2 * int(math.ceil(R / spacing)) + 1)


def _stencils(S: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """∂S and ∂²S at the interior points [2:-2] of a uniform grid, fourth-order central differences."""
    d1 = (-S[4:] + 8 * S[3:-1] - 8 * S[1:-3] + S[:-4]) / (12 * h)
    d2 = (-S[4:] + 16 * S[3:-1] - 30 * S[2:-2] + 16 * S[1:-3] - S[:-4]) / (12 * h * h)
    return d1, d2


def action_equation_residual(action_at, phi: np.ndarray, tau: float, kind: str = "ve",
                             dtau: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """R = ∂_τS − ½(∂²S − (∂S)²) [− ½(φ∂S − 1) for VP] at phi[2:-2], and ∂_τS there.

    ``action_at(τ)`` returns the normalised S on the uniform grid ``phi``. Every derivative is a
    fourth-order finite difference (φ: grid spacing; τ: step ``dtau``, default τ/50), so the residual
    of an exact solution is the quadrature and truncation error only.
    """
    _check_kind(kind)
    tau = _check_tau(tau, allow_zero=False)
    dtau = tau / 50 if dtau is None else float(dtau)
    if not (0 < dtau < tau / 2):
        raise InputError(f"dtau must be in (0, tau/2) = (0, {tau / 2:g}), got {dtau!r}")
    h = float(phi[1] - phi[0])
    s_m2, s_m1, s_0, s_p1, s_p2 = (np.asarray(action_at(tau + k * dtau), dtype=np.float64) for k in (-2, -1, 0, 1, 2))
    dt = ((-s_p2 + 8 * s_p1 - 8 * s_m1 + s_m2) / (12 * dtau))[2:-2]
    d1, d2 = _stencils(s_0, h)
    rhs = 0.5 * (d2 - d1 * d1)
    if kind == "vp":
        rhs = rhs + 0.5 * (phi[2:-2] * d1 - 1.0)
    return dt - rhs, dt


def learned_action(score_fn, phi: np.ndarray, tau: float) -> np.ndarray:
    """S_DM(φ, τ) = −∫ŝ dφ on the uniform grid ``phi`` (trapezoid), the constant fixed by ∫e^{−S_DM} dφ = 1.

    ``score_fn(phi, tau)`` returns the learned score ∂_φ log p_τ on the grid (float64 numpy)."""
    s = np.asarray(score_fn(phi, tau), dtype=np.float64)
    if not np.isfinite(s).all():
        raise FloatingPointError(f"the learned score is not finite at tau={tau:g}")
    log_p = np.concatenate([[0.0], np.cumsum(0.5 * (s[1:] + s[:-1]) * np.diff(phi))])
    return -(log_p - logsumexp(log_p + _trapezoid_log_weights(phi)))


# --------------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class EffectiveActionSettings:
    """The toy, the SDE and a small training run.

    ``taus`` are compared with the exact curves (max |ΔS| ≤ ``tolerance`` over p_τ > 10⁻³ max p_τ);
    ``flow_taus`` are drawn in the figure. ``sigma`` is the VE g(t) = σ^t (engine default 25, as in the paper).
    ``powers`` = (1, 3) feeds φ̂ and φ̂³ to the score net (the force of a φ⁴ action is cubic; with φ̂ alone the
    SiLU net extrapolates linearly and max|ΔS| at τ = 0.1 roughly doubles, dominated by the sparsely sampled tails).
    The default tolerance 0.5 covers those tails at τ = 0.1 after a few thousand steps; at τ ≥ 0.5 the
    difference is typically < 0.15 (see tests/test_effective_action.py).
    """

    mu2: float = -1.0
    g: float = 1.0
    sde: str = "ve"
    taus: tuple = (0.1, 0.5, 1.0)
    flow_taus: tuple | None = None
    tolerance: float = 0.5
    samples: int = 200_000
    steps: int = 3000
    batch_size: int = 512
    lr: float = 2e-3
    hidden: int = 64
    layers: int = 3
    sigma: float = 25.0
    T: float = 1.0
    weighting: str = "sigma2"
    noise_sampling: str = "uniform-time"
    powers: tuple = (1, 3)
    seed: int = 0

    def __post_init__(self) -> None:
        QuarticAction0D(self.mu2, self.g)
        _check_kind(self.sde)
        if not self.taus:
            raise InputError("taus must list at least one tau > 0")
        for tau in tuple(self.taus) + tuple(self.flow_taus or ()):
            _check_tau(tau, allow_zero=False)
        for name in ("samples", "steps", "batch_size", "hidden", "layers"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.seed, "seed", minimum=0)
        if not (isinstance(self.tolerance, (int, float)) and self.tolerance > 0):
            raise InputError(f"tolerance must be a number > 0, got {self.tolerance!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):
            raise InputError(f"lr must be in (0, 1), got {self.lr!r}")
        if self.weighting not in ("sigma2", "likelihood"):
            raise InputError(f"weighting must be 'sigma2' or 'likelihood', got {self.weighting!r}")
        if self.noise_sampling not in ("uniform-time", "log-noise"):
            raise InputError(f"noise_sampling must be 'uniform-time' or 'log-noise', got {self.noise_sampling!r}")
        sde = self.make_sde()
        lo, hi = float(tau_of_time(sde, sde.eps)), float(tau_of_time(sde, sde.T))
        for tau in self.taus:
            if not lo <= tau <= hi:
                raise InputError(f"tau={tau:g} is outside the range [{lo:.3g}, {hi:.3g}] the {self.sde.upper()} SDE "
                                 f"covers (sigma={self.sigma:g}, T={self.T:g})")

    @property
    def action(self) -> QuarticAction0D:
        return QuarticAction0D(self.mu2, self.g)

    def make_sde(self):
        from qcdgen.diffusion import VESDE, VPSDE

        return VESDE(sigma=self.sigma, T=self.T) if self.sde == "ve" else VPSDE(T=self.T)

    def figure_taus(self) -> tuple:
        if self.flow_taus:
            return tuple(float(t) for t in self.flow_taus)
        return (0.1, 0.5, 1.0, 2.0, 5.0, 20.0) if self.sde == "ve" else (0.1, 0.5, 1.0, 2.0, 4.0, 8.0)


def tau_of_time(sde, t):
    """τ of the engine time t: s(t)² for VE, −2 log a(t) for VP."""
    import torch

    t = torch.as_tensor(t, dtype=torch.float64)
    if getattr(sde, "to_dict")()["kind"] == "ve":
        return sde.marginal_std(t) ** 2
    return -2 * torch.log(sde.mean_coeff(t))


def time_of_tau(sde, tau: float) -> float:
    """Engine time of τ through the equivalent-VE noise ratio s/a: √τ (VE) or √(e^τ − 1) (VP)."""
    import torch

    ratio = math.sqrt(tau) if sde.to_dict()["kind"] == "ve" else math.sqrt(math.expm1(tau))
    return float(sde.time_of_noise_ratio(torch.tensor(ratio, dtype=torch.float64)))


def train_toy_score(settings: EffectiveActionSettings, device="cpu", progress: bool = True):
    """Train s_θ(φ, t) by denoising score matching (:func:`~qcdgen.diffusion.energy.energy_dsm_loss`: t uniform, or
    the noise level log-uniform with ``noise_sampling="log-noise"``) on exact inverse-CDF samples; returns (score model with EMA weights, :class:`~qcdgen.train.TrainResult`)."""
    import torch

    from qcdgen.diffusion import ScoreModel
    from qcdgen.diffusion.energy import energy_dsm_loss
    from qcdgen.nn.mlp import NoiseConditionedMLP
    from qcdgen.runtime import resolve_device
    from qcdgen.train import TrainSettings, train_model

    dev = resolve_device(device)
    x0 = exact_samples(settings.action, settings.samples, np.random.default_rng(settings.seed))
    data = torch.tensor(x0, dtype=torch.float32, device=dev).unsqueeze(1)
    torch.manual_seed(settings.seed)
    net = NoiseConditionedMLP(dim=1, hidden=settings.hidden, layers=settings.layers, data_std=float(x0.std()),
                              odd=True, powers=tuple(settings.powers))
    model = ScoreModel(net, settings.make_sde()).to(dev)
    train = TrainSettings(steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr,
                          warmup=min(100, settings.steps // 10), seed=settings.seed)

    def loss(m, batch, gen):
        return energy_dsm_loss(m, batch, gen, settings.weighting, settings.noise_sampling)

    result = train_model(model, loss, data, train,
                         progress=progress, description=f"training the 0-D {settings.sde.upper()} score")
    model.load_state_dict(result.ema_state)
    model.eval()
    return model, result


def score_function(model, device="cpu"):
    """``score_fn(phi, tau)`` of a trained 0-D :class:`~qcdgen.diffusion.ScoreModel`, evaluated in float64."""
    import torch

    model64 = copy.deepcopy(model).double()
    dev = next(model64.parameters()).device
    sde = model64.sde
    t_min = float(tau_of_time(sde, sde.eps))
    t_max = float(tau_of_time(sde, sde.T))

    def score_fn(phi, tau):
        if not (t_min <= tau <= t_max):
            raise InputError(f"tau={tau:g} is outside the trained range [{t_min:.3g}, {t_max:.3g}] of this SDE")
        t = time_of_tau(sde, tau)
        x = torch.as_tensor(np.asarray(phi, dtype=np.float64), device=dev).reshape(-1, 1)
        with torch.no_grad():
            s = model64(x, torch.full((len(x),), t, dtype=torch.float64, device=dev))
        return s.reshape(-1).cpu().numpy()

    return score_fn


# ---------------------------------------------------------------------------------------------------- results


@dataclass
class ActionComparison:
    """Exact and learned S_τ on one φ grid; residuals live on phi[2:-2]; ``region``: p_τ > 10⁻³ max p_τ."""

    tau: float
    time: float
    phi: np.ndarray
    exact: np.ndarray
    learned: np.ndarray
    region: np.ndarray
    residual_exact: np.ndarray
    residual_learned: np.ndarray
    dS_dtau: np.ndarray

    @property
    def max_abs_diff(self) -> float:
        return float(np.max(np.abs(self.learned - self.exact)[self.region]))

    def max_abs_diff_above(self, fraction: float) -> float:
        """max|ΔS| where p_τ > fraction · max p_τ (e.g. 10⁻² for the bulk, away from the sparsely sampled tails)."""
        inside = self.exact - self.exact.min() < math.log(1.0 / fraction)
        return float(np.max(np.abs(self.learned - self.exact)[inside]))

    def _inner(self, r: np.ndarray) -> float:
        return float(np.max(np.abs(r)[self.region[2:-2]]))

    @property
    def residual_exact_max(self) -> float:
        return self._inner(self.residual_exact)

    @property
    def residual_learned_max(self) -> float:
        return self._inner(self.residual_learned)

    @property
    def dS_dtau_max(self) -> float:
        return self._inner(self.dS_dtau)


@dataclass
class EffectiveActionResult:
    settings: EffectiveActionSettings
    comparisons: list[ActionComparison]
    flow_taus: list[float]
    flow_phi: list[np.ndarray]
    flow_exact: list[np.ndarray]
    flow_learned: list[np.ndarray | None]
    train_seconds: float
    final_loss: float
    seconds: float
    loss_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def passed(self) -> bool:
        return all(c.max_abs_diff <= self.settings.tolerance for c in self.comparisons)

    def to_json(self) -> dict:
        s = asdict(self.settings)
        s["taus"], s["flow_taus"] = list(self.settings.taus), list(self.settings.figure_taus())
        return {
            "settings": s,
            "convention": ("VE: tau = added noise variance s(t)^2, dS/dtau = (S'' - S'^2)/2" if self.settings.sde == "ve"
                           else "VP: tau = int beta dt (a = exp(-tau/2)), dS/dtau = (S'' - S'^2)/2 + (phi S' - 1)/2"),
            "region": f"p_tau > {REGION_FRACTION:g} max p_tau; additive constant fixed by normalisation",
            "tolerance": self.settings.tolerance,
            "passed": self.passed,
            "rows": [{"tau": c.tau, "t": c.time, "max_abs_dS": c.max_abs_diff,
                      "max_abs_dS_p_above_1e-2": c.max_abs_diff_above(1e-2),
                      "residual_exact_max": c.residual_exact_max, "residual_learned_max": c.residual_learned_max,
                      "dS_dtau_max": c.dS_dtau_max} for c in self.comparisons],
            "train_seconds": self.train_seconds,
            "final_loss": self.final_loss,
            "seconds": self.seconds,
        }


def compare_at(action: QuarticAction0D, score_fn, kind: str, tau: float, sde) -> ActionComparison:
    """Exact vs learned S_τ, and both action-equation residuals, at one τ."""
    phi = phi_grid(action, tau, kind)

    def exact_at(x):
        return exact_action(action, phi, x, kind)

    def learned_at(x):
        return learned_action(score_fn, phi, x)

    exact = exact_at(tau)
    region = exact - exact.min() < math.log(1.0 / REGION_FRACTION)
    r_exact, dt = action_equation_residual(exact_at, phi, tau, kind)
    r_learned, _ = action_equation_residual(learned_at, phi, tau, kind)
    return ActionComparison(tau=tau, time=time_of_tau(sde, tau), phi=phi, exact=exact, learned=learned_at(tau),
                            region=region, residual_exact=r_exact, residual_learned=r_learned, dS_dtau=dt)


def effective_action_flow(settings: EffectiveActionSettings, device="cpu", progress: bool = True,
                          model=None) -> EffectiveActionResult:
    """Train the 0-D score model (unless ``model`` is given) and compare S_DM with the exact flow."""
    start = time.perf_counter()
    action = settings.action
    train_seconds, final_loss = 0.0, float("nan")
    loss_steps, losses = np.zeros(0), np.zeros(0)
    if model is None:
        model, tr = train_toy_score(settings, device=device, progress=progress)
        train_seconds, final_loss = tr.seconds, float(tr.losses[-1])
        loss_steps, losses = tr.steps, tr.losses
    score_fn = score_function(model)
    sde = model.sde
    tau_max = float(tau_of_time(sde, sde.T))
    comparisons = [compare_at(action, score_fn, settings.sde, float(tau), sde) for tau in settings.taus]
    flow_taus = [0.0] + list(settings.figure_taus())
    flow_phi, flow_exact, flow_learned = [], [], []
    for tau in flow_taus:
        phi = phi_grid(action, tau, settings.sde)
        flow_phi.append(phi)
        flow_exact.append(exact_action(action, phi, tau, settings.sde))
        flow_learned.append(learned_action(score_fn, phi, tau) if 0 < tau <= tau_max else None)
    return EffectiveActionResult(settings=settings, comparisons=comparisons, flow_taus=flow_taus, flow_phi=flow_phi,
                                 flow_exact=flow_exact, flow_learned=flow_learned, train_seconds=train_seconds,
                                 final_loss=final_loss, seconds=time.perf_counter() - start,
                                 loss_steps=np.asarray(loss_steps), losses=np.asarray(losses))
