"""Equations of state in the enthalpy form used by the TOV solver.

Every EoS maps the pseudo-enthalpy ``h = ∫_0^P dP'/(ε + P')`` (dimensionless, ``h = 0`` at the
stellar surface; Lindblom, ApJ 398 (1992) 569) to ``(ε, P, dε/dh)`` in MeV/fm³.  ``dε/dh`` equals
``(ε + P)/c_s²`` and feeds the tidal equation.  Parameters may be tensors with a leading *batch
shape* (one EoS per entry); ``evaluate(h)`` then takes ``h`` of shape ``batch_shape + (n,)``.

Representations:

- :class:`PiecewisePolytrope` -- ``P = K_i ρ^Γ_i`` with continuous ``P`` and ``ε``
  (Read, Lackey, Owen, Friedman, PRD 79 (2009) 124032, eqs. 2-7); :func:`read_sly_pp` builds the
  four-parameter core (log10 p1, Γ1, Γ2, Γ3) on their fixed SLy crust (their Table II);
- :class:`Incompressible` -- constant ε (the analytic Schwarzschild interior star);
- :class:`NeuralEoS` -- ``c_s² = sigmoid(MLP(ln ε))`` above a matching point on the SLy crust,
  integrated upward, so ``0 < c_s² < 1`` (causal) and ``dP/dε > 0`` (stable) hold by construction.

Units (exact SI 2019 and CODATA 2018 constants, IAU 2015 Resolution B3 nominal solar mass
parameter): energy densities and pressures in MeV/fm³ at the boundary; the solver converts to
geometric units ``G = c = 1`` with lengths in km via :data:`MEV_FM3_TO_KM2` and :data:`MSUN_KM`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from qcdgen.errors import InputError

__all__ = ["C_SI", "G_SI", "GM_SUN_SI", "MEV_J", "MEV_FM3_TO_KM2", "MSUN_KM", "G_CM3_TO_MEV_FM3",
           "DYN_CM2_TO_MEV_FM3", "SLY_CRUST", "EoS", "EoSPoint", "PiecewisePolytrope", "Polytrope",
           "Incompressible", "TabulatedEoS", "NeuralEoS", "read_sly_pp", "sly_crust"]

C_SI = 299_792_458.0                 # m/s, exact
G_SI = 6.67430e-11                   # m^3 kg^-1 s^-2, CODATA 2018
GM_SUN_SI = 1.3271244e20             # m^3 s^-2, IAU 2015 Resolution B3 nominal
MEV_J = 1.602176634e-13              # J, exact
#: 1 MeV/fm³ as a geometric energy density, km⁻²:  (MeV / fm³) · G / c⁴ · (10³ m/km)².
MEV_FM3_TO_KM2 = MEV_J / 1e-45 * G_SI / C_SI**4 * 1e6
#: One solar mass as a length, km: G M_sun / c².
MSUN_KM = GM_SUN_SI / C_SI**2 / 1e3
_ERG_CM3_PER_MEV_FM3 = MEV_J * 1e7 / 1e-39
#: ρ c² for ρ in g/cm³, expressed in MeV/fm³.
G_CM3_TO_MEV_FM3 = (C_SI * 100.0) ** 2 / _ERG_CM3_PER_MEV_FM3
#: pressure in dyn/cm² (= erg/cm³) to MeV/fm³.
DYN_CM2_TO_MEV_FM3 = 1.0 / _ERG_CM3_PER_MEV_FM3

#: SLy crust of Read et al. (2009), Table II: K_0 for P/c² in g/cm³, adiabatic indices, and the
#: dividing rest-mass densities (g/cm³).  Later K_i follow from continuity of P.
SLY_CRUST = {"K0": 6.80110e-9, "gammas": (1.58425, 1.28733, 0.62223, 1.35692),
             "rho": (2.44034e7, 3.78358e11, 2.62780e12)}
_RHO1_CGS, _RHO2_CGS = 10**14.7, 10**15.0   # Read et al. core dividing densities (g/cm³)

_F64 = torch.float64


@dataclass
class EoSPoint:
    """ε, P and dε/dh = (ε + P)/c_s² at given enthalpies, MeV/fm³."""

    energy_density: torch.Tensor
    pressure: torch.Tensor
    deps_dh: torch.Tensor


class EoS:
    """Barotropic EoS as a function of the pseudo-enthalpy (see module docstring)."""

    batch_shape: torch.Size = torch.Size()

    def evaluate(self, h: torch.Tensor) -> EoSPoint:
        raise NotImplementedError

    def enthalpy(self, p: torch.Tensor) -> torch.Tensor:
        """h(P), the inverse of P(h)."""
        raise NotImplementedError

    @property
    def h_max(self) -> torch.Tensor:
        """Largest enthalpy where the EoS is defined (``inf`` if unbounded)."""
        return torch.full(self.batch_shape, math.inf, dtype=_F64)

    def _edge(self, x: torch.Tensor) -> torch.Tensor:
        """Broadcast a batch-shaped parameter against ``batch_shape + (n,)`` inputs."""
        return x.unsqueeze(-1) if x.dim() else x


def _as_f64(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=_F64)
    if not torch.isfinite(t).all():
        raise InputError(f"{name} must be finite, got {x!r}")
    return t


class PiecewisePolytrope(EoS):
    """``P = K_i ρ^Γ_i`` on ``ρ_{i-1} ≤ ρ < ρ_i``; ε from the first law (Read et al. 2009, eqs. 2-7).

    ρ is the rest-mass energy density ρc² in MeV/fm³, ``K0`` is the first piece's constant in
    MeV/fm³ units, ``gammas`` has one entry per piece and ``rho_div`` one fewer (the dividing
    densities, increasing).  Each may carry a common leading batch shape.  Inside piece i
    ``e^h = (ε + P)/ρ = 1 + a_i + Γ_i/(Γ_i - 1) K_i ρ^(Γ_i - 1)`` is inverted in closed form.
    """

    def __init__(self, K0, gammas, rho_div=()):
        self.K0 = torch.as_tensor(K0, dtype=_F64)
        self.gammas = [torch.as_tensor(g, dtype=_F64) for g in gammas]
        self.rho_div = [torch.as_tensor(r, dtype=_F64) for r in rho_div]
        if len(self.rho_div) != len(self.gammas) - 1:
            raise InputError(f"rho_div needs {len(self.gammas) - 1} entries for {len(self.gammas)} "
                             f"pieces, got {len(self.rho_div)}")
        self.batch_shape = torch.broadcast_shapes(self.K0.shape, *[g.shape for g in self.gammas],
                                                  *[r.shape for r in self.rho_div])
        for g in self.gammas:
            if not g.requires_grad and bool(((g - 1).abs() < 1e-9).any()):
                raise InputError(f"adiabatic index Γ must differ from 1, got {g.tolist()}")
        if not self.K0.requires_grad and bool((self.K0 <= 0).any()):
            raise InputError(f"polytropic constant K must be > 0, got {self.K0.tolist()}")
        # K_i from continuity of P, a_i from continuity of ε (Read et al. eqs. 5-7).
        K, a = [self.K0], [torch.zeros_like(self.K0)]
        for i, rho in enumerate(self.rho_div):
            g0, g1 = self.gammas[i], self.gammas[i + 1]
            K.append(K[i] * rho ** (g0 - g1))
            eps_over_rho = 1 + a[i] + K[i] / (g0 - 1) * rho ** (g0 - 1)
            a.append(eps_over_rho - 1 - K[i + 1] / (g1 - 1) * rho ** (g1 - 1))
        self.K, self.a = K, a
        # enthalpy at the dividing densities: e^h = 1 + a + Γ/(Γ-1) K ρ^(Γ-1)
        self.h_div = [torch.log1p(a[i] + self.gammas[i] / (self.gammas[i] - 1) * K[i] * rho ** (self.gammas[i] - 1))
                      for i, rho in enumerate(self.rho_div)]
        shape = self.batch_shape
        st = lambda xs: torch.stack([x.expand(shape) for x in xs], -1)  # noqa: E731
        self._g, self._K, self._a = st(self.gammas), st(K), st(a)
        self._h_div = st(self.h_div) if self.h_div else torch.zeros(*shape, 0, dtype=_F64)
        self._p_div = st([K[i] * r ** self.gammas[i] for i, r in enumerate(self.rho_div)]) if self.h_div \
            else torch.zeros(*shape, 0, dtype=_F64)

    def _take(self, table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return table[idx] if table.dim() == 1 else table.gather(-1, idx)

    def evaluate(self, h: torch.Tensor) -> EoSPoint:
        h = torch.as_tensor(h, dtype=_F64)
        idx = torch.searchsorted(self._h_div.contiguous(), h.detach().contiguous(), right=True)
        g, K, a = self._take(self._g, idx), self._take(self._K, idx), self._take(self._a, idx)
        hc = h.clamp_min(1e-14)
        base = (torch.expm1(hc) - a) * (g - 1) / (g * K)   # = ρ^(Γ-1) > 0 inside piece idx
        rho = base.clamp_min(1e-300) ** (1 / (g - 1))
        p = K * rho ** g
        eps = (1 + a) * rho + p / (g - 1)
        deps_dh = torch.exp(2 * hc) * rho ** (2 - g) / (g * K)   # (ε+P)²/(ΓP) with (ε+P)/ρ = e^h
        zero = h <= 0
        return EoSPoint(torch.where(zero, 0.0, eps), torch.where(zero, 0.0, p), deps_dh)

    def enthalpy(self, p: torch.Tensor) -> torch.Tensor:
        p = torch.as_tensor(p, dtype=_F64)
        idx = torch.searchsorted(self._p_div.contiguous(), p.detach().contiguous(), right=True)
        g, K, a = self._take(self._g, idx), self._take(self._K, idx), self._take(self._a, idx)
        pp = p.clamp_min(1e-300)
        h = torch.log1p(a + g / (g - 1) * pp * (pp / K) ** (-1 / g))   # Γ/(Γ-1) K ρ^(Γ-1) = Γ/(Γ-1) P/ρ
        return torch.where(p > 0, h, 0.0)

    def table(self, rho_max: float, per_piece: int = 32, rho_min: float = 1e-14):
        """Nodes (h, ε, P, dε/dh) log-spaced in ρ within each piece up to ``rho_max`` (unbatched only).

        Dividing densities are nodes, so a Hermite interpolant through them is smooth inside every
        interval; the first node is the surface h = 0.
        """
        if len(self.batch_shape):
            raise ValueError("table() needs an unbatched EoS")
        edges = [rho_min] + [float(r) for r in self.rho_div if float(r) < rho_max] + [rho_max]
        rho = torch.cat([torch.logspace(math.log10(lo), math.log10(hi), per_piece + 1, dtype=_F64)[:-1]
                         for lo, hi in zip(edges[:-1], edges[1:])] + [torch.tensor([rho_max], dtype=_F64)])
        idx = torch.searchsorted(torch.tensor(edges[1:-1], dtype=_F64), rho, right=True)
        p = self._K[idx] * rho ** self._g[idx]
        h = torch.cat([torch.zeros(1, dtype=_F64), self.enthalpy(p)])
        pt = self.evaluate(h)
        pt.deps_dh[0] = 0.0
        return h, pt.energy_density, pt.pressure, pt.deps_dh


def Polytrope(K, gamma) -> PiecewisePolytrope:
    """Single relativistic polytrope ``P = K ρ^Γ``, ``ε = ρ + P/(Γ - 1)`` (Tooper 1965), MeV/fm³ units."""
    return PiecewisePolytrope(K, [gamma])


def _sly_crust_mev():
    """SLy crust constants of Read et al. in MeV/fm³ units: (K0, gammas, dividing ρc²)."""
    g = SLY_CRUST["gammas"]
    # P[dyn/cm²] = K0 c² ρ^Γ with ρ in g/cm³;  P' = K' ρ'^Γ with ρ' = ρ G_CM3_TO_MEV_FM3
    K0 = SLY_CRUST["K0"] * (C_SI * 100) ** 2 * DYN_CM2_TO_MEV_FM3 / G_CM3_TO_MEV_FM3 ** g[0]
    return K0, g, tuple(r * G_CM3_TO_MEV_FM3 for r in SLY_CRUST["rho"])


def sly_crust() -> PiecewisePolytrope:
    """The four-piece SLy crust of Read et al. (2009) alone (its last piece continued upward)."""
    K0, g, rho = _sly_crust_mev()
    return PiecewisePolytrope(K0, list(g), list(rho))


def read_sly_pp(log10_p1, gamma1, gamma2, gamma3) -> PiecewisePolytrope:
    """Read et al. (2009) four-parameter piecewise polytrope on their SLy crust.

    ``log10_p1``: log10 of the pressure (dyn/cm²) at ρ1 = 10^14.7 g/cm³; ``gamma1..3`` the core
    indices on [ρ0, ρ1], [ρ1, ρ2], [ρ2, ∞) with ρ2 = 10^15 g/cm³.  The crust-core density ρ0 is where
    the last crust piece meets the first core piece (Read et al., Sec. III).  SLy itself is about
    (34.384, 3.005, 2.988, 2.851), M_max = 2.05 M_sun (their Table III).
    """
    lp1 = torch.as_tensor(log10_p1, dtype=_F64)
    g1, g2, g3 = (torch.as_tensor(x, dtype=_F64) for x in (gamma1, gamma2, gamma3))
    for name, v in (("log10_p1", lp1), ("gamma1", g1), ("gamma2", g2), ("gamma3", g3)):
        if not torch.isfinite(v).all():
            raise InputError(f"{name} must be finite, got {v.tolist()}")
    for name, v in (("gamma1", g1), ("gamma2", g2), ("gamma3", g3)):
        if not v.requires_grad and bool((v <= 1.4).any()):
            raise InputError(f"{name} must be > 1.4 (above the crust index 1.357), got {v.tolist()}")
    K0, gc, rho_c = _sly_crust_mev()
    crust = PiecewisePolytrope(K0, list(gc), list(rho_c))
    K3c, G3c = crust.K[-1], gc[-1]
    rho1, rho2 = _RHO1_CGS * G_CM3_TO_MEV_FM3, _RHO2_CGS * G_CM3_TO_MEV_FM3
    p1 = 10.0 ** lp1 * DYN_CM2_TO_MEV_FM3
    K1 = p1 / rho1 ** g1
    rho0 = (K3c / K1) ** (1 / (g1 - G3c))
    if not rho0.requires_grad and bool(((rho0 <= rho_c[-1]) | (rho0 >= rho1)).any()):
        raise InputError(f"log10_p1={lp1.tolist()}, gamma1={g1.tolist()} put the crust-core junction at "
                         f"{(rho0 / G_CM3_TO_MEV_FM3).tolist()} g/cm³, outside ({SLY_CRUST['rho'][-1]:.4g}, "
                         f"{_RHO1_CGS:.4g}); choose a larger log10_p1 or gamma1")
    shape = torch.broadcast_shapes(lp1.shape, g1.shape, g2.shape, g3.shape)
    full = lambda x: torch.as_tensor(x, dtype=_F64).expand(shape)  # noqa: E731
    gammas = [full(g) for g in gc] + [g1.expand(shape), g2.expand(shape), g3.expand(shape)]
    rho_div = [full(r) for r in rho_c] + [rho0.expand(shape), full(rho1), full(rho2)]
    return PiecewisePolytrope(full(K0), gammas, rho_div)


class Incompressible(EoS):
    """Constant energy density ε0 (MeV/fm³): ``P(h) = ε0 (e^h - 1)`` from dP/dh = ε + P."""

    def __init__(self, eps0):
        self.eps0 = _as_f64(eps0, "eps0")
        if bool((self.eps0 <= 0).any()):
            raise InputError(f"eps0 must be > 0 MeV/fm³, got {self.eps0.tolist()}")
        self.batch_shape = self.eps0.shape

    def evaluate(self, h):
        h = torch.as_tensor(h, dtype=_F64)
        e0 = self._edge(self.eps0)
        return EoSPoint(e0.expand(h.shape), e0 * torch.expm1(h), torch.zeros_like(h))

    def enthalpy(self, p):
        return torch.log1p(torch.as_tensor(p, dtype=_F64) / self._edge(self.eps0))


def _hermite_rows(x, xk, rows, deriv_pairs):
    """Cubic Hermite interpolation on sorted nodes ``xk`` (last dim; leading dims = batch).

    ``rows`` is ``xk.shape + (c,)`` and must hold ``xk`` itself in column 0; each
    ``(value_col, derivative_col)`` pair in ``deriv_pairs`` gives one interpolated quantity and its
    x-derivative.  Outside the nodes the end cubic is extrapolated (callers flag that range).
    """
    n = xk.shape[-1]
    i = (torch.searchsorted(xk.contiguous(), x.detach().contiguous(), right=True) - 1).clamp(0, n - 2)
    if xk.dim() > 1:  # one flat row index per query: much faster than gather with expanded indices
        lead = xk.shape[:-1]
        offset = (torch.arange(math.prod(lead), device=xk.device) * n).reshape(*lead, *([1] * (i.dim() - len(lead))))
        i = i + offset
        rows = rows.reshape(-1, rows.shape[-1])
    a, b = rows[i], rows[i + 1]
    x0 = a[..., 0]
    dx = b[..., 0] - x0
    t = (x - x0) / dx
    t2 = t * t
    t3 = t2 * t
    h00, h10, h01, h11 = 2 * t3 - 3 * t2 + 1, (t3 - 2 * t2 + t) * dx, 3 * t2 - 2 * t3, (t3 - t2) * dx
    g00, g10, g11 = (6 * t2 - 6 * t) / dx, 3 * t2 - 4 * t + 1, 3 * t2 - 2 * t
    out = []
    for v, d in deriv_pairs:
        f0, f1, d0, d1 = a[..., v], b[..., v], a[..., d], b[..., d]
        out.append((h00 * f0 + h10 * d0 + h01 * f1 + h11 * d1, g00 * (f0 - f1) + g10 * d0 + g11 * d1))
    return out


class TabulatedEoS(EoS):
    """EoS from nodes ``(h, ε, P, dε/dh)`` (last dim; leading dims = batch), h increasing from 0.

    ε(h) and P(h) are cubic Hermite interpolants that use the exact node derivatives dε/dh and
    dP/dh = ε + P, so they are C¹ and fourth-order accurate between nodes.  Above the last node the
    EoS is undefined (:attr:`h_max`); the solver flags such stars.  ``crust`` (optional) is used for
    :meth:`enthalpy` at pressures below ``p[..., n_crust]``.
    """

    def __init__(self, h, eps, p, deps_dh, crust: EoS | None = None, n_crust: int = 0):
        self.h_tab = h
        self.rows = torch.stack([h, eps, p, deps_dh, eps + p], -1)
        self.batch_shape = h.shape[:-1]
        self.crust, self.n_crust = crust, n_crust

    @property
    def h_max(self):
        return self.h_tab[..., -1]

    @property
    def eps_tab(self):
        return self.rows[..., 1]

    @property
    def p_tab(self):
        return self.rows[..., 2]

    def evaluate(self, h):
        h = torch.as_tensor(h, dtype=_F64)
        (eps, deps), (p, _) = _hermite_rows(h, self.h_tab, self.rows, ((1, 3), (2, 4)))
        return EoSPoint(eps, p, deps)

    def enthalpy(self, p):
        p = torch.as_tensor(p, dtype=_F64)
        k = self.n_crust
        pk = self.p_tab[..., k:]
        rows = torch.stack([pk, self.h_tab[..., k:], 1 / (self.eps_tab[..., k:] + pk)], -1)
        ((h, _),) = _hermite_rows(p, pk, rows, ((1, 2),))
        if self.crust is None:
            return h
        return torch.where(p >= self.p_tab[..., k:k + 1], h, self.crust.enthalpy(p))

    def pressure_at(self, eps: torch.Tensor) -> torch.Tensor:
        """P(ε) for ε above the crust nodes: Hermite in ε with dP/dε = c_s² = (ε+P)/(dε/dh)."""
        eps = torch.as_tensor(eps, dtype=_F64)
        k = self.n_crust
        e, p, d = self.eps_tab[..., k:], self.p_tab[..., k:], self.rows[..., k:, 3]
        rows = torch.stack([e, p, (e + p) / d], -1)
        ((out, _),) = _hermite_rows(eps, e, rows, ((1, 2),))
        return out


class EnsembleMLP(torch.nn.Module):
    """``members`` independent tanh MLPs R → R evaluated in one batched pass (float64)."""

    def __init__(self, members: int, width: int = 16, depth: int = 2, generator: torch.Generator | None = None,
                 out_bias: float = 0.0):
        super().__init__()
        sizes = [1] + [width] * depth + [1]
        self.weights, self.biases = torch.nn.ParameterList(), torch.nn.ParameterList()
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            bound = 1 / math.sqrt(n_in)   # PyTorch's default Linear initialisation, per member
            w = (torch.rand(members, n_in, n_out, generator=generator, dtype=_F64) * 2 - 1) * bound
            b = (torch.rand(members, 1, n_out, generator=generator, dtype=_F64) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))
        with torch.no_grad():
            self.biases[-1].add_(out_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [n] inputs shared by all members -> [members, n]."""
        z = x.reshape(1, -1, 1).expand(self.weights[0].shape[0], -1, 1)
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = torch.baddbmm(b, z, w)
            if k < len(self.weights) - 1:
                z = torch.tanh(z)
        return z.squeeze(-1)


