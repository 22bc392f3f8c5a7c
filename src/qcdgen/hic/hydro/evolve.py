"""Boost-invariant (2+1)D second-order viscous hydrodynamics in Milne coordinates: the driver.

Equations (see :mod:`.state`, :mod:`.viscous`):

    ∂_τ(τT^{ττ}) + ∂_x(τT^{xτ}) + ∂_y(τT^{yτ}) = −(p + τ²π^{ηη}),
    ∂_τ(τT^{τi}) + ∂_x(τT^{xi}) + ∂_y(τT^{yi}) = 0,                 i = x, y,
    conformal Israel–Stewart relaxation of π^{xx}, π^{xy}, π^{yy}  (:mod:`.viscous`),

discretised with the Kurganov–Tadmor central scheme (:mod:`.kt`) and Heun's method (SSP-RK2).
The time step is Δτ = cfl·Δx (cfl = 0.2 by default; a user Δτ above Δx/4, the 2-D CFL limit of
second-order KT with Heun for signal speeds ≤ 1, is refused), shortened to hit the save times
and, for viscous runs, to at most half the smallest τ_π at τ0 (explicit relaxation).
∂_τu^μ in σ^{μν}, θ is the one-sided 3-point (second-order) difference over the last two steps.
Validated against Gubser (ideal and Marrochio et al. IS), Bjorken (ideal, Navier–Stokes limit,
IS) and exact energy–momentum conservation (``coordinates="cartesian"``): tests/test_hydro_*.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qcdgen.errors import InputError, NaNError
from qcdgen.hic.hydro.eos import get_eos

__all__ = ["evolve", "HydroResult", "HydroBlowUp", "MAX_CFL", "DEFAULT_CFL", "cell_centers"]

MAX_CFL = 0.25
DEFAULT_CFL = 0.2


class HydroBlowUp(InputError, NaNError):
    """The evolution produced NaN/inf or a negative energy density (event index and τ attached)."""

    def __init__(self, message: str, event: int, tau: float):
        super().__init__(message)
        self.event, self.tau = event, tau


@dataclass
class HydroResult:
    """Saved time slices of a hydro run (NumPy float64).

    ``e`` [nt, (batch,) nx, ny] in GeV/fm³; ``ux``, ``uy`` the transverse four-velocity; ``pi``
    [nt, (batch,) nx, ny, 7] the shear tensor in GeV/fm³ with components in the order
    :data:`PI_COMPONENTS` = (π^{ττ}, π^{τx}, π^{τy}, π^{xx}, π^{xy}, π^{yy}, τ²π^{ηη}) (zeros for
    ideal runs); ``x``, ``y`` cell centres (fm); ``dtau`` the base step; ``tau_stop`` where the run
    ended (< tau_end when ``stop_T`` stopped it); ``regulated_cells`` how many cell-steps had
    their shear rescaled because √(π_{μν}π^{μν}) exceeded √(e² + 3p²), ``dilute_cells`` how many
    only by the near-vacuum bound 30 tanh(e/ε_s) of :func:`~.viscous.regulate_shear`;
    ``eos`` the EoS object (``.pressure``,
    ``.temperature``); ``T``, ``p``, ``ut`` derived slices.
    """

    tau: np.ndarray
    e: np.ndarray
    ux: np.ndarray
    uy: np.ndarray
    pi: np.ndarray
    x: np.ndarray
    y: np.ndarray
    dx: float
    dtau: float
    steps: int
    eta_s: object                      # float, or an EtaOverS (η/s)(T)
    eos: object = field(repr=False)
    tau_stop: float = float("nan")
    regulated_cells: int = 0
    dilute_cells: int = 0

    @property
    def T(self) -> np.ndarray:
        """Temperature in GeV on the saved slices."""
        return np.asarray(self.eos.temperature(self.e))

    @property
    def p(self) -> np.ndarray:
        """Pressure in GeV/fm³ on the saved slices."""
        return np.asarray(self.eos.pressure(self.e))

    def eta_s_at(self, T) -> np.ndarray:
        """η/s at temperature(s) T (GeV): the constant, or the (η/s)(T) curve of the run."""
        T = np.asarray(T, float)
        return self.eta_s(T) if callable(self.eta_s) else np.full_like(T, self.eta_s)

    @property
    def ut(self) -> np.ndarray:
        return np.sqrt(1.0 + self.ux ** 2 + self.uy ** 2)

    @property
    def pi_components(self) -> tuple:
        from qcdgen.hic.hydro.state import PI_COMPONENTS
        return PI_COMPONENTS


def cell_centers(n: int, dx: float) -> np.ndarray:
    """x_i = (i − (n − 1)/2) Δx, the grid convention of :func:`evolve`."""
    return (np.arange(n) - 0.5 * (n - 1)) * dx


def _real(value, name, *, positive=False, minimum=None):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v):
        raise InputError(f"{name} must be a finite real number, got {value!r}")
    if positive and v <= 0:
        raise InputError(f"{name} must be > 0, got {v:g}")
    if minimum is not None and v < minimum:
        raise InputError(f"{name} must be >= {minimum:g}, got {v:g}")
    return v


def _field(arr, name, shape=None):
    import torch
    a = arr.detach().cpu().numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr, dtype=float)
    a = np.asarray(a, dtype=np.float64)
    if shape is None and a.ndim not in (2, 3):
        raise InputError(f"{name} must have shape [nx, ny] or [batch, nx, ny], got {a.shape}")
    if shape is not None and a.shape != shape:
        raise InputError(f"{name} must have the shape of e0 {shape}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or inf ({int((~np.isfinite(a)).sum())} cells); only finite values allowed")
    return a


def _check_inputs(e0, ux0, uy0, pi0, dx, tau0, tau_end, eta_s, tau_pi_factor, dtau, cfl, limiter):
    from qcdgen.hic.hydro.kt import LIMITERS
    e = _field(e0, "e0")
    if e.shape[-1] < 3 or e.shape[-2] < 3:
        raise InputError(f"e0 needs at least 3 x 3 cells, got {e.shape[-2:]}")
    if (e < 0).any():
        raise InputError(f"e0 (energy density) must be >= 0 everywhere, got min {e.min():g} GeV/fm^3")
    if e.max() <= 0:
        raise InputError("e0 (energy density) is zero everywhere; nothing to evolve")
    ux = np.zeros_like(e) if ux0 is None else _field(ux0, "ux0", e.shape)
    uy = np.zeros_like(e) if uy0 is None else _field(uy0, "uy0", e.shape)
    pis = None
    if pi0 is not None:
        want = e.shape[:-2] + (3,) + e.shape[-2:]
        pis = _field(pi0, "pi0", want)
    dx = _real(dx, "dx (fm)", positive=True)
    tau0 = _real(tau0, "tau0 (fm)", positive=True)
    tau_end = _real(tau_end, "tau_end (fm)", positive=True)
    if tau_end <= tau0:
        raise InputError(f"tau_end must be > tau0 = {tau0:g} fm, got {tau_end:g}")
    if callable(eta_s):                 # (η/s)(T), e.g. :class:`~qcdgen.hic.hydro.initial.EtaOverS`
        if not hasattr(eta_s, "minimum"):
            raise InputError("a temperature-dependent eta_s must be an EtaOverS (needs .minimum)")
    else:
        eta_s = _real(eta_s, "eta_s", minimum=0.0)
    tau_pi_factor = _real(tau_pi_factor, "tau_pi_factor", positive=True)
    cfl = _real(cfl, "cfl", positive=True)
    if cfl > MAX_CFL:
        raise InputError(f"cfl must be <= {MAX_CFL} (2-D KT + Heun stability), got {cfl:g}")
    if dtau is not None:
        dtau = _real(dtau, "dtau (fm)", positive=True)
        if dtau > MAX_CFL * dx * (1 + 1e-12):
            raise InputError(f"dtau = {dtau:g} fm violates the CFL condition dtau <= {MAX_CFL} * dx = "
                             f"{MAX_CFL * dx:g} fm")
    if limiter not in LIMITERS:
        raise InputError(f"limiter must be one of {sorted(LIMITERS)}, got {limiter!r}")
    return e, ux, uy, pis, dx, tau0, tau_end, eta_s, tau_pi_factor, dtau, cfl


def _save_times(save_taus, tau0, tau_end):
    if save_taus is None:
        return [tau0, tau_end]
    try:
        ts = np.atleast_1d(np.asarray(save_taus, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"save_taus must be a list of times in fm, got {save_taus!r}") from None
    if ts.size == 0 or not np.all(np.isfinite(ts)):
        raise InputError(f"save_taus must be a non-empty list of finite times, got {save_taus!r}")
    if ts.min() < tau0 - 1e-12 or ts.max() > tau_end + 1e-12:
        raise InputError(f"save_taus must lie in [tau0, tau_end] = [{tau0:g}, {tau_end:g}] fm, "
                         f"got range [{ts.min():g}, {ts.max():g}]")
    return sorted(set(float(t) for t in ts))


def evolve(e0, ux0=None, uy0=None, *, dx, tau0, tau_end, eta_s=0.0, eos="conformal", save_taus=None,
           device="cpu", pi0=None, tau_pi_factor=5.0, dtau=None, cfl=DEFAULT_CFL, limiter="minmod",
           stop_T=None, e_floor_rel=1e-12, coordinates="milne", edge_tol=1e-2,
           dilute_e_scale=None, progress=False) -> HydroResult:
    """Evolve boost-invariant viscous hydro from τ0 to τ_end (or until max T < ``stop_T`` GeV).

    e0: [nx, ny] or [batch, nx, ny] energy density (GeV/fm³) on cell centres
    x_i = (i − (n−1)/2)·dx (fm); ux0, uy0: initial u^x, u^y (default 0); pi0: initial
    (π^{xx}, π^{xy}, π^{yy}) of shape [(batch,) 3, nx, ny] (default 0); eta_s: η/s, a number or
    a :class:`~qcdgen.hic.hydro.initial.EtaOverS` (η/s)(T);
    tau_pi_factor: b_π in τ_π = b_π η/(e + p); edge_tol: refuse an e0 whose grid-edge cells
    exceed this fraction of the event's maximum (grid too small for the nucleus; None: no check,
    e.g. for uniform Bjorken tests); coordinates: ``"milne"`` (boost-invariant) or
    ``"cartesian"`` (a 2+1-D fluid in t, x, y, no longitudinal expansion; "tau" is then t and
    nothing is weighted by τ, for conservation tests); dilute_e_scale: ε_s (GeV/fm³) of the
    near-vacuum shear bound (default :data:`~.viscous.DILUTE_E_SCALE`; MUSIC uses 0.0197; 0: off).
    Returns a :class:`HydroResult` with the slices
    at ``save_taus`` (default τ0 and τ_end; with ``stop_T`` the stopping slice is added).
    Raises :class:`HydroBlowUp` naming the event and τ if NaN or negative energy appears.
    """
    import torch

    from qcdgen.hic.hydro import kt, state, viscous
    from qcdgen.runtime import progress_bar, resolve_device

    eos_obj = get_eos(eos)
    if coordinates not in ("milne", "cartesian"):
        raise InputError(f"coordinates must be 'milne' or 'cartesian', got {coordinates!r}")
    milne = coordinates == "milne"
    e, ux, uy, pis, dx, tau0, tau_end, eta_s, bpi, dtau, cfl = _check_inputs(
        e0, ux0, uy0, pi0, dx, tau0, tau_end, eta_s, tau_pi_factor, dtau, cfl, limiter)
    if stop_T is not None:
        stop_T = _real(stop_T, "stop_T (GeV)", positive=True)
    e_floor_rel = _real(e_floor_rel, "e_floor_rel", positive=True)
    dilute_e_scale = (viscous.DILUTE_E_SCALE if dilute_e_scale is None
                      else _real(dilute_e_scale, "dilute_e_scale (GeV/fm^3)", minimum=0.0))
    saves = _save_times(save_taus, tau0, tau_end)
    if edge_tol is not None:
        ev = e if e.ndim == 3 else e[None]
        edge = np.concatenate([ev[:, 0, :], ev[:, -1, :], ev[:, :, 0], ev[:, :, -1]], axis=1).max(axis=1)
        frac = edge / np.maximum(ev.reshape(len(ev), -1).max(axis=1), 1e-300)
        if (frac > edge_tol).any():
            i = int(np.argmax(frac > edge_tol))
            raise InputError(f"grid too small for the nucleus: e0 on the grid edge is {frac[i]:.3g} of its "
                             f"maximum in event {i} (limit edge_tol={edge_tol:g}); enlarge nx*dx "
                             f"(now {ev.shape[-2] * dx:g} x {ev.shape[-1] * dx:g} fm)")
    dev = resolve_device(device)
    batched = e.ndim == 3
    if not batched:
        e, ux, uy = e[None], ux[None], uy[None]
        pis = None if pis is None else pis[None]
    nb, nx, ny = e.shape
    viscous_run = callable(eta_s) or eta_s > 0
    lim = kt.LIMITERS[limiter]
    tt = dict(dtype=torch.float64, device=dev)

    e_floor = e_floor_rel * float(e.max())
    cols = [np.maximum(e, e_floor), ux, uy]
    if viscous_run:
        cols += list(np.moveaxis(pis, 1, 0)) if pis is not None else [np.zeros_like(e)] * 3
    W = torch.as_tensor(np.stack(cols, axis=1), **tt)

    dt_base = cfl * dx if dtau is None else dtau
    if viscous_run:
        Tmax = float(eos_obj.temperature(e.max()))
        es_min = eta_s.minimum(Tmax) if callable(eta_s) else eta_s
        dt_base = min(dt_base, 0.5 * bpi * es_min / (Tmax / 0.1973269804))

    def swap_xy(A):
        idx = [0, 2, 1] + ([5, 4, 3] if A.shape[1] > 3 else [])
        return A[:, idx].transpose(-1, -2)

    def wt(tau):                                   # τ weight of the evolved variables
        return tau if milne else 1.0

    def rhs(W, tau, dtu):
        div = kt.kt_divergence_x(W, wt(tau), dx, eos_obj, lim, state.cons_flux_speed)
        div = div + swap_xy(kt.kt_divergence_x(swap_xy(W), wt(tau), dx, eos_obj, lim,
                                               state.cons_flux_speed))
        S = torch.zeros_like(div)
        p = eos_obj.pressure(W[:, 0])
        if viscous_run:
            _, _, _, pee = state.full_shear(W[:, 1], W[:, 2], W[:, 3], W[:, 4], W[:, 5])
            if milne:
                S[:, 0] = -(p + pee)
            S[:, 3:6] = viscous.shear_source(W, dtu, tau, dx, eos_obj, eta_s, bpi, milne=milne)
        elif milne:
            S[:, 0] = -p
        return S - div

    regulated = dilute = 0

    def to_prim(Q, tau, Wguess):
        nonlocal regulated, dilute
        Wn, vac = state.primitive(Q, wt(tau), eos_obj, Wguess[:, 1], Wguess[:, 2], e_floor=e_floor)
        fix = vac
        if viscous_run:
            Wn, scale, rho = viscous.regulate_shear(Wn, eos_obj, dilute_e_scale=dilute_e_scale)
            reg = scale < 1.0
            fix = fix | reg
            regulated += int((rho > 1.0).sum())
            dilute += int((reg & (rho <= 1.0)).sum())
        return Wn, fix

    def check(Q, tau):
        finite = torch.isfinite(Q).flatten(1).all(dim=1)
        q0 = Q[:, 0].flatten(1)
        neg = q0.min(dim=1).values < -1e-6 * q0.max(dim=1).values.abs()
        bad = (~finite) | neg
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            what = "NaN/inf" if not bool(finite[i]) else "negative energy density"
            raise HydroBlowUp(f"hydro blew up in event {i} at tau = {tau:.4f} fm ({what}); "
                              f"try a smaller dx/cfl or a smoother profile", i, tau)

    def u3(Wa):
        return (torch.sqrt(1 + Wa[:, 1] ** 2 + Wa[:, 2] ** 2), Wa[:, 1], Wa[:, 2])

    def dtu_of(hist):
        """∂_τ(u^τ, u^x, u^y) at the last of 2 or 3 (τ, u) points (one-sided, 1st/2nd order)."""
        if len(hist) == 2:
            (ta, ua), (tb, ub) = hist
            return tuple((b - a) / (tb - ta) for a, b in zip(ua, ub))
        (ta, ua), (tb, ub), (tc, uc) = hist
        h1, h2 = tb - ta, tc - tb
        ca, cb, cc = h2 / (h1 * (h1 + h2)), -(h1 + h2) / (h1 * h2), (2 * h2 + h1) / (h2 * (h1 + h2))
        return tuple(ca * a + cb * b + cc * c for a, b, c in zip(ua, ub, uc))

    def heun(Q, W, tau, dt, dtu0, hist):
        Q1 = Q + dt * rhs(W, tau, dtu0)
        check(Q1, tau + dt)
        W1, _ = to_prim(Q1, tau + dt, W)
        dtu1 = dtu_of(hist[-2:] + [(tau + dt, u3(W1))]) if viscous_run else None
        Q2 = 0.5 * (Q + Q1 + dt * rhs(W1, tau + dt, dtu1))
        check(Q2, tau + dt)
        W2, fix = to_prim(Q2, tau + dt, W1)
        if bool(fix.any()):
            Q2 = torch.where(fix.unsqueeze(1), state.conserved(W2, wt(tau + dt), eos_obj), Q2)
        return Q2, W2

    zero = torch.zeros_like(W[:, 0])
    Q = state.conserved(W, wt(tau0), eos_obj)
    tau, steps = tau0, 0
    out = {k: [] for k in ("tau", "e", "ux", "uy", "pi")}

    def save(W, tau):
        out["tau"].append(tau)
        out["e"].append(W[:, 0].cpu().numpy())
        out["ux"].append(W[:, 1].cpu().numpy())
        out["uy"].append(W[:, 2].cpu().numpy())
        if viscous_run:
            ptt, ptx, pty, pee = state.full_shear(W[:, 1], W[:, 2], W[:, 3], W[:, 4], W[:, 5])
            pi = torch.stack([ptt, ptx, pty, W[:, 3], W[:, 4], W[:, 5], pee], dim=-1)
        else:
            pi = torch.zeros(W.shape[0], nx, ny, 7, **tt)
        out["pi"].append(pi.cpu().numpy())

    pending = list(saves)
    if pending and abs(pending[0] - tau0) < 1e-12:
        save(W, tau0)
        pending.pop(0)
    dtu = (zero, zero, zero)
    hist = [(tau0, u3(W))] if viscous_run else []
    stopped = False
    n_est = int(math.ceil((tau_end - tau0) / dt_base))
    with progress_bar(progress) as bar:
        task = bar.add_task("hydro", total=n_est, status="")
        while pending and tau < tau_end - 1e-12:
            dt = min(dt_base, pending[0] - tau)
            if viscous_run:
                if steps == 0:                      # ∂_τu for the first step from a trial step
                    _, Wt = heun(Q, W, tau, dt, dtu, hist)
                    dtu = dtu_of(hist + [(tau + dt, u3(Wt))])
                else:
                    dtu = dtu_of(hist[-3:])
            Qn, Wn = heun(Q, W, tau, dt, dtu, hist)
            Q, W, tau, steps = Qn, Wn, tau + dt, steps + 1
            if viscous_run:
                hist = hist[-2:] + [(tau, u3(W))]
            bar.update(task, advance=1, status=f"tau={tau:.3f} fm")
            if abs(tau - pending[0]) < 1e-10:
                tau = pending.pop(0)
                save(W, tau)
            if stop_T is not None:
                Tmax = float(eos_obj.temperature(W[:, 0].max()))
                if Tmax < stop_T:
                    stopped = True
                    break
    if stopped and (not out["tau"] or out["tau"][-1] != tau):
        save(W, tau)
    arr = {k: np.asarray(v) for k, v in out.items()}
    if not batched:
        for k in ("e", "ux", "uy", "pi"):
            arr[k] = arr[k][:, 0]
    return HydroResult(tau=arr["tau"], e=arr["e"], ux=arr["ux"], uy=arr["uy"], pi=arr["pi"],
                       x=cell_centers(nx, dx), y=cell_centers(ny, dx), dx=dx, dtau=dt_base,
                       steps=steps, eta_s=eta_s, eos=eos_obj, tau_stop=tau,
                       regulated_cells=regulated, dilute_cells=dilute)
