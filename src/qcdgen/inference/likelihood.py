"""Gaussian likelihood with model (emulator) uncertainty, and the uniform prior on a box.

    log L(θ) = −½ r(θ)ᵀ Σ(θ)⁻¹ r(θ) − ½ log det 2πΣ(θ),  r = y − μ(θ),  Σ(θ) = Σ_data + Σ_model(θ),

as in Bernhard et al., Nature Phys. 15 (2019) 1113 (Methods): the emulator's predictive
covariance is added to the data covariance, so θ where the emulator is unsure is not
over-constrained. The prior is uniform on the design's box, log p(θ) = 0 inside, −∞ outside.
Everything is vectorised over a batch of θ (emcee's ``vectorize=True``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qcdgen.errors import InputError
from qcdgen.inference.design import ParameterBox

__all__ = ["GaussianLikelihood", "BoxPrior", "LogPosterior", "emulator_likelihood"]


class GaussianLikelihood:
    """``predict(θ (N, d)) -> (mean (N, m), cov (N, m, m))``; ``y`` (m,), ``cov_data`` (m, m)."""

    def __init__(self, predict: Callable, y, cov_data):
        self.predict = predict
        self.y = np.asarray(y, float)
        self.cov_data = np.asarray(cov_data, float)
        if self.cov_data.shape != (len(self.y), len(self.y)):
            raise InputError(f"data covariance must be ({len(self.y)}, {len(self.y)}), got {self.cov_data.shape}")

    def terms(self, theta):
        """(χ²(θ), log det 2πΣ(θ)) per row of ``theta``."""
        theta = np.atleast_2d(np.asarray(theta, float))
        mean, cov = self.predict(theta)
        r = self.y[None, :] - mean
        S = cov + self.cov_data[None]
        L = np.linalg.cholesky(S)
        v = np.linalg.solve(L, r[..., None])[..., 0]
        chi2 = np.sum(v * v, axis=-1)
        logdet = 2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1) + len(self.y) * np.log(2 * np.pi)
        return chi2, logdet

    def chi2(self, theta) -> np.ndarray:
        return self.terms(theta)[0]

    def __call__(self, theta) -> np.ndarray:
        chi2, logdet = self.terms(theta)
        return -0.5 * (chi2 + logdet)


class BoxPrior:
    """Uniform prior on ``box``: log p = −Σ log(hi − lo) inside, −∞ outside."""

    def __init__(self, box: ParameterBox):
        self.box = box
        self.log_norm = -float(np.sum(np.log(box.hi - box.lo)))

    def __call__(self, theta) -> np.ndarray:
        inside = self.box.inside(theta)
        return np.where(inside, self.log_norm, -np.inf)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.box.from_unit(rng.uniform(size=(n, self.box.ndim)))


class LogPosterior:
    """log p(θ | y) = log p(θ) + log L(θ) (unnormalised), batched; the likelihood only inside the prior's support."""

    def __init__(self, log_prior: Callable, log_likelihood: Callable):
        self.log_prior, self.log_likelihood = log_prior, log_likelihood

    def __call__(self, theta) -> np.ndarray:
        theta = np.atleast_2d(np.asarray(theta, float))
        out = np.asarray(self.log_prior(theta), float).copy()
        ok = np.isfinite(out)
        if ok.any():
            out[ok] += self.log_likelihood(theta[ok])
        out[~np.isfinite(out)] = -np.inf
        return out


def emulator_likelihood(emulator, keys, values, cov_data) -> GaussianLikelihood:
    """The likelihood of data ``values`` at outputs ``keys`` [(observable, class)] of ``emulator``."""
    idx = emulator.index(keys)

    def predict(theta):
        # the model mean's uncertainty: the training runs' MC scatter (GP white noise) is not the data's
        return emulator.predict(theta, idx=idx, check=False, noise=False)

    return GaussianLikelihood(predict, values, cov_data)