CS2_FLOOR = 1e-4


class NeuralEoS(torch.nn.Module):
    """Neural EoS: ``c_s²(ε) = sigmoid(MLP(x))``, ``x = ln(ε/ε_m)/ln(ε_max/ε_m)``, on the SLy crust.

    Above the matching energy density ε_m (on the Read et al. SLy crust, continuous P and ε) the
    table is integrated upward in ln ε on ``n_grid`` log-spaced nodes with the trapezoid rule:
    ``dP/d ln ε = c_s² ε`` and ``dh/d ln ε = c_s² ε/(ε + P)``.  The sigmoid keeps 0 < c_s² ≤ 1, so the
    EoS is causal and P(ε) strictly increasing for any weights (cf. Soma et al., PRD 107 (2023)
    083028, who use a network for the EoS with the same physical constraints).  ``members`` EoSs
    (an ensemble) are evaluated together; calling the module returns a :class:`TabulatedEoS`
    with batch shape ``(members,)`` whose first nodes are the (fixed) crust.
    """

    def __init__(self, members: int = 1, *, width: int = 16, depth: int = 2, eps_match: float = 80.0,
                 eps_max: float = 3000.0, n_grid: int = 400, seed: int = 0, cs2_init: float = 0.25):
        super().__init__()
        if not isinstance(members, int) or members < 1:
            raise InputError(f"members must be an integer >= 1, got {members!r}")
        if not isinstance(n_grid, int) or n_grid < 16:
            raise InputError(f"n_grid must be an integer >= 16, got {n_grid!r}")
        if not CS2_FLOOR < cs2_init < 1:
            raise InputError(f"cs2_init must be in (0, 1), got {cs2_init!r}")
        self.crust = sly_crust()
        eps_top = float(self.crust.evaluate(self.crust._h_div[-1:]).energy_density[0])
        if not (eps_top < eps_match < eps_max):
            raise InputError(f"need {eps_top:.3g} < eps_match < eps_max (MeV/fm³; the lower bound is the SLy "
                             f"crust's last dividing density), got eps_match={eps_match!r}, eps_max={eps_max!r}")
        self.eps_match, self.eps_max = float(eps_match), float(eps_max)
        # crust nodes up to the matching point: invert ε(ρ) of the last crust piece by bisection
        g, K, a = (float(x[-1]) for x in (self.crust._g, self.crust._K, self.crust._a))
        lo, hi = float(self.crust.rho_div[-1]), eps_match
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if (1 + a) * mid + K * mid**g / (g - 1) < eps_match else (lo, mid)
        h, e, p, d = self.crust.table(0.5 * (lo + hi))
        self.h_match, self.p_match = float(h[-1]), float(p[-1])
        self.register_buffer("crust_nodes", torch.stack([h[:-1], e[:-1], p[:-1], d[:-1]], -1))
        self.register_buffer("log_eps", torch.linspace(math.log(eps_match), math.log(eps_max), n_grid, dtype=_F64))
        gen = torch.Generator().manual_seed(seed)
        z0 = (cs2_init - CS2_FLOOR) / (1 - CS2_FLOOR)
        self.net = EnsembleMLP(members, width, depth, gen, out_bias=math.log(z0 / (1 - z0)))
        self.members = members

    @property
    def energy_density(self) -> torch.Tensor:
        """The ε grid of the core table, MeV/fm³."""
        return self.log_eps.exp()

    def cs2(self) -> torch.Tensor:
        """Squared sound speed on the ε grid, [members, n_grid], in [CS2_FLOOR, 1].

        ``CS2_FLOOR + (1 - CS2_FLOOR) sigmoid``: the floor (1e-4, far below any core value) keeps
        P strictly increasing and dε/dh finite in float64 even for saturated networks.
        """
        x = (self.log_eps - self.log_eps[0]) / (self.log_eps[-1] - self.log_eps[0])
        return CS2_FLOOR + (1 - CS2_FLOOR) * torch.sigmoid(self.net(x))

    def forward(self) -> TabulatedEoS:
        cs2 = self.cs2()
        eps = self.energy_density.expand_as(cs2)
        du = self.log_eps[1] - self.log_eps[0]
        dp = 0.5 * du * (cs2[:, 1:] * eps[:, 1:] + cs2[:, :-1] * eps[:, :-1])
        p = self.p_match + torch.cat([torch.zeros_like(dp[:, :1]), dp.cumsum(-1)], -1)
        w = cs2 * eps / (eps + p)
        dh = 0.5 * du * (w[:, 1:] + w[:, :-1])
        h = self.h_match + torch.cat([torch.zeros_like(dh[:, :1]), dh.cumsum(-1)], -1)
        c = self.crust_nodes.expand(cs2.shape[0], -1, -1)
        cat = lambda a, b: torch.cat([a, b], -1)  # noqa: E731
        return TabulatedEoS(cat(c[..., 0], h), cat(c[..., 1], eps), cat(c[..., 2], p),
                            cat(c[..., 3], (eps + p) / cs2), crust=self.crust, n_crust=c.shape[1])
