"""Israel–Stewart (conformal DNMR, 14-moment) shear relaxation in Milne coordinates.

    τ_π Δ^{μν}_{αβ} D π^{αβ} + π^{μν} = 2η σ^{μν} − (4/3) τ_π π^{μν} θ,

τ_π = b_π η/(e + p) with b_π = 5 by default, η = (η/s)(T) s, s = (e + p)/T. Boost invariance
(u^η = 0) makes the transverse components free of Christoffel terms,
Δ^{μν}_{αβ}Dπ^{αβ} = Dπ^{μν} + (u^μ π^{νλ} + u^ν π^{μλ}) Du_λ, and the evolved variables
τπ^{ij} (i, j ∈ {x, y}) obey

    ∂_τ(τπ^{ij}) + ∂_k(τ v^k π^{ij}) = π^{ij} + τ π^{ij} ∂_k v^k
        + (τ/u^τ) [ −(π^{ij} − 2ησ^{ij})/τ_π − (4/3) π^{ij} θ − (u^i π^{jλ} + u^j π^{iλ}) Du_λ ],

where 2η/τ_π = 2(e + p)/b_π. Kinematics: θ = ∂_τ u^τ + ∂_x u^x + ∂_y u^y + u^τ/τ,
Du^μ = u^τ ∂_τ u^μ + u^k ∂_k u^μ, σ^{ij} = −½(∂_i u^j + ∂_j u^i) − ½(u^i Du^j + u^j Du^i)
− ⅓(g^{ij} − u^i u^j) θ with g^{xx} = g^{yy} = −1. Spatial derivatives are central differences,
∂_τ u^μ a backward difference over the last step (as in MUSIC).
"""

from __future__ import annotations

import torch

from qcdgen.hic.hydro.eos import HBARC
from qcdgen.hic.hydro.kt import pad_edge
from qcdgen.hic.hydro.state import full_shear

__all__ = ["central_diff", "shear_source", "regulate_shear"]


def central_diff(f, dx, dim):
    """(f_{i+1} − f_{i−1}) / 2Δx along ``dim`` with edge-copy boundaries."""
    fp = pad_edge(f, 1, dim)
    n = f.shape[dim]
    return (fp.narrow(dim, 2, n) - fp.narrow(dim, 0, n)) / (2.0 * dx)


def shear_source(W, dtu, tau, dx, eos, eta_s, b_pi: float, milne: bool = True):
    """Source of the τπ^{ij} equations (channels 3, 4, 5) at cell centres.

    ``dtu`` = (∂_τu^τ, ∂_τu^x, ∂_τu^y), each [B, nx, ny]. With ``milne=False`` the Cartesian
    (t, x, y) equations ∂_t π^{ij} + ∂_k(v^k π^{ij}) = π^{ij}∂_k v^k + [...]/u^t are used.
    """
    e, ux, uy, pxx, pxy, pyy = (W[:, k] for k in range(6))
    p = eos.pressure(e)
    w = e + p
    u0 = torch.sqrt(1.0 + ux * ux + uy * uy)
    d0u0, d0ux, d0uy = dtu
    dxu0, dxux, dxuy = (central_diff(f, dx, -2) for f in (u0, ux, uy))
    dyu0, dyux, dyuy = (central_diff(f, dx, -1) for f in (u0, ux, uy))
    theta = d0u0 + dxux + dyuy + (u0 / tau if milne else 0.0)
    Du0 = u0 * d0u0 + ux * dxu0 + uy * dyu0
    Dux = u0 * d0ux + ux * dxux + uy * dyux
    Duy = u0 * d0uy + ux * dxuy + uy * dyuy
    third = theta / 3.0
    sxx = -dxux - ux * Dux + (1.0 + ux * ux) * third
    syy = -dyuy - uy * Duy + (1.0 + uy * uy) * third
    sxy = -0.5 * (dxuy + dyux) - 0.5 * (ux * Duy + uy * Dux) + ux * uy * third
    divv = central_diff(ux / u0, dx, -2) + central_diff(uy / u0, dx, -1)

    ptt, ptx, pty, _ = full_shear(ux, uy, pxx, pxy, pyy)
    Ax = ptx * Du0 - pxx * Dux - pxy * Duy          # π^{xλ} Du_λ
    Ay = pty * Du0 - pxy * Dux - pyy * Duy          # π^{yλ} Du_λ
    T_fm = eos.temperature(e) / HBARC               # fm⁻¹
    es = eta_s(T_fm * HBARC) if callable(eta_s) else eta_s
    inv_tpi = T_fm / (b_pi * es)                    # 1/τ_π
    two_eta_over_tpi = 2.0 * w / b_pi               # 2η/τ_π
    wt = tau if milne else 1.0
    fac = wt / u0
    out = []
    for pij, sij, proj in ((pxx, sxx, 2.0 * ux * Ax), (pxy, sxy, ux * Ay + uy * Ax),
                           (pyy, syy, 2.0 * uy * Ay)):
        rhs = -pij * inv_tpi + two_eta_over_tpi * sij - (4.0 / 3.0) * pij * theta - proj
        out.append((pij if milne else 0.0) + wt * pij * divv + fac * rhs)
    return torch.stack(out, dim=1)


