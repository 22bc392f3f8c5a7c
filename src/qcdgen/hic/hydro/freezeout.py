"""Freeze-out hypersurface of a (2+1)D boost-invariant fluid: iso-surface elements with normals.

The surface where a field (T or e) crosses a switching value is found in the (τ, x, y) cubes
spanned by two consecutive saved time slices, in the spirit of Cornelius (Huovinen & Petersen,
EPJA 48 (2012) 171): one surface element per crossed cube, with its surface vector and the
fields at its centroid. Construction (marching tetrahedra, free of the marching-cubes
ambiguities): each cube is split into six tetrahedra along its main diagonal (Kuhn); in a
tetrahedron the field is linear, the iso-surface is a triangle or a quadrilateral (two
triangles) whose vertices lie on the crossed edges, and its vector area points from the
vertices above the level to those below (outward, towards lower T). The vector areas of all
pieces in a cube are summed.

In (τ, x, y) coordinates the Euclidean vector area of an element is the covariant surface
vector (dσ_τ, dσ_x, dσ_y) (e.g. dσ_τ = dx dy for a constant-τ piece, dσ_x = dτ dy for a
constant-x wall); the Milne factor √−g = τ (taken at the centroid) makes it the surface
vector per unit space-time rapidity η_s:

    dσ_μ = τ (dσ_τ, dσ_x, dσ_y, 0),    p^μ dσ_μ = m_T cosh(y − η_s) dσ_τ + p^x dσ_x + p^y dσ_y.

Fields are interpolated linearly along the crossed edges and averaged over each triangle and
then over the cube's pieces weighted by area, so the switching field equals the level exactly
at every centroid. The shear tensor is interpolated through its three transverse components
(π^xx, π^xy, π^yy); the others follow from transversality u_μ π^{μν} = 0 (u^η = 0) and
tracelessness at the interpolated u, so each element's π^{μν} is exactly transverse and
traceless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcdgen.errors import InputError

__all__ = ["Surface", "find_surface", "complete_shear", "surface_from_hydro", "hot_region_budget"]

#: the six Kuhn tetrahedra of a cube with corners numbered 4 i_τ + 2 i_x + i_y
_TETRAHEDRA = np.array([[0, 1 << a, (1 << a) | (1 << b), 7]
                        for a, b in ((2, 1), (2, 0), (1, 2), (1, 0), (0, 2), (0, 1))])
_CORNERS = np.array([[(k >> 2) & 1, (k >> 1) & 1, k & 1] for k in range(8)])


@dataclass
class Surface:
    """Freeze-out surface elements (plain arrays over elements; NaN where a field was not given).

    tau, x, y: centroid (fm); dsigma: (n, 3) covariant (dσ_τ, dσ_x, dσ_y) per unit η_s (fm³);
    ux, uy: contravariant flow components (u^τ = √(1 + u_x² + u_y²)); T (GeV), e, P (GeV/fm³);
    pi: (n, 4, 4) contravariant π^{μν} (GeV/fm³) in the local frame (τ, x, y, τη) at η_s = 0, or
    None; level and field: the switching value and the name of the field it applies to;
    hot_at_end: grid points still above the level on the last slice (> 0: the surface is open
    at τ_end, the hydro stopped before everything froze out).
    """

    tau: np.ndarray
    x: np.ndarray
    y: np.ndarray
    dsigma: np.ndarray
    ux: np.ndarray
    uy: np.ndarray
    T: np.ndarray
    e: np.ndarray
    P: np.ndarray
    pi: np.ndarray | None = None
    level: float = float("nan")
    field: str = ""
    hot_at_end: int = 0

    def __len__(self) -> int:
        return len(self.tau)

    @property
    def u(self) -> np.ndarray:
        """(n, 3) contravariant (u^τ, u^x, u^y)."""
        ut = np.sqrt(1.0 + self.ux ** 2 + self.uy ** 2)
        return np.stack([ut, self.ux, self.uy], axis=1)

    @property
    def u_dot_dsigma(self) -> np.ndarray:
        """u^μ dσ_μ per element (fm³): the element's volume in the fluid rest frame (time-like part)."""
        return (self.u * self.dsigma).sum(axis=1)

    def subset(self, mask) -> "Surface":
        """The elements selected by a boolean mask or index array."""
        pick = np.asarray(mask)
        return Surface(self.tau[pick], self.x[pick], self.y[pick], self.dsigma[pick], self.ux[pick],
                       self.uy[pick], self.T[pick], self.e[pick], self.P[pick],
                       None if self.pi is None else self.pi[pick], self.level, self.field, self.hot_at_end)


