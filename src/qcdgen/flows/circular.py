"""Circular rational-quadratic splines: smooth diffeomorphisms of the circle [0, 2π).

A monotone rational-quadratic spline (Durkan, Bekasov, Murray & Papamakarios, NeurIPS 2019) on
[0, 2π] through K + 1 knots (x_k, y_k) with x_0 = y_0 = 0 and x_K = y_K = 2π, and with the same
derivative at both ends, δ_K = δ_0. Then h(0) = 0, h(2π) = 2π and h'(0) = h'(2π), so h is a C¹
diffeomorphism of the circle (Rezende, Papamakarios, Racanière et al., "Normalizing flows on tori
and spheres", ICML 2020, §3.2). In bin k, with ξ = (x − x_k)/w_k ∈ [0, 1], s_k = h_k/w_k
(widths w_k, heights h_k):

    y     = y_k + h_k [s_k ξ² + δ_k ξ(1−ξ)] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]
    dy/dx = s_k² [δ_{k+1} ξ² + 2 s_k ξ(1−ξ) + δ_k (1−ξ)²] / [s_k + (δ_{k+1} + δ_k − 2 s_k) ξ(1−ξ)]²

The inverse solves a ξ² + b ξ + c = 0 in the bin of y, with Δ = y − y_k and
a = h_k (s_k − δ_k) + Δ (δ_{k+1} + δ_k − 2 s_k), b = h_k δ_k − Δ (δ_{k+1} + δ_k − 2 s_k),
c = −s_k Δ, by the cancellation-free root ξ = 2c / (−b − √(b² − 4ac)).

Unconstrained parameters (last axis, 3K): K width logits, K height logits, K derivative logits
(δ_0 … δ_{K−1}; δ_K is δ_0). Widths and heights are softmaxes (each at least 2π·10⁻³), derivatives
10⁻³ + softplus(·) shifted so that all-zero parameters give the identity map.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from qcdgen.flows.spline import _SHIFT, MIN_DERIVATIVE, MIN_HEIGHT, MIN_WIDTH, _knots, evaluate_in_bins

TWO_PI = 2.0 * math.pi


def n_circular_params(bins: int) -> int:
    """Unconstrained parameters per angle for ``bins`` bins: 3K."""
    return 3 * bins


def circular_spline(x: torch.Tensor, params: torch.Tensor,
                    inverse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply h (or h⁻¹) elementwise to angles ``x`` [...] in [0, 2π] with ``params`` [..., 3K].

    Returns (y, log dy/dx) for the forward map and (x, log dx/dy) for the inverse. Inputs outside
    [0, 2π] are clamped; reduce angles mod 2π before calling.
    """
    bins = params.shape[-1] // 3
    w_logits, h_logits, d_logits = params[..., :bins], params[..., bins:2 * bins], params[..., 2 * bins:]
    widths, xk = _knots(w_logits, math.pi, MIN_WIDTH)
    heights, yk = _knots(h_logits, math.pi, MIN_HEIGHT)
    xk, yk = xk + math.pi, yk + math.pi  # knots from 0 to 2π (the end points are exact)
    d = MIN_DERIVATIVE + F.softplus(d_logits + _SHIFT)
    derivs = torch.cat([d, d[..., :1]], dim=-1)  # δ_K = δ_0: the same slope on both sides of 0 ≡ 2π

    return evaluate_in_bins(x.clamp(0.0, TWO_PI), xk, yk, widths, heights, derivs, inverse)