#: The dilute-cell bound on the inverse Reynolds number, ρ ≤ 30 tanh(e/ε_s): the form of MUSIC's
#: ``QuestRevert`` (Schenke, Jeon, Gale; MUSIC src/advance.cpp: ρ_max · 300 tanh(e/ε_s), ρ_max = 0.1,
#: ε_s = 1 fm⁻⁴; current MUSIC: a Fermi step at ε_s = 0.1 fm⁻⁴ = 0.0197 GeV/fm³). ε_s is lowered here
#: to 2e-6 GeV/fm³, so the bound is below 1 only where e < 7e-8 GeV/fm³ (T ≲ 5 MeV, ~10⁻⁷ of the
#: switching density): the rescaling (like MUSIC's) does not conserve T^{τμ}, and this keeps that
#: below 1e-9 of the total energy (tests/test_hydro_conservation.py) and the Gubser tails intact.
DILUTE_RATIO = 30.0
DILUTE_E_SCALE = 2e-6           # GeV/fm³


def regulate_shear(W, eos, max_ratio: float = 1.0, dilute_e_scale: float = DILUTE_E_SCALE):
    """Scale π^{ij} so that ρ = √(π_{μν}π^{μν}) / √(e² + 3p²) ≤ min(max_ratio, 30 tanh(e/ε_s)).

    ``max_ratio`` caps the inverse Reynolds number everywhere. ε_s = ``dilute_e_scale`` (GeV/fm³;
    0: off) makes the bound fall like 30 e/ε_s in near-vacuum cells, where τ_π = 5η/(e + p) ≫ τ
    and Israel–Stewart has no validity: there a shear of the size of e in a cell with u^τ ≳ 5 (the
    fast, dilute edge of the fireball) makes K^μ = T^{τμ} − π^{τμ} nearly light-like and the
    scheme unstable (issue 21: a first-order-EoS event blew up in such a grid-corner cell).
    e and u are kept (MUSIC); the caller rebuilds T^{τμ}. Returns (W, scale, ρ), scale < 1 where
    π was rescaled.
    """
    e, ux, uy, pxx, pxy, pyy = (W[:, k] for k in range(6))
    ptt, ptx, pty, pee = full_shear(ux, uy, pxx, pxy, pyy)
    norm2 = ptt ** 2 + pxx ** 2 + pyy ** 2 + 2 * pxy ** 2 + pee ** 2 - 2 * ptx ** 2 - 2 * pty ** 2
    p = eos.pressure(e)
    eq = torch.sqrt(e * e + 3 * p * p)
    norm = torch.sqrt(torch.clamp(norm2, min=0.0))
    rho = norm / torch.clamp(eq, min=1e-300)
    bound = torch.full_like(e, max_ratio)
    if dilute_e_scale > 0:
        bound = torch.minimum(bound, DILUTE_RATIO * torch.tanh(e / dilute_e_scale))
    scale = torch.where(rho > bound, bound / torch.clamp(rho, min=1e-300), torch.ones_like(rho))
    W = W.clone()
    W[:, 3:6] = W[:, 3:6] * scale.unsqueeze(1)
    return W, scale, rho