def complete_shear(ux, uy, pixx, pixy, piyy, tau=None) -> np.ndarray:
    """Full π^{μν} (…, 4, 4) in the local frame (τ, x, y, τη) from its transverse components.

    u_μ π^{μν} = 0 with u^η = 0 gives π^{τi} = (u^x π^{xi} + u^y π^{yi})/u^τ and
    π^{ττ} = (u^x π^{τx} + u^y π^{τy})/u^τ; tracelessness gives τ²π^{ηη} = π^{ττ} − π^{xx} − π^{yy}.
    (``tau`` is unused: the ηη entry is returned in the local frame, already multiplied by τ².)
    """
    ux, uy = np.asarray(ux, float), np.asarray(uy, float)
    pixx, pixy, piyy = (np.asarray(a, float) for a in (pixx, pixy, piyy))
    ut = np.sqrt(1.0 + ux ** 2 + uy ** 2)
    pitx = (ux * pixx + uy * pixy) / ut
    pity = (ux * pixy + uy * piyy) / ut
    pitt = (ux * pitx + uy * pity) / ut
    pizz = pitt - pixx - piyy
    out = np.zeros(np.broadcast(ux, pixx).shape + (4, 4))
    out[..., 0, 0] = pitt
    out[..., 0, 1] = out[..., 1, 0] = pitx
    out[..., 0, 2] = out[..., 2, 0] = pity
    out[..., 1, 1] = pixx
    out[..., 1, 2] = out[..., 2, 1] = pixy
    out[..., 2, 2] = piyy
    out[..., 3, 3] = pizz
    return out


def _grid(name, a, shape):
    a = np.asarray(a, dtype=float)
    if a.shape != shape:
        raise InputError(f"{name} must have the shape {shape} of the switching field, got {a.shape}")
    return a


def find_surface(tau, field, level: float, *, dx: float, dy: float | None = None,
                 x0: float | None = None, y0: float | None = None, field_name: str = "T",
                 ux=None, uy=None, T=None, e=None, P=None, pi=None) -> Surface:
    """Surface elements where ``field`` (n_τ, n_x, n_y) crosses ``level`` between saved slices.

    ``tau`` (n_τ,) increasing proper times (fm), not necessarily evenly spaced; grid points at
    x = x0 + i dx, y = y0 + j dy (defaults: a grid centred on 0). ``ux``, ``uy``, ``T``, ``e``,
    ``P`` are optional fields on the same grid; ``pi`` an optional triple (π^xx, π^xy, π^yy).
    If ``T`` (or ``e``) is not given and ``field_name`` is "T" (or "e"), the switching field is used.
    """
    tau = np.asarray(tau, dtype=float)
    field = np.asarray(field, dtype=float)
    if field.ndim != 3 or min(field.shape) < 2:
        raise InputError(f"field must have shape (n_tau, n_x, n_y) with every size >= 2, got {field.shape}")
    if tau.shape != field.shape[:1] or not (np.diff(tau) > 0).all() or tau[0] <= 0:
        raise InputError(f"tau must be {field.shape[0]} increasing positive proper times matching field")
    if not np.isfinite(field).all():
        bad = np.argwhere(~np.isfinite(field))[0]
        raise InputError(f"field is not finite at (tau index, i, j) = {tuple(int(b) for b in bad)}")
    if not np.isfinite(level):
        raise InputError(f"level must be a finite switching value, got {level}")
    dy = dx if dy is None else dy
    if not (dx > 0 and dy > 0):
        raise InputError(f"dx and dy must be positive, got {dx}, {dy}")
    nt, nx, ny = field.shape
    x0 = -0.5 * (nx - 1) * dx if x0 is None else float(x0)
    y0 = -0.5 * (ny - 1) * dy if y0 is None else float(y0)
    if T is None and field_name == "T":
        T = field
    if e is None and field_name == "e":
        e = field
    names, grids = [], []
    for name, g in (("ux", ux), ("uy", uy), ("T", T), ("e", e), ("P", P)):
        if g is not None:
            names.append(name)
            grids.append(_grid(name, g, field.shape))
    if pi is not None:
        if len(pi) != 3:
            raise InputError("pi must be the triple (pi^xx, pi^xy, pi^yy) of grids")
        for name, g in zip(("pixx", "pixy", "piyy"), pi):
            names.append(name)
            grids.append(_grid(name, g, field.shape))
    stacked = np.stack(grids, axis=-1) if grids else np.zeros(field.shape + (0,))

    parts = []
    for n in range(nt - 1):
        piece = _slab(field[n:n + 2], stacked[n:n + 2], tau[n:n + 2], level, dx, dy, x0, y0)
        if piece is not None:
            parts.append(piece)
    if parts:
        pos = np.concatenate([p[0] for p in parts])
        area = np.concatenate([p[1] for p in parts])
        vals = np.concatenate([p[2] for p in parts])
    else:
        pos, area, vals = np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, len(names)))
    dsigma = area * pos[:, :1]                     # Milne factor τ
    got = {name: vals[:, k] for k, name in enumerate(names)}
    nan = np.full(len(pos), np.nan)
    zero = np.zeros(len(pos))
    ux_s, uy_s = got.get("ux", zero), got.get("uy", zero)
    pi_s = None
    if pi is not None:
        pi_s = complete_shear(ux_s, uy_s, got["pixx"], got["pixy"], got["piyy"])
    return Surface(tau=pos[:, 0], x=pos[:, 1], y=pos[:, 2], dsigma=dsigma, ux=ux_s, uy=uy_s,
                   T=got.get("T", nan), e=got.get("e", nan), P=got.get("P", nan), pi=pi_s,
                   level=float(level), field=field_name,
                   hot_at_end=int((field[-1] > level).sum()))


