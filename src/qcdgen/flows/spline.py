"""Monotone rational-quadratic splines with identity tails (Durkan, Bekasov, Murray & Papamakarios,
"Neural Spline Flows", NeurIPS 2019, arXiv:1906.04032).

On [−B, B] the map is a monotone rational-quadratic function through K + 1 knots (x_k, y_k) with
positive derivatives δ_k at the knots; δ_0 = δ_K = 1, so it joins the identity outside smoothly.
In bin k, with ξ = (x − x_k)/w_k, s_k = h_k/w_k (widths w, heights h):

    y = y_k + h_k [s_k ξ² + δ_k ξ(1−ξ)] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]
    dy/dx = s_k² [δ_{k+1} ξ² + 2 s_k ξ(1−ξ) + δ_k (1−ξ)²] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]²

and the inverse solves the quadratic a ξ² + b ξ + c = 0 in closed form (their eqs. 6-8).

Unconstrained parameters, last axis: K width logits, K height logits, K − 1 interior derivative
logits; all zero gives the identity. Reversing each of the three groups mirrors the spline,
f(x; mirror θ) = −f(−x; θ) (used for Z₂-equivariant couplings).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

MIN_WIDTH = 1e-3
MIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3
# softplus(_SHIFT) + MIN_DERIVATIVE = 1: zero logits give unit derivatives (the identity map)
_SHIFT = math.log(math.expm1(1.0 - MIN_DERIVATIVE))


def n_spline_params(bins: int) -> int:
    """Unconstrained parameters per site for ``bins`` bins: 3K − 1."""
    return 3 * bins - 1


def split_params(params: torch.Tensor, bins: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return params[..., :bins], params[..., bins:2 * bins], params[..., 2 * bins:]


def mirror_params(params: torch.Tensor, bins: int) -> torch.Tensor:
    """Parameters of x ↦ −f(−x): every group (widths, heights, derivatives) in reverse order."""
    w, h, d = split_params(params, bins)
    return torch.cat([w.flip(-1), h.flip(-1), d.flip(-1)], dim=-1)


def _knots(logits: torch.Tensor, bound: float, minimum: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin sizes (≥ minimum·2B) and the K + 1 knot positions from −B to B."""
    bins = logits.shape[-1]
    frac = minimum + (1.0 - minimum * bins) * torch.softmax(logits, dim=-1)
    knots = F.pad(torch.cumsum(frac, dim=-1), (1, 0))
    knots = 2.0 * bound * knots - bound
    knots = torch.cat([torch.full_like(knots[..., :1], -bound), knots[..., 1:-1],
                       torch.full_like(knots[..., :1], bound)], dim=-1)  # exact end points
    return knots[..., 1:] - knots[..., :-1], knots


def evaluate_in_bins(xc: torch.Tensor, xk: torch.Tensor, yk: torch.Tensor, widths: torch.Tensor,
                     heights: torch.Tensor, derivs: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The rational-quadratic map (or its inverse) of points ``xc`` inside the knots (the module's equations):
    knots ``xk``/``yk`` [..., K + 1], bin sizes [..., K], knot derivatives ``derivs`` [..., K + 1].
    Returns (y, log dy/dx), or (x, log dx/dy) for the inverse."""
    edges = yk if inverse else xk
    # bin index: number of interior knots at or below the point
    k = (xc.unsqueeze(-1) >= edges[..., 1:-1]).sum(-1, keepdim=True)

    def at(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, k).squeeze(-1)

    x_k, y_k, w_k, h_k = at(xk), at(yk), at(widths), at(heights)
    d_k, d_k1 = at(derivs[..., :-1]), at(derivs[..., 1:])
    s_k = h_k / w_k
    curv = d_k1 + d_k - 2.0 * s_k
    if inverse:
        dy = xc - y_k  # here xc is the y to invert
        a = h_k * (s_k - d_k) + dy * curv
        b = h_k * d_k - dy * curv
        c = -s_k * dy
        disc = (b * b - 4.0 * a * c).clamp_min(0.0)
        xi = ((2.0 * c) / (-b - torch.sqrt(disc))).clamp(0.0, 1.0)
        out = xi * w_k + x_k
    else:
        xi = ((xc - x_k) / w_k).clamp(0.0, 1.0)
        one_m = 1.0 - xi
        out = y_k + h_k * (s_k * xi * xi + d_k * xi * one_m) / (s_k + curv * xi * one_m)
    one_m = 1.0 - xi
    denom = s_k + curv * xi * one_m
    log_deriv = (2.0 * torch.log(s_k) + torch.log(d_k1 * xi * xi + 2.0 * s_k * xi * one_m + d_k * one_m * one_m)
                 - 2.0 * torch.log(denom))
    return out, (-log_deriv if inverse else log_deriv)


def rational_quadratic_spline(x: torch.Tensor, params: torch.Tensor, bound: float,
                              inverse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the spline (or its inverse) elementwise to ``x`` [...] with ``params`` [..., 3K − 1].

    Returns (y, log|dy/dx|) for the forward map and (x, log|dx/dy|) for the inverse;
    identity with log-derivative 0 outside [−B, B].
    """
    bins = (params.shape[-1] + 1) // 3
    w_logits, h_logits, d_logits = split_params(params, bins)
    widths, xk = _knots(w_logits, bound, MIN_WIDTH)
    heights, yk = _knots(h_logits, bound, MIN_HEIGHT)
    ones = torch.ones_like(d_logits[..., :1])
    derivs = torch.cat([ones, MIN_DERIVATIVE + F.softplus(d_logits + _SHIFT), ones], dim=-1)

    inside = (x >= -bound) & (x <= bound)
    out, log_deriv = evaluate_in_bins(x.clamp(-bound, bound), xk, yk, widths, heights, derivs, inverse)
    out = torch.where(inside, out, x)
    log_deriv = torch.where(inside, log_deriv, torch.zeros_like(log_deriv))
    return out, log_deriv
