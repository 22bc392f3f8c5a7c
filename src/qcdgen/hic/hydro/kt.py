"""Kurganov–Tadmor central scheme (J. Comput. Phys. 160 (2000) 241) on a uniform grid.

Semi-discrete update of ∂_τ Q + ∂_x F(Q) + ∂_y G(Q) = S along one axis:

    H_{i+½} = ½ [F(W⁺) + F(W⁻)] − ½ a_{i+½} [Q(W⁺) − Q(W⁻)],
    ∂_τ Q_i ⊃ −(H_{i+½} − H_{i−½}) / Δx,

with W^∓ the left/right states of the primitive variables reconstructed piecewise linearly
with a limited slope (minmod, or the monotonised-central MC limiter) and a_{i+½} the larger
local signal speed of the two states. Boundaries: two ghost cells copying the edge cell
(outflow).
"""

from __future__ import annotations

import torch

__all__ = ["LIMITERS", "minmod", "mc", "pad_edge", "kt_divergence_x"]


def minmod(a, b):
    return 0.5 * (torch.sign(a) + torch.sign(b)) * torch.minimum(a.abs(), b.abs())


def mc(a, b):
    """Monotonised central: minmod(2a, (a+b)/2, 2b)."""
    c = 0.5 * (a + b)
    s = 0.5 * (torch.sign(a) + torch.sign(b))
    return s * torch.minimum(torch.minimum(2.0 * a.abs(), 2.0 * b.abs()), c.abs())


LIMITERS = {"minmod": minmod, "mc": mc}


def pad_edge(W, n: int, dim: int = -2):
    """Copy the edge cells ``n`` times on each side of ``dim`` (outflow ghost cells)."""
    first = W.narrow(dim, 0, 1)
    last = W.narrow(dim, W.shape[dim] - 1, 1)
    reps = [1] * W.dim()
    reps[dim] = n
    return torch.cat([first.repeat(reps), W, last.repeat(reps)], dim=dim)


def kt_divergence_x(W, tau, dx, eos, limiter, cons_flux_speed):
    """(H_{i+½} − H_{i−½})/Δx along axis −2 for primitive fields W [B, C, nx, ny].

    ``cons_flux_speed(W, tau, eos)`` → (τ-weighted conserved Q, x-flux F, signal speed a).
    """
    n = W.shape[-2]
    Wp = pad_edge(W, 2, -2)
    d = Wp[..., 1:, :] - Wp[..., :-1, :]                # n + 3 differences
    s = limiter(d[..., :-1, :], d[..., 1:, :])          # slopes of padded cells 1 … n+2
    WL = Wp[..., 1:n + 2, :] + 0.5 * s[..., 0:n + 1, :]
    WR = Wp[..., 2:n + 3, :] - 0.5 * s[..., 1:n + 2, :]
    QLR, FLR, aLR = cons_flux_speed(torch.cat([WL, WR], dim=0), tau, eos)
    b = W.shape[0]
    a = torch.maximum(aLR[:b], aLR[b:]).unsqueeze(1)
    H = 0.5 * (FLR[:b] + FLR[b:]) - 0.5 * a * (QLR[b:] - QLR[:b])
    return (H[..., 1:, :] - H[..., :-1, :]) / dx