def _slab(values, fields, taus, level, dx, dy, x0, y0):
    """Elements in the cubes between two slices: (centroids (m, 3), vector areas (m, 3), fields (m, F))."""
    nx, ny = values.shape[1:]
    corner_vals = np.stack([values[c[0], c[1]:nx - 1 + c[1], c[2]:ny - 1 + c[2]] for c in _CORNERS], axis=-1)
    above = corner_vals > level
    crossed = above.any(axis=-1) & ~above.all(axis=-1)
    ci, cj = np.nonzero(crossed)
    if len(ci) == 0:
        return None
    m, nf = len(ci), fields.shape[-1]
    v8 = corner_vals[ci, cj]                                                      # (m, 8)
    f8 = np.stack([fields[c[0], ci + c[1], cj + c[2]] for c in _CORNERS], axis=1)  # (m, 8, F)
    p8 = np.empty((m, 8, 3))
    p8[:, :, 0] = taus[_CORNERS[:, 0]][None, :]
    p8[:, :, 1] = x0 + (ci[:, None] + _CORNERS[None, :, 1]) * dx
    p8[:, :, 2] = y0 + (cj[:, None] + _CORNERS[None, :, 2]) * dy

    area_sum = np.zeros((m, 3))
    weight = np.zeros(m)
    pos_sum = np.zeros((m, 3))
    field_sum = np.zeros((m, nf))
    rows = np.arange(m)

    def crossing(a, b, v, p, f):
        """Point and fields where the linear field crosses the level on edge (a, b) (per row)."""
        va, vb = v[rows, a], v[rows, b]
        diff = vb - va
        t = np.where(diff != 0, (level - va) / np.where(diff != 0, diff, 1.0), 0.5)[:, None]
        return p[rows, a] + t * (p[rows, b] - p[rows, a]), f[rows, a] + t * (f[rows, b] - f[rows, a])

    def add(mask, pts, fls, direction):
        """Accumulate the triangle (pts[0], pts[1], pts[2]) oriented along ``direction``, for rows in mask."""
        area = 0.5 * np.cross(pts[1] - pts[0], pts[2] - pts[0])
        sign = np.sign((area * direction).sum(axis=1, keepdims=True))
        area = np.where(mask[:, None], area * sign, 0.0)
        size = np.linalg.norm(area, axis=1)
        area_sum[:] += area
        weight[:] += size
        pos_sum[:] += np.where(mask[:, None], size[:, None] * (pts[0] + pts[1] + pts[2]) / 3.0, 0.0)
        field_sum[:] += np.where(mask[:, None], size[:, None] * (fls[0] + fls[1] + fls[2]) / 3.0, 0.0)

    for tet in _TETRAHEDRA:
        v, p, f = v8[:, tet], p8[:, tet], f8[:, tet]
        up = v > level
        count = up.sum(axis=1)
        order = np.argsort(~up, axis=1, kind="stable")       # vertices above the level first
        # triangles: one vertex on its own side (above if count == 1, below if count == 3)
        tri = (count == 1) | (count == 3)
        if tri.any():
            lone = np.where(count == 1, order[:, 0], order[:, 3])
            others = np.where((count == 1)[:, None], order[:, 1:4], order[:, 0:3])
            pts, fls = zip(*(crossing(lone, others[:, k], v, p, f) for k in range(3)))
            outward = p[rows[:, None], others].mean(axis=1) - p[rows, lone]     # lone above -> others
            outward = np.where((count == 1)[:, None], outward, -outward)
            add(tri, pts, fls, outward)
        quad = count == 2
        if quad.any():
            a, b, c, d = order[:, 0], order[:, 1], order[:, 2], order[:, 3]
            ring = [crossing(a, c, v, p, f), crossing(a, d, v, p, f), crossing(b, d, v, p, f),
                    crossing(b, c, v, p, f)]
            outward = 0.5 * (p[rows, c] + p[rows, d] - p[rows, a] - p[rows, b])
            for i0, i1, i2 in ((0, 1, 2), (0, 2, 3)):
                add(quad, (ring[i0][0], ring[i1][0], ring[i2][0]), (ring[i0][1], ring[i1][1], ring[i2][1]),
                    outward)
    keep = weight > 0
    w = weight[keep, None]
    return pos_sum[keep] / w, area_sum[keep], field_sum[keep] / w


