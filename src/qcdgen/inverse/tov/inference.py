"""Fit a neural EoS to mass-radius observations by autodiff through the TOV solver.

Each observation i is a star (M_i ± σ_M,i, R_i ± σ_R,i).  Its misfit to a model M-R curve is the
profile χ² (a latent central pressure per star, profiled out):

    χ²_i = min over the stable branch of  ((M - M_i)/σ_M,i)² + ((R - R_i)/σ_R,i)²,

evaluated exactly on the polyline through the computed stars (closest point on each segment),
so it is piecewise smooth in the EoS parameters.  The loss of one fit is Σ_i χ²_i plus a mild
smoothness prior ``smoothness · ∫ (dc_s²/dx)² dx`` on the sound speed (x ∈ [0, 1] is the scaled
ln ε of :class:`~qcdgen.inverse.tov.eos.NeuralEoS`).

Uncertainty (parametric bootstrap + random restarts): every ensemble member gets its own random
initialisation and its own resampled data M_i + σ_M,i ξ, R_i + σ_R,i ξ' (ξ ~ N(0, 1)); the spread
of the members' P(ε), M-R curves and M_max is reported as quantile bands (default 16-84 %, with
the median as central value).  All members train together in one batched forward pass; a member
that produces a non-finite loss is frozen and reported, never averaged.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from qcdgen.errors import InputError, NaNError
from qcdgen.inverse.tov.eos import NeuralEoS
from qcdgen.inverse.tov.solver import mass_radius_curve
from qcdgen.runtime import make_generator, progress_bar, resolve_device

__all__ = ["Observations", "FitConfig", "EnsembleFit", "profile_chi2", "fit_ensemble", "quantile_band",
           "mass_radius_band"]


@dataclass
class Observations:
    """Mass-radius measurements: masses in M_sun, radii in km, 1σ errors (all arrays of one length)."""

    mass: np.ndarray
    mass_error: np.ndarray
    radius: np.ndarray
    radius_error: np.ndarray

    def __post_init__(self):
        for name in ("mass", "mass_error", "radius", "radius_error"):
            a = np.asarray(getattr(self, name), dtype=float).reshape(-1)
            if not np.all(np.isfinite(a)):
                raise InputError(f"{name} must be finite, got {a.tolist()}")
            setattr(self, name, a)
        n = self.mass.size
        if n < 1 or any(getattr(self, k).size != n for k in ("mass_error", "radius", "radius_error")):
            raise InputError("mass, mass_error, radius, radius_error must have the same length >= 1")
        for name in ("mass_error", "radius_error"):
            if np.any(getattr(self, name) <= 0):
                raise InputError(f"{name} must be > 0, got {getattr(self, name).tolist()}")
        if np.any((self.mass <= 0.1) | (self.mass >= 4.0)):
            raise InputError(f"mass must be in (0.1, 4) M_sun, got {self.mass.tolist()}")
        if np.any((self.radius <= 3.0) | (self.radius >= 30.0)):
            raise InputError(f"radius must be in (3, 30) km, got {self.radius.tolist()}")

    def __len__(self) -> int:
        return self.mass.size


@dataclass
class FitConfig:
    """Settings of :func:`fit_ensemble` (defaults: ~1-3 min for 8 members on one CPU core)."""

    epochs: int = 300
    lr: float = 0.02              # Adam, cosine-decayed to lr/20
    width: int = 16               # MLP width and depth (tanh)
    depth: int = 2
    smoothness: float = 1.0       # weight of ∫ (dc_s²/dx)² dx
    n_central: int = 24           # stars per curve during training (log-spaced in h_c)
    n_steps: int = 32             # RK4 steps per star during training (~1e-4 relative in M, R)
    h_lo: float = 0.05            # lowest central enthalpy (~0.3-0.6 M_sun)
    eps_match: float = 80.0       # crust-core matching energy density, MeV/fm³
    eps_max: float = 3000.0       # top of the EoS table, MeV/fm³
    n_grid: int = 300             # ε nodes of the neural EoS table
    cs2_init: float = 0.25        # c_s² at initialisation (sigmoid offset; weights are random)
    resample: bool = True         # parametric bootstrap of the observations per member
    final_central: int = 64       # stars per curve for the reported M-R curves
    final_steps: int = 120

    def validate(self) -> None:
        ints = {"epochs": 1, "width": 1, "depth": 1, "n_central": 4, "n_steps": 8, "n_grid": 16,
                "final_central": 4, "final_steps": 8}
        for name, lo in ints.items():
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise InputError(f"{name} must be an integer >= {lo}, got {v!r}")
        for name in ("lr", "smoothness", "h_lo", "eps_match", "eps_max", "cs2_init"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (v == 0 and name != "smoothness"):
                raise InputError(f"{name} must be a finite number > 0, got {v!r}")


@dataclass
class EnsembleFit:
    """Per-member results of :func:`fit_ensemble` (failed members already removed).

    ``energy_density`` is the common ε grid (MeV/fm³) of the core; ``pressure`` and ``cs2`` are
    [members, grid].  ``mass``/``radius`` are [members, final_central] M-R curves (NaN where a star
    failed) with ``stable`` marking the branch up to the maximum mass; ``eps_c_max`` is the central
    energy density of each member's heaviest star, the top of the density range its stars probe.
    """

    energy_density: np.ndarray
    pressure: np.ndarray
    cs2: np.ndarray
    mass: np.ndarray
    radius: np.ndarray
    stable: np.ndarray
    m_max: np.ndarray
    r_at_m_max: np.ndarray
    eps_c_max: np.ndarray
    m_max_at_edge: np.ndarray
    chi2: np.ndarray
    members: np.ndarray                       # indices of the surviving members
    failed: list[tuple[int, str]] = field(default_factory=list)
    history: np.ndarray | None = None        # [epochs, members] loss, NaN after a member failed
    observations: Observations | None = None


def profile_chi2(mass: torch.Tensor, radius: torch.Tensor, stable: torch.Tensor, m_obs, sm, r_obs, sr) -> torch.Tensor:
    """χ² of each observation to the closest point of the stable M-R polyline.

    ``mass, radius, stable``: [K, n] curves; observations [K, n_obs] (or [n_obs]).  Returns [K, n_obs];
    +inf where a curve has no stable segment.
    """
    u = (mass.unsqueeze(-2) - m_obs.unsqueeze(-1)) / sm.unsqueeze(-1)    # [K, n_obs, n]
    v = (radius.unsqueeze(-2) - r_obs.unsqueeze(-1)) / sr.unsqueeze(-1)
    au, av = u[..., :-1], v[..., :-1]
    bu, bv = u[..., 1:] - au, v[..., 1:] - av
    t = (-(au * bu + av * bv) / (bu * bu + bv * bv).clamp_min(1e-30)).clamp(0, 1)
    d2 = (au + t * bu) ** 2 + (av + t * bv) ** 2
    valid = (stable[..., :-1] & stable[..., 1:]).unsqueeze(-2)
    d2 = torch.where(valid, torch.nan_to_num(d2, nan=math.inf), math.inf)
    return d2.min(-1).values


def _smoothness(cs2: torch.Tensor) -> torch.Tensor:
    dx = 1.0 / (cs2.shape[-1] - 1)
    return ((cs2[..., 1:] - cs2[..., :-1]) ** 2).sum(-1) / dx


def fit_ensemble(obs: Observations, *, members: int = 8, config: FitConfig | None = None, seed: int = 0,
                 device: str = "cpu", progress: bool = True, min_members: int | None = None) -> EnsembleFit:
    """Train ``members`` neural EoSs on (resampled) observations; see the module docstring.

    Deterministic for a fixed ``seed`` on CPU.  Members with a non-finite loss or final curve are
    dropped with a warning if at least ``min_members`` (default max(2, ceil(members/2))) remain;
    otherwise :class:`~qcdgen.errors.NaNError` names the failed members.
    """
    cfg = config or FitConfig()
    cfg.validate()
    if not isinstance(obs, Observations):
        raise InputError(f"obs must be an Observations, got {type(obs).__name__}")
    if not isinstance(members, int) or isinstance(members, bool) or members < 2:
        raise InputError(f"ensemble must be an integer >= 2 (bands need several members), got {members!r}")
    min_members = max(2, math.ceil(members / 2)) if min_members is None else min_members
    dev = resolve_device(device)
    gen = make_generator(seed, torch.device("cpu"))
    f64 = dict(dtype=torch.float64, device=dev)
    m_obs, sm, r_obs, sr = (torch.as_tensor(a, **f64).expand(members, -1).clone()
                            for a in (obs.mass, obs.mass_error, obs.radius, obs.radius_error))
    if cfg.resample:
        m_obs = m_obs + sm * torch.randn(m_obs.shape, generator=gen, dtype=torch.float64).to(dev)
        r_obs = r_obs + sr * torch.randn(r_obs.shape, generator=gen, dtype=torch.float64).to(dev)
    model = NeuralEoS(members, width=cfg.width, depth=cfg.depth, eps_match=cfg.eps_match, eps_max=cfg.eps_max,
                      n_grid=cfg.n_grid, seed=seed, cs2_init=cfg.cs2_init).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs, eta_min=cfg.lr / 20)
    alive = torch.ones(members, dtype=torch.bool, device=dev)
    failed: list[tuple[int, str]] = []
    history = np.full((cfg.epochs, members), np.nan)
    with progress_bar(progress) as bar:
        task = bar.add_task("TOV ensemble fit", total=cfg.epochs, status="")
        for epoch in range(cfg.epochs):
            opt.zero_grad(set_to_none=False)
            eos = model()
            curve = mass_radius_curve(eos, cfg.h_lo, None, cfg.n_central, n_steps=cfg.n_steps)
            chi2 = profile_chi2(curve.mass, curve.radius, curve.stable, m_obs, sm, r_obs, sr).sum(-1)
            loss = chi2 + cfg.smoothness * _smoothness(model.cs2())
            bad = alive & ~torch.isfinite(loss)
            for k in torch.nonzero(bad).flatten().tolist():
                failed.append((k, f"non-finite loss at epoch {epoch}"))
            alive = alive & ~bad
            if not bool(alive.any()):
                break
            torch.where(alive, loss, 0.0).sum().backward()
            for p in model.parameters():   # parameters are [members, ...]: freeze the failed ones
                p.grad[~alive] = 0.0
            opt.step()
            sched.step()
            history[epoch] = np.where(alive.cpu().numpy(), loss.detach().cpu().numpy(), np.nan)
            bar.update(task, advance=1, status=f"median loss {float(loss.detach()[alive].median()):.3g}")
    with torch.no_grad():
        eos = model()
        curve = mass_radius_curve(eos, cfg.h_lo, None, cfg.final_central, n_steps=cfg.final_steps)
        chi2 = profile_chi2(curve.mass, curve.radius, curve.stable, m_obs, sm, r_obs, sr).sum(-1)
        eps_c = eos.evaluate(curve.h_c_max.unsqueeze(-1)).energy_density.squeeze(-1)
        cs2 = model.cs2()
        p_grid = eos.p_tab[..., eos.n_crust:]
    finite = (torch.isfinite(chi2) & torch.isfinite(curve.m_max) & torch.isfinite(eps_c)
              & torch.isfinite(p_grid).all(-1))
    for k in torch.nonzero(alive & ~finite).flatten().tolist():
        failed.append((k, "non-finite final M-R curve"))
    keep = (alive & finite).cpu().numpy()
    if keep.sum() < min_members:
        raise NaNError(f"{members - int(keep.sum())} of {members} ensemble members failed "
                       f"({'; '.join(f'member {k}: {why}' for k, why in failed)}); fewer than {min_members} "
                       f"remain. Try another --seed, more --epochs or check the observations")
    if failed:
        warnings.warn(f"dropped {len(failed)} failed ensemble member(s): "
                      + "; ".join(f"member {k}: {why}" for k, why in failed), RuntimeWarning, stacklevel=2)
    edge = curve.max_at_edge.cpu().numpy()[keep]
    if edge.any():
        warnings.warn(f"{int(edge.sum())} member(s) reach the top of the EoS table (eps_max={cfg.eps_max} MeV/fm³) "
                      "before their maximum mass: their M_max is a lower bound", RuntimeWarning, stacklevel=2)
    np_ = lambda t: t.detach().cpu().numpy()[keep]  # noqa: E731
    return EnsembleFit(
        energy_density=model.energy_density.cpu().numpy(), pressure=np_(p_grid), cs2=np_(cs2),
        mass=np_(curve.mass), radius=np_(curve.radius), stable=np_(curve.stable), m_max=np_(curve.m_max),
        r_at_m_max=np_(curve.r_at_m_max), eps_c_max=np_(eps_c), m_max_at_edge=edge, chi2=np_(chi2),
        members=np.nonzero(keep)[0], failed=failed, history=history, observations=obs)


def quantile_band(values: np.ndarray, q: tuple[float, float] = (0.16, 0.84)
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, median, high) quantiles over the first axis (members), ignoring NaN entries.

    Columns with fewer than two finite members give NaN.
    """
    v = np.asarray(values, dtype=float)
    n = np.isfinite(v).sum(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, med, hi = (np.nanquantile(v, x, axis=0) for x in (q[0], 0.5, q[1]))
    bad = n < 2
    for a in (lo, med, hi):
        a[bad] = np.nan
    return lo, med, hi


def mass_radius_band(fit: EnsembleFit, mass_grid: np.ndarray, q: tuple[float, float] = (0.16, 0.84)):
    """Radius quantiles at fixed masses over the members' stable branches.

    Returns (r_lo, r_median, r_hi, n_members); a member contributes at masses up to its own M_max.
    """
    mass_grid = np.asarray(mass_grid, dtype=float)
    radii = np.full((fit.mass.shape[0], mass_grid.size), np.nan)
    for k in range(fit.mass.shape[0]):
        sel = fit.stable[k] & np.isfinite(fit.mass[k]) & np.isfinite(fit.radius[k])
        m, r = fit.mass[k][sel], fit.radius[k][sel]
        rising = np.concatenate([[True], np.diff(m) > 0])   # strictly increasing for np.interp
        m, r = m[rising], r[rising]
        if m.size < 2:
            continue
        inside = (mass_grid >= m[0]) & (mass_grid <= m[-1])
        radii[k, inside] = np.interp(mass_grid[inside], m, r)
    lo, med, hi = quantile_band(radii, q)
    return lo, med, hi, np.isfinite(radii).sum(0)
