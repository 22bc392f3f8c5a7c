"""Neural potentials V(r) fitted to bound-state levels through the differentiable radial solver.

Following Shi, Zhou, Zhao, Mukherjee, Zhuang, PRD 105 014017 (2022): the unknown potential is a
small neural network, V(r) = E_min + ε · MLP(r/L) (ε = E_max − E_min, L a length scale derived
from the levels; by default MLP((r/L)²), see below), the bound states come from :func:`~qcdgen.inverse.schrodinger.solver.solve_levels`
(``torch.linalg.eigh``), and the weights minimise, per ensemble member,

    Σ_i ((E_i^pred − E_i)/σ_i)² + Σ_i ((Γ_i^pred − Γ_i)/σ_Γ,i)² + λ ∫ dx [(∂²_x V_R/ε)² + (∂²_x V_I/γ)²]
      + Σ_i P_i(r > 0.9 r_max) / 10⁻³,

where the last term keeps the fitted states bound by V rather than by the box wall (a network is
otherwise free to dig a spurious well far outside the probed range and park a level in it),
with x = r/L, γ = max Γ_i, and, when widths are given, an imaginary part
V_I = −γ softplus(MLP_I(r/L)) ≤ 0 whose first-order widths are Γ = −2⟨ψ|V_I|ψ⟩.  Without
``error`` values the σ_i are a fit tolerance ``tolerance·ε`` (not a statistical error).

Regularity at the origin: a potential that is smooth as a function of the position vector (no
Coulomb-like singularity) is a function of r² = x² + y² + z², so V'(0) = 0.  The default
``origin="regular"`` builds this in by feeding (r/L)² to the network; without it the smoothness
prior bends V towards a straight line at small r, where u ∝ r^{l+1} makes the levels insensitive.
Use ``origin="free"`` for singular potentials (Coulomb, Cornell).

The widths term uses the wavefunctions of V_R with the gradient stopped (first order in V_I), so
V_R answers to the energies and V_I to the widths.

Uncertainty: an ensemble of independently initialised networks, trained at once with batched
weights, whose smoothness weights λ_k are log-spaced over [λ/10, 10λ] (so the band also shows
how much the prior matters where the data are weak); when errors are given each member also fits
its own resampling E_i + σ_i z (a parametric bootstrap).  The band is the ensemble
**mean ± standard deviation**.  With exact levels it measures initialisation and prior spread only.

The band means something only where the fitted states live: :func:`probed_range` returns the
interval where their summed probability density Σ u²(r) is above ``fraction`` of its maximum.
Outside it V is set by the smoothness prior and the network alone.  Even inside it, a set of
l = 0 levels does not determine V(r) uniquely (there are isospectral families of potentials);
among the potentials that reproduce the levels, the smoothness prior and the network's
inductive bias choose one, and the ensemble spread measures only part of that freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from qcdgen.checks import check_choice, check_positive_int, check_real
from qcdgen.errors import InputError, NaNError
from qcdgen.inverse.schrodinger.solver import radial_grid, solve_levels, widths
from qcdgen.runtime import progress_bar, resolve_device

__all__ = ["EnsembleMLP", "Levels", "NeuralPotential", "PotentialFit", "fit_potential", "length_scale",
           "probed_range", "suggest_r_max"]

#: a state's density u² below this fraction of the summed maximum does not count as probed
PROBE_FRACTION = 0.05

ORIGINS = ("regular", "free")
#: probability at the box wall (outer 10 % of r) that costs one unit of χ² in the loss
WALL_TOLERANCE = 1e-3


@dataclass
class Levels:
    """Measured levels: n ≥ 1 (lowest state of each l is n = 1), l ≥ 0, energy E, optional errors and widths."""

    n: np.ndarray
    l: np.ndarray
    E: np.ndarray
    error: np.ndarray | None = None
    width: np.ndarray | None = None
    width_error: np.ndarray | None = None
    source: str = "levels"

    def __post_init__(self) -> None:
        src = self.source
        self.E = np.asarray(self.E, dtype=float).reshape(-1)
        m = self.E.size
        if m == 0:
            raise InputError(f"{src}: needs at least one level, got none")
        ints = {}
        for name, lowest in (("n", 1), ("l", 0)):
            raw = np.asarray(getattr(self, name), dtype=float).reshape(-1)
            if raw.size != m:
                raise InputError(f"{src}: column {name!r} has {raw.size} values, expected {m}")
            for i, x in enumerate(raw):
                if not math.isfinite(x) or x != round(x) or x < lowest:
                    raise InputError(f"{src}: row {i + 1}: {name} must be an integer >= {lowest}, got {x:g}")
            ints[name] = raw.astype(int)
        self.n, self.l = ints["n"], ints["l"]
        if not np.all(np.isfinite(self.E)):
            raise InputError(f"{src}: column 'E' must be finite")
        for name in ("error", "width", "width_error"):
            val = getattr(self, name)
            if val is None:
                continue
            val = np.asarray(val, dtype=float).reshape(-1)
            if val.size != m or not np.all(np.isfinite(val)):
                raise InputError(f"{src}: column {name!r} must have {m} finite values")
            bad = np.flatnonzero(val < 0 if name == "width" else val <= 0)
            if bad.size:
                allowed = ">= 0" if name == "width" else "> 0"
                raise InputError(f"{src}: row {bad[0] + 1}: {name} must be {allowed}, got {val[bad[0]]:g}")
            setattr(self, name, val)
        if self.width_error is not None and self.width is None:
            raise InputError(f"{src}: column 'width_error' needs a 'width' column")
        seen: dict[tuple[int, int], int] = {}
        for i, key in enumerate(zip(self.n.tolist(), self.l.tolist())):
            if key in seen:
                raise InputError(f"{src}: rows {seen[key] + 1} and {i + 1} both give the level n={key[0]}, l={key[1]}")
            seen[key] = i
        for l in np.unique(self.l):
            idx = np.flatnonzero(self.l == l)
            idx = idx[np.argsort(self.n[idx])]
            e = self.E[idx]
            if np.any(np.diff(e) <= 0):
                k = int(np.flatnonzero(np.diff(e) <= 0)[0])
                raise InputError(f"{src}: for l={l} the energy must increase with n, but E(n={self.n[idx[k]]})="
                                 f"{e[k]:g} >= E(n={self.n[idx[k + 1]]})={e[k + 1]:g}")

    def __len__(self) -> int:
        return self.E.size

    @property
    def ls(self) -> tuple[int, ...]:
        return tuple(int(l) for l in np.unique(self.l))

    @property
    def energy_scale(self) -> float:
        """ε = E_max − E_min (0 for a single distinct energy)."""
        return float(self.E.max() - self.E.min())


def length_scale(levels: Levels, mass: float) -> float | None:
    """Box estimate L = π (n + l)_max / sqrt(2 μ ε): the size of a well whose levels span ε.

    None when all levels have the same energy (no scale can be read off the data).
    """
    eps = levels.energy_scale
    if eps <= 0:
        return None
    return math.pi * float((levels.n + levels.l).max()) / math.sqrt(2.0 * mass * eps)


def suggest_r_max(levels: Levels, mass: float) -> float:
    """Default box size r_max = 4 L (:func:`length_scale`), room for the highest level's tail."""
    length = length_scale(levels, mass)
    if length is None:
        raise InputError(f"{levels.source}: all levels have the same energy, so no length scale follows from "
                         "them; give --r-max")
    return 4.0 * length


