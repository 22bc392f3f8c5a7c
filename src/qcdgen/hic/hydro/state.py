"""Milne-coordinate fluid state: primitive ↔ conserved variables for boost-invariant flow.

Metric ds² = dτ² − dx² − dy² − τ² dη², u^η = 0, u^τ = √(1 + u_x² + u_y²). The energy–momentum
tensor T^{μν} = (e + p) u^μ u^ν − p g^{μν} + π^{μν}. The shear tensor is stored through its
three transverse components π^{xx}, π^{xy}, π^{yy}; the others follow from u_μ π^{μν} = 0 and
π^μ_μ = 0:

    π^{τx} = (u^x π^{xx} + u^y π^{xy}) / u^τ,   π^{τy} = (u^x π^{xy} + u^y π^{yy}) / u^τ,
    π^{ττ} = (u^x π^{τx} + u^y π^{τy}) / u^τ,   τ² π^{ηη} = π^{ττ} − π^{xx} − π^{yy}.

Evolved ("conserved") variables, all multiplied by τ:
    Q = τ (T^{ττ}, T^{τx}, T^{τy}, π^{xx}, π^{xy}, π^{yy}),
primitive variables W = (e, u^x, u^y, π^{xx}, π^{xy}, π^{yy}).

Inversion (conformal p = e/3): with K^μ = T^{τμ} − π^{τμ} = (e + p) u^τ u^μ − p g^{τμ} and
M = |K⃗|, the flow speed solves M v² − 4 K^τ v + 3M = 0, v = 3M / (2K^τ + √(4K^τ² − 3M²)),
e = K^τ − M v. For a general EoS this starts Newton's method on v (K^τ + p(K^τ − M v)) = M.
Since π^{τμ} depends on u, a few fixed-point sweeps are made from a guess of u.
"""

from __future__ import annotations

import torch

__all__ = ["PI_COMPONENTS", "full_shear", "conserved", "flux_x", "primitive",
           "signal_speed", "cons_flux_speed"]

#: Order of the shear components in ``HydroResult.pi`` (last axis).
PI_COMPONENTS = ("tautau", "taux", "tauy", "xx", "xy", "yy", "etaeta_tau2")


def full_shear(ux, uy, pxx, pxy, pyy):
    """(π^{ττ}, π^{τx}, π^{τy}, τ²π^{ηη}) from the transverse components and u."""
    u0 = torch.sqrt(1.0 + ux * ux + uy * uy)
    ptx = (ux * pxx + uy * pxy) / u0
    pty = (ux * pxy + uy * pyy) / u0
    ptt = (ux * ptx + uy * pty) / u0
    return ptt, ptx, pty, ptt - pxx - pyy


def conserved(W, tau, eos):
    """Q = τ (T^{ττ}, T^{τx}, T^{τy}, π^{xx}, π^{xy}, π^{yy}) from W (channel axis 1)."""
    e, ux, uy = W[:, 0], W[:, 1], W[:, 2]
    p = eos.pressure(e)
    w = e + p
    u0 = torch.sqrt(1.0 + ux * ux + uy * uy)
    out = [w * u0 * u0 - p, w * u0 * ux, w * u0 * uy]
    if W.shape[1] > 3:
        ptt, ptx, pty, _ = full_shear(ux, uy, W[:, 3], W[:, 4], W[:, 5])
        out = [out[0] + ptt, out[1] + ptx, out[2] + pty, W[:, 3], W[:, 4], W[:, 5]]
    return tau * torch.stack(out, dim=1)


def flux_x(W, tau, eos):
    """τ × x-flux of each evolved variable: τ (T^{xτ}, T^{xx}, T^{xy}, v^x π^{xx}, v^x π^{xy}, v^x π^{yy})."""
    e, ux, uy = W[:, 0], W[:, 1], W[:, 2]
    p = eos.pressure(e)
    w = e + p
    u0 = torch.sqrt(1.0 + ux * ux + uy * uy)
    out = [w * u0 * ux, w * ux * ux + p, w * ux * uy]
    if W.shape[1] > 3:
        pxx, pxy, pyy = W[:, 3], W[:, 4], W[:, 5]
        ptx = (ux * pxx + uy * pxy) / u0
        vx = ux / u0
        out = [out[0] + ptx, out[1] + pxx, out[2] + pxy, vx * pxx, vx * pxy, vx * pyy]
    return tau * torch.stack(out, dim=1)


def signal_speed(W, eos):
    """Largest |characteristic speed| in x: relativistic sound cone around v^x (c_s² = eos.cs2)."""
    ux, uy = W[:, 1], W[:, 2]
    u0 = torch.sqrt(1.0 + ux * ux + uy * uy)
    vx, vy = ux / u0, uy / u0
    v2 = vx * vx + vy * vy
    c2 = eos.cs2
    root = torch.sqrt(torch.clamp(c2 * (1.0 - v2) * (1.0 - vx * vx - (v2 - vx * vx) * c2), min=0.0))
    den = 1.0 - v2 * c2
    lp = (vx * (1.0 - c2) + root) / den
    lm = (vx * (1.0 - c2) - root) / den
    return torch.maximum(lp.abs(), lm.abs())