def _event_fields(res, event):
    """(e, ux, uy, pi7) of one event of a :class:`~qcdgen.hic.hydro.evolve.HydroResult` (nt, nx, ny)."""
    e, ux, uy, pi = (np.asarray(a) for a in (res.e, res.ux, res.uy, res.pi))
    if e.ndim == 4:
        if event is None:
            raise InputError("the hydro result holds a batch of events; pass event=INDEX")
        e, ux, uy, pi = e[:, event], ux[:, event], uy[:, event], pi[:, event]
    return e, ux, uy, pi


def surface_from_hydro(res, level: float, *, field: str = "T", event: int | None = None,
                       shear: bool | None = None) -> Surface:
    """Freeze-out surface of one event of a hydro result (``evolve``) at T = level (GeV) or
    e = level (GeV/fm³), with u, T, e, P and (for viscous runs, or ``shear=True``) π^{μν}."""
    if field not in ("T", "e"):
        raise InputError(f"field must be 'T' or 'e', got {field!r}")
    e, ux, uy, pi = _event_fields(res, event)
    T = np.asarray(res.eos.temperature(e), float)
    P = np.asarray(res.eos.pressure(e), float)
    if shear is None:
        shear = res.eta_s > 0
    trip = (pi[..., 3], pi[..., 4], pi[..., 5]) if shear else None
    return find_surface(res.tau, T if field == "T" else e, level, dx=res.dx, x0=float(res.x[0]),
                        y0=float(res.y[0]), field_name=field, ux=ux, uy=uy, T=T, e=e, P=P, pi=trip)


def hot_region_budget(res, level: float, *, field: str = "T", event: int | None = None) -> dict:
    """Energy and transverse momentum per unit η_s (GeV) of the fluid inside the switching
    surface, for the balance against the flux through it (Milne conservation law
    ∂_μ(τT^{μτ}) = −(P + τ²π^{ηη}), ∂_μ(τT^{μi}) = 0):

        flux = start − left − work,   start/left = Σ_{hot cells} τ T^{τν} dx dy at τ0 / τ_last,
        work = ∫ dτ Σ_{hot cells} (P + τ²π^{ηη}) dx dy  (trapezoid over the saved slices).

    Returns {"start", "left", "work", "expected_flux"} as (E, P_x, P_y) arrays. Hot cells are
    the grid points with the field above ``level`` (first-order accurate in dx at the edge).
    """
    e, ux, uy, pi = _event_fields(res, event)
    P = np.asarray(res.eos.pressure(e), float)
    fld = np.asarray(res.eos.temperature(e), float) if field == "T" else e
    hot = fld > level
    ut = np.sqrt(1.0 + ux ** 2 + uy ** 2)
    w = e + P
    tau = np.asarray(res.tau, float)[:, None, None]
    dens = tau * np.stack([w * ut * ut - P + pi[..., 0], w * ut * ux + pi[..., 1], w * ut * uy + pi[..., 2]])
    cell = res.dx * res.dx
    per_slice = (dens * hot).sum(axis=(2, 3)) * cell                 # (3, nt)
    source = ((P + pi[..., 6]) * hot).sum(axis=(1, 2)) * cell        # (nt,)
    work = np.concatenate([np.trapezoid(source, np.asarray(res.tau, float))[None], np.zeros(2)])
    start, left = per_slice[:, 0], per_slice[:, -1]
    return {"start": start, "left": left, "work": work, "expected_flux": start - left - work}
