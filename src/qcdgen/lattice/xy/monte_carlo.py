"""Markov-chain updates of O(2) spins on any bipartite graph: Wolff clusters, over-relaxation, Metropolis.

Spins are angles θ_i; the weight is e^{β Σ_b cos(θ_i − θ_j)} over the bonds b = (i, j) of a
neighbour table (a site listed twice as a neighbour of another carries two bonds, as on a 2×2
torus). All three updates leave this weight invariant:

- Wolff (PRL 62 (1989) 361): pick a random unit vector r = (cos φ, sin φ) and a seed site; a bond
  (i, j) joins j to the cluster with probability 1 − exp(min(0, −2β (r·s_i)(r·s_j))); the cluster
  is reflected, s ↦ s − 2(r·s) r, i.e. θ ↦ π + 2φ − θ. The cluster is grown one shell at a time
  (every bond from the cluster to a new site is tried exactly once, as in the site-by-site growth);
- over-relaxation (Creutz, PRD 36 (1987) 515; Brown & Woch, PRL 58 (1987) 2394): θ_i ↦ 2ψ_i − θ_i,
  ψ_i the angle of the local field h_i = Σ_j s_j, keeps the energy and is its own inverse;
- Metropolis: θ_i ↦ θ_i + δ u, u uniform on [−1, 1], accepted with min(1, e^{β h_i·(s_i' − s_i)}).

Over-relaxation and Metropolis update one sublattice of the bipartite graph at a time, vectorised
over sites and independent chains (``theta`` is [chains, sites]). NumPy float64 throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qcdgen.errors import InputError


@dataclass(frozen=True)
class Graph:
    """``neighbours`` [V, z] (every bond listed once from each end) and a two-colouring ``colour`` [V]."""

    neighbours: np.ndarray
    colour: np.ndarray

    @property
    def sites(self) -> int:
        return len(self.neighbours)

    @property
    def bonds(self) -> int:
        return self.neighbours.size // 2


def torus(size: int) -> Graph:
    """The L×L periodic square lattice (site x = (a, b) → a L + b), L even (two sublattices)."""
    if size < 2 or size % 2:
        raise InputError(f"--size must be an even integer >= 2 for the checkerboard updates, got {size!r}")
    a, b = np.divmod(np.arange(size * size), size)
    site = lambda i, j: (i % size) * size + (j % size)  # noqa: E731
    neighbours = np.stack([site(a + 1, b), site(a - 1, b), site(a, b + 1), site(a, b - 1)], axis=1)
    return Graph(neighbours=neighbours, colour=(a + b) % 2)


def ring(sites: int) -> Graph:
    """A periodic chain of an even number of sites (the 1D XY model)."""
    if sites < 2 or sites % 2:
        raise InputError(f"a ring needs an even number >= 2 of sites, got {sites!r}")
    i = np.arange(sites)
    return Graph(neighbours=np.stack([(i + 1) % sites, (i - 1) % sites], axis=1), colour=i % 2)


def local_field(theta: np.ndarray, graph: Graph, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h = Σ_j (cos θ_j, sin θ_j) over the neighbours of ``sites`` ([chains, len(sites)] each)."""
    nb = theta[:, graph.neighbours[sites]]  # [chains, n, z]
    return np.cos(nb).sum(-1), np.sin(nb).sum(-1)


def overrelax(theta: np.ndarray, graph: Graph) -> None:
    """One over-relaxation sweep (both sublattices), in place."""
    for c in (0, 1):
        sites = np.flatnonzero(graph.colour == c)
        hx, hy = local_field(theta, graph, sites)
        theta[:, sites] = 2.0 * np.arctan2(hy, hx) - theta[:, sites]


def metropolis(theta: np.ndarray, graph: Graph, beta: float, rng: np.random.Generator, step: float) -> float:
    """One Metropolis sweep (both sublattices), in place; returns the acceptance rate."""
    accepted = 0
    for c in (0, 1):
        sites = np.flatnonzero(graph.colour == c)
        hx, hy = local_field(theta, graph, sites)
        old = theta[:, sites]
        new = old + step * (2.0 * rng.random(old.shape) - 1.0)
        gain = beta * (hx * (np.cos(new) - np.cos(old)) + hy * (np.sin(new) - np.sin(old)))
        accept = np.log(rng.random(old.shape)) < gain
        theta[:, sites] = np.where(accept, new, old)
        accepted += int(accept.sum())
    return accepted / theta.size


def wolff(theta: np.ndarray, graph: Graph, beta: float, rng: np.random.Generator) -> int:
    """Grow and flip one Wolff cluster in the single chain ``theta`` [V] (in place); returns its size."""
    phi = 2.0 * math.pi * rng.random()
    proj = np.cos(theta - phi)  # r·s_i
    in_cluster = np.zeros(graph.sites, dtype=bool)
    frontier = np.array([rng.integers(graph.sites)])
    in_cluster[frontier] = True
    z = graph.neighbours.shape[1]
    while frontier.size:
        target = graph.neighbours[frontier].ravel()
        source = np.repeat(frontier, z)
        fresh = ~in_cluster[target]
        target, source = target[fresh], source[fresh]
        p = -np.expm1(np.minimum(0.0, -2.0 * beta * proj[source] * proj[target]))
        frontier = np.unique(target[rng.random(target.size) < p])
        in_cluster[frontier] = True
    theta[in_cluster] = math.pi + 2.0 * phi - theta[in_cluster]
    return int(in_cluster.sum())


def metropolis_step_size(beta: float, coordination: int) -> float:
    """A proposal width δ ≈ 2/√(β z) (the local field's Gaussian width at low T), at most π."""
    return float(min(math.pi, 2.0 / math.sqrt(max(beta * coordination, 1e-12))))


def update(theta: np.ndarray, graph: Graph, beta: float, rng: np.random.Generator, clusters: int = 1,
           overrelax_sweeps: int = 1, metropolis_sweeps: int = 1) -> dict:
    """One Monte Carlo step of every chain in ``theta`` [chains, V] (in place): ``clusters`` Wolff clusters
    per chain, then ``overrelax_sweeps`` over-relaxation and ``metropolis_sweeps`` Metropolis sweeps.
    Returns ``cluster_size`` (mean over the step's clusters, NaN without any) and ``acceptance``."""
    sizes = [wolff(theta[c], graph, beta, rng) for c in range(len(theta)) for _ in range(clusters)]
    for _ in range(overrelax_sweeps):
        overrelax(theta, graph)
    step = metropolis_step_size(beta, graph.neighbours.shape[1])
    acc = [metropolis(theta, graph, beta, rng, step) for _ in range(metropolis_sweeps)]
    np.remainder(theta + math.pi, 2.0 * math.pi, out=theta)
    theta -= math.pi
    return {"cluster_size": float(np.mean(sizes)) if sizes else math.nan,
            "acceptance": float(np.mean(acc)) if acc else math.nan}


def bond_cosines(theta: np.ndarray, graph: Graph) -> np.ndarray:
    """Σ_b cos(θ_i − θ_j) / bonds per chain ([chains]): the mean bond energy is −this."""
    total = np.cos(theta[:, :, None] - theta[:, graph.neighbours]).sum(axis=(1, 2))
    return total / (2 * graph.bonds)