def cons_flux_speed(W, tau, eos):
    """(:func:`conserved`, :func:`flux_x`, :func:`signal_speed`) in one pass (shared u^τ, p)."""
    e, ux, uy = W[:, 0], W[:, 1], W[:, 2]
    p = eos.pressure(e)
    w = e + p
    u0 = torch.sqrt(1.0 + ux * ux + uy * uy)
    wu0 = w * u0
    q = [wu0 * u0 - p, wu0 * ux, wu0 * uy]
    f = [wu0 * ux, w * ux * ux + p, w * ux * uy]
    vx, vy = ux / u0, uy / u0
    if W.shape[1] > 3:
        pxx, pxy, pyy = W[:, 3], W[:, 4], W[:, 5]
        ptx = (ux * pxx + uy * pxy) / u0
        pty = (ux * pxy + uy * pyy) / u0
        ptt = (ux * ptx + uy * pty) / u0
        q = [q[0] + ptt, q[1] + ptx, q[2] + pty, pxx, pxy, pyy]
        f = [f[0] + ptx, f[1] + pxx, f[2] + pxy, vx * pxx, vx * pxy, vx * pyy]
    vx2 = vx * vx
    v2 = vx2 + vy * vy
    c2 = eos.cs2
    root = torch.sqrt(torch.clamp(c2 * (1.0 - v2) * (1.0 - vx2 - (v2 - vx2) * c2), min=0.0))
    den = 1.0 - v2 * c2
    a = (torch.abs(vx) * (1.0 - c2) + root) / den
    return tau * torch.stack(q, dim=1), tau * torch.stack(f, dim=1), a


def primitive(Q, tau, eos, ux_guess, uy_guess, *, e_floor: float, sweeps: int = 3,
              max_v: float = 1.0 - 1e-10, newton: int = 4):
    """Invert Q → W (conformal closed form, then Newton steps for other EoS), returning (W, vacuum mask).

    Cells with K^τ below ``e_floor`` are vacuum: e = e_floor, u = 0, π = 0.
    """
    T0, Tx, Ty = Q[:, 0] / tau, Q[:, 1] / tau, Q[:, 2] / tau
    viscous = Q.shape[1] > 3
    conformal = getattr(eos, "name", "") == "conformal"
    if viscous:
        pxx, pxy, pyy = Q[:, 3] / tau, Q[:, 4] / tau, Q[:, 5] / tau
    ux, uy = ux_guess, uy_guess
    for _ in range(sweeps if viscous else 1):
        if viscous:
            ptt, ptx, pty, _ = full_shear(ux, uy, pxx, pxy, pyy)
            K0, Kx, Ky = T0 - ptt, Tx - ptx, Ty - pty
        else:
            K0, Kx, Ky = T0, Tx, Ty
        vac = K0 <= e_floor
        K0s = torch.where(vac, torch.ones_like(K0), K0)
        M = torch.sqrt(Kx * Kx + Ky * Ky)
        M = torch.minimum(M, K0s * (1.0 - 1e-12))
        disc = torch.sqrt(torch.clamp(4.0 * K0s * K0s - 3.0 * M * M, min=0.0))
        v = torch.clamp(3.0 * M / (2.0 * K0s + disc), max=max_v)
        if not conformal:                   # Newton on f(v) = v (K^τ + p(K^τ − M v)) − M
            for _ in range(newton):
                e = torch.clamp(K0s - M * v, min=1e-300)
                pe = eos.pressure(e)
                f = v * (K0s + pe) - M
                df = K0s + pe - v * M * eos.sound_speed2(e)
                v = torch.clamp(v - f / df, min=0.0, max=max_v)
        e = K0s - M * v
        wp = K0s + eos.pressure(e)          # (e + p) u^τ u^τ
        vx, vy = Kx / wp, Ky / wp
        vv = torch.sqrt(vx * vx + vy * vy)
        scale = torch.where(vv > max_v, max_v / torch.clamp(vv, min=1e-300), torch.ones_like(vv))
        vx, vy = vx * scale, vy * scale
        g = 1.0 / torch.sqrt(1.0 - (vx * vx + vy * vy))
        ux = torch.where(vac, torch.zeros_like(vx), g * vx)
        uy = torch.where(vac, torch.zeros_like(vy), g * vy)
        e = torch.where(vac, torch.full_like(e, e_floor), e)
    cols = [e, ux, uy]
    if viscous:
        z = torch.zeros_like(e)
        cols += [torch.where(vac, z, pxx), torch.where(vac, z, pxy), torch.where(vac, z, pyy)]
    return torch.stack(cols, dim=1), vac
