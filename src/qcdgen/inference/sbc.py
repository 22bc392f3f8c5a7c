"""Simulation-based calibration (SBC) of any posterior sampler.

Talts, Betancourt, Simpson, Vehtari & Gelman, arXiv:1804.06788: draw θ* ~ p(θ), y ~ p(y | θ*),
then L draws θ_1..L from the posterior q(θ | y) under test; the rank

    r = #{l : θ_l < θ*} ∈ {0, …, L}

of θ* among them is uniform on {0, …, L} for every parameter iff q is the exact posterior
(averaged over the prior predictive). A shifted posterior piles ranks at one end, a too narrow
one at both ends (U shape), a too wide one in the middle.

- :func:`sbc_ranks`: the ranks, from three callables (prior draw, simulator, posterior draws);
- :func:`rank_uniformity`: χ² test of the binned ranks against uniform (p-value per parameter);
- :func:`expected_coverage`: for credibility levels α the fraction of θ* inside the central α
  interval of its posterior draws (Hermans et al., TMLR 2022, "expected coverage"); ≈ α when
  calibrated, below α when over-confident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qcdgen.errors import InputError

__all__ = ["SBCResult", "sbc_ranks", "rank_uniformity", "expected_coverage", "run_sbc"]


def sbc_ranks(prior_draw: Callable, simulate: Callable, posterior_draws: Callable, n_sims: int,
              n_posterior: int, seed: int = 0) -> np.ndarray:
    """Ranks (n_sims, d) of θ* among ``n_posterior`` posterior draws.

    ``prior_draw(rng) -> θ (d,)``, ``simulate(θ, rng) -> y``, ``posterior_draws(y, L, rng) -> (L, d)``;
    ``rng`` is a NumPy Generator seeded per simulation from ``seed``.
    """
    for name, v in (("n_sims", n_sims), ("n_posterior", n_posterior)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be an integer >= 1, got {v!r}")
    ranks = []
    for i in range(int(n_sims)):
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), i]))
        theta = np.atleast_1d(np.asarray(prior_draw(rng), float))
        y = simulate(theta, rng)
        draws = np.asarray(posterior_draws(y, int(n_posterior), rng), float).reshape(int(n_posterior), -1)
        if draws.shape[1] != theta.size:
            raise InputError(f"posterior draws have {draws.shape[1]} parameters, the prior {theta.size}")
        ranks.append(np.sum(draws < theta[None, :], axis=0))
    return np.array(ranks, dtype=int)


def rank_uniformity(ranks, n_posterior: int, bins: int | None = None) -> np.ndarray:
    """p-value per parameter of Pearson's χ² test that the ranks are uniform on {0..L} (``bins`` equal bins)."""
    from scipy.stats import chi2

    ranks = np.atleast_2d(np.asarray(ranks))
    n = ranks.shape[0]
    L1 = int(n_posterior) + 1
    if bins is None:
        bins = int(max(2, min(20, L1, n // 10)))
    divisors = [b for b in range(2, int(bins) + 1) if L1 % b == 0]   # equal-probability bins
    if not divisors:
        raise InputError(f"cannot bin ranks of L = {n_posterior} posterior draws into equal bins; use L + 1 with "
                         "small divisors (e.g. L = 99)")
    bins = divisors[-1]
    width = L1 // bins
    counts = np.stack([np.bincount(ranks[:, j] // width, minlength=bins)[:bins] for j in range(ranks.shape[1])])
    expected = n / bins
    stat = np.sum((counts - expected) ** 2 / expected, axis=1)
    return chi2.sf(stat, bins - 1)


def expected_coverage(ranks, n_posterior: int, levels=(0.5, 0.68, 0.8, 0.9, 0.95)) -> dict[float, np.ndarray]:
    """Fraction of simulations (per parameter) whose θ* lies in the central ``level`` interval of its draws."""
    ranks = np.atleast_2d(np.asarray(ranks, float))
    u = (ranks + 0.5) / (int(n_posterior) + 1)          # rank as a quantile in (0, 1)
    return {float(a): np.mean(np.abs(u - 0.5) <= a / 2, axis=0) for a in levels}


@dataclass
class SBCResult:
    ranks: np.ndarray
    n_posterior: int
    p_values: np.ndarray
    coverage: dict

    def passed(self, alpha: float = 0.01) -> bool:
        """No parameter's rank histogram rejected at level ``alpha`` (Bonferroni over parameters)."""
        return bool(np.all(self.p_values > alpha / len(self.p_values)))

    def to_json_dict(self) -> dict:
        return {"n_sims": int(len(self.ranks)), "n_posterior": int(self.n_posterior),
                "p_values": self.p_values.tolist(), "passed": self.passed(),
                "coverage": {str(k): v.tolist() for k, v in self.coverage.items()}}


def run_sbc(prior_draw: Callable, simulate: Callable, posterior_draws: Callable, n_sims: int = 200,
            n_posterior: int = 99, seed: int = 0, bins: int | None = None) -> SBCResult:
    """:func:`sbc_ranks`, :func:`rank_uniformity` and :func:`expected_coverage` in one call."""
    ranks = sbc_ranks(prior_draw, simulate, posterior_draws, n_sims, n_posterior, seed)
    return SBCResult(ranks, int(n_posterior), rank_uniformity(ranks, n_posterior, bins),
                     expected_coverage(ranks, n_posterior))
