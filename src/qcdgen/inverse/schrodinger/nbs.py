"""Potentials from Nambu–Bethe–Salpeter wave functions: the HAL QCD setting.

Ishii, Aoki, Hatsuda (PRL 99 (2007) 022001) define the potential through the Schrödinger equation
the equal-time NBS wave functions obey below inelastic thresholds. For l = 0, u(r) = r ψ(r), and
reduced mass m,

    −u_k''(r)/(2m) + ∫ U(r, r') u_k(r') dr' = E_k u_k(r)          (one equation per state k).

Two representations of U are learned here by minimising the Schrödinger residual summed over the
given states (the wave functions enter through their values and their second differences, taken
from the data):

- local (the leading order of the derivative expansion), U(r, r') = V(r) δ(r − r'), with
  r·V(r) = MLP(r) so that a Coulomb/Yukawa 1/r singularity is representable;
- separable non-local, U(r, r') = ω ν(r) ν(r'), ν = MLP(r), ω = ±1.

Residual per state: R_k(r_i) = −u_k''/(2m) + (U u_k)(r_i) − E_k u_k(r_i); the loss is
Σ_k Σ_i r_i² R_k(r_i)² h / Σ_k Σ_i u_k(r_i)² h (the weight r² keeps the 1/r region near the origin from
dominating: for a local V it is Σ u_k² (r ΔV)², uniform in the network's output r V). The fitted potential is then checked forward: the
radial solver's levels with the learned U are compared with the E_k it was given.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np
import torch

from qcdgen.checks import check_choice, check_positive_int, check_real
from qcdgen.errors import InputError, NaNError
from qcdgen.inverse.schrodinger.solver import kinetic_matrix, solve_radial
from qcdgen.io.atomic import atomic_write_text

__all__ = ["NBSData", "NBSPotentialFit", "yukawa", "nbs_data_from_potential", "fit_nbs_potential",
           "local_potential_pointwise", "read_nbs_csv", "write_nbs_csv", "write_fit_csv", "KINDS"]

KINDS = ("local", "separable")


def yukawa(alpha: float, mu: float):
    """V(r) = −α e^{−μ r}/r as a callable on tensors."""
    return lambda r: -alpha * torch.exp(-mu * r) / r


@dataclass
class NBSData:
    """l = 0 wave functions u_k(r_i) [K, N] on the interior grid r_i = i h, with energies E_k [K]."""

    r: np.ndarray
    h: float
    energies: np.ndarray
    u: np.ndarray
    mass: float

    def __post_init__(self):
        self.u = np.atleast_2d(np.asarray(self.u, dtype=float))
        self.energies = np.atleast_1d(np.asarray(self.energies, dtype=float))
        self.r = np.asarray(self.r, dtype=float)
        if self.u.shape != (len(self.energies), len(self.r)):
            raise InputError(f"wave functions have shape {self.u.shape}; expected (states, grid points) = "
                             f"({len(self.energies)}, {len(self.r)})")
        if not (np.isfinite(self.u).all() and np.isfinite(self.energies).all()):
            raise NaNError("the NBS wave functions or energies contain NaN or inf")
        if len(self.r) < 7 or not np.allclose(np.diff(self.r), self.h, rtol=1e-6):
            raise InputError("the NBS grid must be uniform, r_i = i h, with at least 7 points")


def nbs_data_from_potential(potential, *, mass: float, r_max: float, n_points: int, states: int) -> NBSData:
    """The lowest ``states`` l = 0 eigenstates of ``potential`` in a sphere of radius ``r_max`` (u(r_max) = 0):
    bound states and box-discretised scattering states, as a finite volume gives them. Second-order stencil
    (exact order h² also for 1/r potentials)."""
    spec = solve_radial(potential, mass=mass, r_max=r_max, n_points=n_points, n_levels=states, stencil="fd2")
    return NBSData(r=spec.r.numpy(), h=spec.h, energies=spec.energies[0].numpy(), u=spec.wavefunctions[0].numpy(),
                   mass=float(mass))


def _second_derivative(u: np.ndarray, h: float) -> np.ndarray:
    """u'' on the interior grid with u(0) = 0 and u(r_max) = 0: fourth-order five-point stencil inside,
    three-point next to the boundaries."""
    p = np.pad(u, ((0, 0), (1, 1)))
    d2 = (p[:, 2:] - 2 * p[:, 1:-1] + p[:, :-2]) / h**2
    d2[:, 1:-1] = (-p[:, 4:] + 16 * p[:, 3:-1] - 30 * p[:, 2:-2] + 16 * p[:, 1:-3] - p[:, :-4]) / (12 * h**2)
    return d2


def local_potential_pointwise(data: NBSData) -> np.ndarray:
    """The leading-order HAL QCD potential as the pointwise least-squares solution over the states,
    V(r) = Σ_k u_k (E_k u_k + u_k''/2m) / Σ_k u_k² — unregularised, undefined where every u_k vanishes."""
    d2 = _second_derivative(data.u, data.h)
    num = (data.u * (data.energies[:, None] * data.u + d2 / (2 * data.mass))).sum(0)
    return num / (data.u**2).sum(0)


class _MLP(torch.nn.Module):
    def __init__(self, hidden: int, generator: torch.Generator):
        super().__init__()
        sizes = (1, hidden, hidden, 1)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes, sizes[1:]))
        with torch.no_grad():
            for layer in self.layers:
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator, dtype=torch.float64)
                                   / np.sqrt(layer.weight.shape[1]))
                layer.bias.zero_()

    def forward(self, x):
        h = x[:, None]
        for j, layer in enumerate(self.layers):
            h = layer(h)
            if j < len(self.layers) - 1:
                h = torch.tanh(h)
        return h[:, 0]


@dataclass
class NBSPotentialFit:
    """The learned potential on the data grid: ``V`` (local; None otherwise) or ``nu``, ``omega`` (separable),
    the final relative residual, and the forward check: the solver's levels ``solved_energies`` with the learned
    potential against the given ``energies``."""

    kind: str
    r: np.ndarray
    energies: np.ndarray
    solved_energies: np.ndarray
    residual: float
    V: np.ndarray | None = None
    nu: np.ndarray | None = None
    omega: float | None = None

    @property
    def energy_errors(self) -> np.ndarray:
        return self.solved_energies - self.energies


def fit_nbs_potential(data: NBSData, *, kind: str = "local", hidden: int = 32, steps: int = 3000,
                      lr: float = 1e-2, length: float | None = None, seed: int = 0) -> NBSPotentialFit:
    """Learn U(r, r') from the NBS data by minimising the Schrödinger residual (module docstring); Adam with a
    cosine decay, then L-BFGS. ``length`` scales the network input r/length (default: the grid's r_max/4)."""
    check_choice(kind, "kind", KINDS)
    check_positive_int(hidden, "hidden", 1)
    check_positive_int(steps, "steps", 1)
    check_real(lr, "lr", low=0.0)
    gen = torch.Generator().manual_seed(int(seed))
    r = torch.as_tensor(data.r)
    u = torch.as_tensor(data.u)
    e = torch.as_tensor(data.energies)
    kin = torch.as_tensor(-_second_derivative(data.u, data.h) / (2 * data.mass))
    length = float(data.r[-1] / 4 if length is None else check_real(length, "length", low=0.0))
    x = r / length
    net = _MLP(hidden, gen)
    omega = -1.0 if kind == "separable" else None
    norm = (u**2).sum() * data.h

    def potential_times_u():
        if kind == "local":
            return net(x)[None, :] / r * u
        nu = net(x) * torch.exp(-x)                # ν → 0 at large r
        return omega * nu[None, :] * (u * nu[None, :]).sum(1, keepdim=True) * data.h

    def loss_fn():
        res = kin + potential_times_u() - e[:, None] * u
        return ((r * res)**2).sum() * data.h / norm

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 100)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        if not torch.isfinite(loss):
            raise NaNError("the NBS potential fit diverged (non-finite residual); lower lr")
        loss.backward()
        opt.step()
        sched.step()
    lbfgs = torch.optim.LBFGS(net.parameters(), max_iter=max(steps // 5, 20), line_search_fn="strong_wolfe")

    def closure():
        lbfgs.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    lbfgs.step(closure)
    with torch.no_grad():
        residual = float(loss_fn())
        n = len(data.r)
        ham = kinetic_matrix(n, data.h, data.mass, 0, "fd2")
        if kind == "local":
            V = (net(x) / r).numpy()
            ham = ham + torch.diag(torch.as_tensor(V))
            fields = dict(V=V)
        else:
            nu = net(x) * torch.exp(-x)
            ham = ham + omega * data.h * torch.outer(nu, nu)
            fields = dict(nu=nu.numpy(), omega=omega)
        solved = torch.linalg.eigvalsh(ham)[: len(data.energies)].numpy()
    return NBSPotentialFit(kind=kind, r=data.r, energies=data.energies, solved_energies=solved, residual=residual,
                           **fields)


def read_nbs_csv(path: str | os.PathLike, mass: float) -> NBSData:
    """Wave functions from a CSV with columns ``state,energy,r,u`` (one row per state and grid point; every
    state on the same uniform grid r_i = i h)."""
    mass = check_real(mass, "--mass", low=0.0)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(line for line in f if not line.lstrip().startswith("#")))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read wave-function file {str(path)!r} ({exc})") from None
    need = ("state", "energy", "r", "u")
    if not rows or any(c not in rows[0] for c in need):
        raise InputError(f"{str(path)!r} needs the columns {','.join(need)} and at least one row")
    try:
        table = {c: np.array([float(row[c]) for row in rows]) for c in need}
    except (TypeError, ValueError):
        raise InputError(f"{str(path)!r}: every state,energy,r,u entry must be a number") from None
    states = np.unique(table["state"])
    r = np.sort(table["r"][table["state"] == states[0]])
    u, energies = [], []
    for k in states:
        sel = table["state"] == k
        order = np.argsort(table["r"][sel])
        if not np.array_equal(table["r"][sel][order], r):
            raise InputError(f"{str(path)!r}: state {k:g} is not on the same r grid as state {states[0]:g}")
        u.append(table["u"][sel][order])
        energies.append(table["energy"][sel][0])
    h = float(r[0])
    return NBSData(r=r, h=h, energies=np.array(energies), u=np.array(u), mass=mass)


def write_nbs_csv(data: NBSData, path: str | os.PathLike) -> None:
    """Write ``data`` in the ``state,energy,r,u`` format :func:`read_nbs_csv` reads (atomically)."""
    lines = ["state,energy,r,u"]
    for k, (e, u) in enumerate(zip(data.energies, data.u), 1):
        lines += [f"{k},{float(e)!r},{float(r)!r},{float(v)!r}" for r, v in zip(data.r, u)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def write_fit_csv(fit: NBSPotentialFit, path: str | os.PathLike) -> None:
    """r,V (local) or r,nu (separable, with omega in the header), with the levels check in the header."""
    head = [f"# {fit.kind} potential from NBS wave functions (qcdgen inverse nbs-potential); relative Schroedinger "
            f"residual {fit.residual:.3g}",
            "# given energies: " + " ".join(f"{e:.6g}" for e in fit.energies),
            "# levels of the learned potential: " + " ".join(f"{e:.6g}" for e in fit.solved_energies)]
    if fit.kind == "local":
        body = ["r,V"] + [f"{float(r)!r},{float(v)!r}" for r, v in zip(fit.r, fit.V)]
    else:
        head.append(f"# U(r, r') = omega nu(r) nu(r'), omega = {fit.omega:g}")
        body = ["r,nu"] + [f"{float(r)!r},{float(v)!r}" for r, v in zip(fit.r, fit.nu)]
    atomic_write_text(path, "\n".join(head + body) + "\n")