def probed_range(r: np.ndarray, u: np.ndarray, fraction: float = PROBE_FRACTION) -> tuple[float, float]:
    """[r_lo, r_hi] where the summed density Σ_states u²(r) is ≥ ``fraction`` of its maximum.

    ``u`` is [..., N] (any number of states, all summed).  Since ∂E/∂V(r) = u²(r) (Hellmann–Feynman),
    this is where the levels are sensitive to V.  A fit reports the median over ensemble members.
    """
    rho = np.asarray(u, dtype=float).reshape(-1, np.asarray(r).size) ** 2
    rho = rho.sum(0)
    if not np.all(np.isfinite(rho)) or rho.max() <= 0:
        raise NaNError("the wavefunctions are not finite; no probed range")
    inside = np.flatnonzero(rho >= fraction * rho.max())
    return float(r[inside[0]]), float(r[inside[-1]])


class EnsembleMLP(torch.nn.Module):
    """K independent tanh MLPs ℝ → ℝ^C with batched weights: input [N] → output [K, N, C]."""

    def __init__(self, members: int, hidden: tuple[int, ...] = (32, 32), outputs: int = 1, *,
                 generator: torch.Generator, dtype=torch.float64):
        super().__init__()
        sizes = (1, *hidden, outputs)
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = j == len(sizes) - 2
            std = (0.1 if last else 1.0) / math.sqrt(a)
            w = torch.randn(members, a, b, generator=generator, dtype=dtype) * std
            bias = (torch.randn(members, 1, b, generator=generator, dtype=dtype) if j == 0
                    else torch.zeros(members, 1, b, dtype=dtype))
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(bias))

    @property
    def members(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(1, -1, 1).expand(self.members, -1, 1)
        for j, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if j < len(self.weights) - 1:
                h = torch.tanh(h)
        return h


class NeuralPotential(torch.nn.Module):
    """Ensemble of potentials V_k(r) = offset + scale·MLP_k(x)[0] and, when ``complex_``,
    V_I,k(r) = −width_scale·softplus(MLP_k(x)[1]) ≤ 0, with x = (r/length)² if ``regular``
    (a smooth function of r², V'(0) = 0 built in) else x = r/length."""

    def __init__(self, members: int, *, length: float, offset: float, scale: float, complex_: bool = False,
                 width_scale: float = 1.0, hidden: tuple[int, ...] = (32, 32), generator: torch.Generator,
                 regular: bool = True, dtype=torch.float64):
        super().__init__()
        self.regular = bool(regular)
        self.length, self.offset, self.scale = float(length), float(offset), float(scale)
        self.complex_, self.width_scale = bool(complex_), float(width_scale)
        self.net = EnsembleMLP(members, hidden, 2 if complex_ else 1, generator=generator, dtype=dtype)

    def forward(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = r / self.length
        out = self.net(x * x if self.regular else x)
        v = self.offset + self.scale * out[..., 0]
        w = -self.width_scale * F.softplus(out[..., 1]) if self.complex_ else None
        return v, w


@dataclass
class PotentialFit:
    """An ensemble fit.  Arrays are NumPy float64; members that failed (non-finite, or a fitted state
    held by the box wall) are excluded from the band and listed in ``failed``.  Band = mean ± std over the finite members."""

    r: np.ndarray
    V_members: np.ndarray
    W_members: np.ndarray | None
    levels: Levels
    E_fit: np.ndarray                      # [K, len(levels)]
    width_fit: np.ndarray | None           # [K, len(levels)]
    chi2: np.ndarray                       # [K] data term of the loss
    probed: tuple[float, float]
    mass: float
    r_max: float
    discretisation_error: float            # max |E(h) − E(h/2)| over members and levels
    failed: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    band: str = "mean ± std over ensemble members"
    settings: dict = field(default_factory=dict)
    losses: np.ndarray | None = None       # [epochs] total loss per epoch

    @property
    def good(self) -> np.ndarray:
        mask = np.ones(self.V_members.shape[0], dtype=bool)
        mask[self.failed] = False
        return mask

    def _band(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = a[self.good]
        mean, std = a.mean(0), a.std(0, ddof=1) if a.shape[0] > 1 else np.zeros(a.shape[1])
        return mean, mean - std, mean + std

    @property
    def V(self):
        return self._band(self.V_members)

    @property
    def W(self):
        return None if self.W_members is None else self._band(self.W_members)

    def level_table(self) -> dict[str, np.ndarray]:
        """Per level: n, l, E, E_fit (mean), E_fit_std [, width, width_fit, width_fit_std]."""
        g = self.good
        t = {"n": self.levels.n, "l": self.levels.l, "E": self.levels.E,
             "E_fit": self.E_fit[g].mean(0), "E_fit_std": self.E_fit[g].std(0)}
        if self.width_fit is not None:
            t.update(width=self.levels.width, width_fit=self.width_fit[g].mean(0),
                     width_fit_std=self.width_fit[g].std(0))
        return t


def _second_difference_penalty(y: torch.Tensor, dx: float) -> torch.Tensor:
    """∫ (y'')² dx over the grid, per member: Σ ((y_{i+1} − 2y_i + y_{i−1})/dx²)² dx."""
    d2 = (y[..., 2:] - 2.0 * y[..., 1:-1] + y[..., :-2]) / dx**2
    return (d2**2).sum(-1) * dx



def fit_potential(levels: Levels, *, mass: float, r_max: float | None = None, grid_points: int = 160,
                  ensemble: int = 8, epochs: int = 1500, lr: float = 1e-2, smoothness: float = 1e-3,
                  tolerance: float = 1e-3, polish: float = 0.2, hidden: tuple[int, ...] = (32, 32),
                  origin: str = "regular", seed: int = 0, device: str | torch.device = "cpu",
                  progress: bool = True) -> PotentialFit:
    """Fit an ensemble of neural potentials to ``levels`` (see the module docstring for the loss).

    ``origin``: "regular" (V a smooth function of r², V'(0) = 0) or "free" (any V, for Coulomb-like
    singular potentials).  ``r_max`` defaults to :func:`suggest_r_max`; the solver uses the fd4 stencil on
    ``grid_points`` interior points.  Optimiser: Adam with a cosine learning-rate decay from ``lr`` to
    lr/100 for (1 − ``polish``)·epochs steps, then L-BFGS (strong Wolfe line search) for the remaining
    ``polish``·epochs loss evaluations, all members at once (their losses are summed; they share no weights).
    Deterministic for a fixed ``seed`` on CPU (initialisation and resampling use a CPU generator).
    """
    check_choice(origin, "--origin", ORIGINS)
    mass = check_real(mass, "--mass", low=0.0)
    r_max = suggest_r_max(levels, mass) if r_max is None else r_max
    r_max = check_real(r_max, "--r-max", low=0.0)
    check_positive_int(grid_points, "--grid-points", 20)
    check_positive_int(ensemble, "--ensemble", 2)
    check_positive_int(epochs, "--epochs", 1)
    check_positive_int(seed, "--seed", 0)
    for name, val in (("lr", lr), ("tolerance", tolerance)):
        check_real(val, name, low=0.0)
    if not (isinstance(polish, (int, float)) and 0 <= polish < 1):
        raise InputError(f"polish must be a number in [0, 1), got {polish!r}")
    check_real(smoothness, "smoothness", low=0.0, low_open=False)
    dev = resolve_device(device)
    gen = torch.Generator().manual_seed(seed)

    ls = levels.ls
    n_levels = int(levels.n.max())
    if n_levels > grid_points // 4:
        raise InputError(f"--grid-points {grid_points} is too coarse for level n={n_levels}; "
                         f"use at least {4 * n_levels}")
    eps = levels.energy_scale
    length = length_scale(levels, mass) or r_max / 4.0
    scale = eps if eps > 0 else max(abs(float(levels.E[0])), 1.0)
    has_w = levels.width is not None
    gam = float(levels.width.max()) if has_w else 1.0
    gam = gam if gam > 0 else scale * tolerance

    k = ensemble
    sigma = levels.error if levels.error is not None else np.full(len(levels), tolerance * scale)
    targets = np.broadcast_to(levels.E, (k, len(levels))).copy()
    if levels.error is not None:
        targets += sigma * torch.randn(k, len(levels), generator=gen, dtype=torch.float64).numpy()
    if has_w:
        sigma_w = levels.width_error if levels.width_error is not None else np.full(len(levels), tolerance * gam)
        w_targets = np.broadcast_to(levels.width, (k, len(levels))).copy()
        if levels.width_error is not None:
            w_targets += sigma_w * torch.randn(k, len(levels), generator=gen, dtype=torch.float64).numpy()

    model = NeuralPotential(k, length=length, offset=float(levels.E.min()), scale=scale, complex_=has_w,
                            width_scale=gam, hidden=hidden, generator=gen, regular=origin == "regular").to(dev)
    r, h = radial_grid(r_max, grid_points, device=dev)
    li = torch.tensor([ls.index(int(l)) for l in levels.l], device=dev)
    ni = torch.tensor(levels.n - 1, device=dev)
    as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64, device=dev)  # noqa: E731
    t_e, s_e = as_t(targets), as_t(sigma)
    if has_w:
        t_w, s_w = as_t(w_targets), as_t(sigma_w)
    dx = h / length
    # per-member smoothness weights, log-spaced over [λ/10, 10λ]: the band also shows the prior's pull
    lam = smoothness * torch.logspace(-1.0, 1.0, k, dtype=torch.float64, device=dev) if k > 1 else \
        torch.full((1,), float(smoothness), dtype=torch.float64, device=dev)

    def member_losses(with_penalty: bool = True):
        v, w = model(r)
        finite = torch.isfinite(v).all(-1) & (torch.isfinite(w).all(-1) if has_w else True)
        v = torch.where(finite[:, None], v, torch.zeros_like(v))
        if has_w:
            w = torch.where(finite[:, None], w, torch.zeros_like(w))
        spec = solve_levels(v, r, h, mass, ls, n_levels, "fd4")
        e_pred = spec.energies[:, li, ni]
        chi2 = (((e_pred - t_e) / s_e) ** 2).sum(-1)
        if has_w:  # ψ detached: V_R answers to the energies, V_I to the widths (first order in V_I)
            gam_pred = widths(spec.wavefunctions.detach(), w, h)[:, li, ni]
            chi2 = chi2 + (((gam_pred - t_w) / s_w) ** 2).sum(-1)
        loss = chi2
        if with_penalty:  # the fitted states must be bound by V, not by the box: 1 % at the wall costs 10 in χ²
            outer = spec.wavefunctions[:, li, ni][..., r > 0.9 * r_max]
            loss = loss + (outer ** 2).sum((-1, -2)) * h / WALL_TOLERANCE
        if with_penalty and smoothness > 0:
            loss = loss + lam * _second_difference_penalty(v / scale, dx)
            if has_w:
                loss = loss + lam * _second_difference_penalty(w / gam, dx)
        return loss, chi2, finite, spec, v, w

    params = list(model.parameters())
    n_adam = epochs - int(polish * epochs)
    history = np.full(epochs, np.nan)
    count = 0

    def closure():
        nonlocal count
        for p in params:
            p.grad = None
        loss, chi2, finite, *_ = member_losses()
        total = torch.where(finite & torch.isfinite(loss), loss, torch.zeros_like(loss)).sum()
        total.backward()
        for p in params:  # a failed member's NaN gradient must not reach the others (L-BFGS mixes them)
            torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        if count < epochs:
            history[count] = float(total.detach())
        count += 1
        if count % 25 == 0 or count == epochs:
            bar.update(task, completed=min(count, epochs),
                       status=f"χ²/level {float(chi2.detach().median()) / len(levels):.3g}")
        return total

    with progress_bar(progress) as bar:
        task = bar.add_task("fitting potential", total=epochs, status="")
        opt = torch.optim.Adam(params, lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(n_adam, 1), eta_min=lr / 100)
        for _ in range(n_adam):
            opt.step(closure)
            sched.step()
        if epochs - n_adam > 0:  # quasi-Newton polish: the loss valley is narrow for Adam
            lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=epochs - n_adam, max_eval=epochs - n_adam,
                                      tolerance_grad=0.0, tolerance_change=0.0, history_size=20,
                                      line_search_fn="strong_wolfe")
            lbfgs.step(closure)
        bar.update(task, completed=epochs)

    with torch.no_grad():
        _, chi2, finite, spec, v, w = member_losses(with_penalty=False)
        failed = [int(i) for i in torch.nonzero(~(finite & torch.isfinite(chi2))).flatten()]
        e_fit = spec.energies[:, li, ni]
        wf = spec.wavefunctions[:, li, ni]                      # [K, M, N]
        # a member that fits a level with a state held by the box wall (a spurious well outside the
        # probed range) has not found a potential for these levels: it is left out of the band
        edge = (torch.nan_to_num(wf[..., r > 0.9 * r_max]) ** 2).sum(-1).amax(-1) * h
        walled = [i for i in torch.nonzero(edge > 1e-2).flatten().tolist() if i not in failed]
        failed = sorted(failed + walled)
        if k - len(failed) < 2:
            raise NaNError(f"{len(failed)} of {k} ensemble members gave non-finite potentials or levels, or "
                           "states held by the box wall; no band can be formed (try another --seed, more "
                           "--epochs or a larger --r-max)")
        good = torch.ones(k, dtype=torch.bool, device=dev)
        good[failed] = False
        # discretisation check: the same networks on a grid twice as fine
        r2, h2 = radial_grid(r_max, 2 * grid_points + 1, device=dev)
        v2, w2 = model(r2)
        spec2 = solve_levels(torch.where(good[:, None], v2, 0.0), r2, h2, mass, ls, n_levels, "fd4")
        disc = float((spec2.energies[:, li, ni] - e_fit)[good].abs().max())
        leak = float((wf[good][..., r > 0.9 * r_max] ** 2).sum(-1).max() * h)

    notes = []
    if walled:
        notes.append(f"members {walled} bind a fitted state at the box wall (a spurious outer well); "
                     "left out of the band")
    if disc > 0.3 * float(np.min(sigma)):
        notes.append(f"discretisation error {disc:.2g} is not small against the level errors/tolerance "
                     f"{float(np.min(sigma)):.2g}; increase --grid-points")
    if leak > 1e-4:
        notes.append(f"a fitted state has probability {leak:.2g} in the outer 10% of the box; increase --r-max")
    pulls = np.sqrt(chi2.cpu().numpy() / (len(levels) * (2 if has_w else 1)))
    poor = np.flatnonzero((pulls > 3.0) & good.cpu().numpy())
    if poor.size:
        notes.append(f"members {poor.tolist()} fit the levels poorly "
                     "(rms pull > 3); increase --epochs")

    r_np = r.cpu().numpy()
    ranges = np.array([probed_range(r_np, wf[i].cpu().numpy()) for i in range(k) if i not in failed])
    probed = (float(np.median(ranges[:, 0])), float(np.median(ranges[:, 1])))
    return PotentialFit(
        r=r_np, V_members=v.cpu().numpy(), W_members=None if w is None else w.cpu().numpy(), levels=levels,
        E_fit=e_fit.cpu().numpy(),
        width_fit=None if not has_w else widths(spec.wavefunctions, w, h)[:, li, ni].cpu().numpy(),
        chi2=chi2.cpu().numpy(), probed=probed, mass=mass, r_max=r_max, discretisation_error=disc,
        failed=failed, warnings=notes, losses=history,
        settings=dict(grid_points=grid_points, ensemble=ensemble, epochs=epochs, lr=lr, smoothness=smoothness,
                      tolerance=tolerance, polish=polish, hidden=tuple(hidden), seed=seed, length=length,
                      errors="given" if levels.error is not None else f"none (fit tolerance {tolerance:g}·ε)"),
    )
