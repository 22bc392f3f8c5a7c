"""One API for every spectral-reconstruction method: data in, ρ(ω) with an uncertainty band out.

Each method (``fit_nn``, ``fit_p2p``, ``fit_mem``, ``fit_tikhonov``) turns one correlator into one
ρ on the ω grid.  :func:`reconstruct` wraps it in an ensemble: member k fits the pseudo-data
D + σ ξ_k (ξ_k standard normal, a parametric bootstrap of the noise) with its own random
initialisation, so the band carries both the data errors and the optimiser's spread.  A
pseudo-datum deviates from the truth by σ√2 (the measurement's noise plus the redraw), so members
are fitted with errors σ√2: a method that tunes its regularisation to χ² (Tikhonov's discrepancy
principle, MEM's evidence) then regularises each member consistently.

    ρ̄ = mean_k ρ_k,   band = ρ̄ ± std_k ρ_k (lower edge clipped at 0).

With ``ensemble=1`` the data are fitted as given and no band is reported (lo = hi = ρ).

The ``gp`` method is a posterior, not an ensemble: ρ̄ and the band are the Gaussian-process posterior mean
± one posterior standard deviation (:mod:`.gp`), computed once from the data as given, and the
``members`` are ``ensemble`` draws from that posterior.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from qcdgen.checks import check_positive_int
from qcdgen.errors import InputError, NaNError
from qcdgen.inverse.kernels import apply_kernel, check_kernel, kernel_matrix
from qcdgen.runtime import make_generator, progress_bar, resolve_device, torch_threads

# method name -> (module, function); imported lazily so one method's dependencies never block another
METHODS = {
    "nn": ("qcdgen.inverse.spectral.nn", "fit_nn"),
    "p2p": ("qcdgen.inverse.spectral.nn", "fit_p2p"),
    "mem": ("qcdgen.inverse.spectral.mem", "fit_mem"),
    "tikhonov": ("qcdgen.inverse.spectral.tikhonov", "fit_tikhonov"),
    "gp": ("qcdgen.inverse.spectral.gp", "fit_gp"),
}
METHOD_LABELS = {"nn": "NN", "p2p": "NN-P2P", "mem": "MEM", "tikhonov": "Tikhonov", "gp": "GP"}


def method_function(method: str):
    """The ``fit_<method>(K, data, sigma, omega, *, generator, device, **options)`` function."""
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    module, name = METHODS[method]
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Correlator:
    """A measured correlator D(x_i) ± σ_i and the kernel that relates it to ρ(ω)."""

    x: np.ndarray
    value: np.ndarray
    error: np.ndarray
    kernel: str
    temperature: float | None = None

    def __post_init__(self):
        check_kernel(self.kernel, self.temperature)
        x, v, e = (np.asarray(a, dtype=float).reshape(-1) for a in (self.x, self.value, self.error))
        if not (x.size == v.size == e.size):
            raise InputError(f"x, value and error must have the same length, got {x.size}, {v.size}, {e.size}")
        if x.size < 2:
            raise InputError(f"a correlator needs at least 2 points, got {x.size}")
        for name, a in (("x", x), ("value", v), ("error", e)):
            if not np.isfinite(a).all():
                raise InputError(f"correlator column {name!r} contains NaN or inf")
        if (e <= 0).any():
            raise InputError(f"correlator errors must be > 0, got minimum {e.min():g}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "value", v)
        object.__setattr__(self, "error", e)


@dataclass
class SpectralResult:
    """ρ(ω) on the grid with its band, the ensemble members and the quality of the fit."""

    omega: np.ndarray
    rho: np.ndarray
    rho_lo: np.ndarray
    rho_hi: np.ndarray
    members: np.ndarray                 # [ensemble, n_omega]
    method: str
    correlator: Correlator
    chi2_per_point: float               # of the ensemble mean against the given data
    seconds_per_member: float
    options: dict = field(default_factory=dict)
    band: str = "ensemble"              # "ensemble" (mean ± std of the fits) or "posterior" (GP: mean ± 1σ)

    def refolded(self) -> np.ndarray:
        """K ρ̄: the correlator the reconstruction predicts at the data's x."""
        K = kernel_matrix(self.correlator.kernel, self.correlator.x, self.omega, self.correlator.temperature)
        return apply_kernel(K, torch.as_tensor(self.rho)).numpy()


def _member_seeds(seed: int, ensemble: int) -> list[int]:
    return [int(s.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
            for s in np.random.SeedSequence(seed).spawn(ensemble)]


def reconstruct(correlator: Correlator, omega, method: str, *, ensemble: int = 8, seed: int = 0,
                device: str = "cpu", progress: bool = True, **options) -> SpectralResult:
    """Reconstruct ρ on the grid ``omega`` from ``correlator`` with ``method`` and an ensemble band.

    Extra keyword ``options`` go to the method (see its docstring).  A member that returns NaN or
    inf raises :class:`NaNError` naming it; it is never averaged.
    """
    fit = method_function(method)
    ensemble = check_positive_int(ensemble, "--ensemble")
    dev = resolve_device(device)
    make_generator(seed, dev)  # validates the seed
    omega_t = torch.as_tensor(np.asarray(omega, dtype=float), dtype=torch.float64).reshape(-1)
    K = kernel_matrix(correlator.kernel, correlator.x, omega_t, correlator.temperature)
    data = torch.as_tensor(correlator.value, dtype=torch.float64)
    sigma = torch.as_tensor(correlator.error, dtype=torch.float64)
    if method == "gp":
        return _gp_result(correlator, omega_t, K, ensemble, seed, options)

    members, start = [], time.perf_counter()
    with progress_bar(progress) as bar, torch_threads(1):
        task = bar.add_task(f"{METHOD_LABELS[method]} ensemble", total=ensemble, status="")
        for k, member_seed in enumerate(_member_seeds(seed, ensemble)):
            gen = torch.Generator().manual_seed(member_seed)
            if ensemble == 1:
                pseudo, member_sigma = data, sigma
            else:
                pseudo = data + sigma * torch.randn(data.shape, generator=gen, dtype=torch.float64)
                member_sigma = math.sqrt(2.0) * sigma
            rho = fit(K, pseudo, member_sigma, omega_t, generator=gen, device=dev, **options)
            rho = torch.as_tensor(rho, dtype=torch.float64).detach().cpu().reshape(-1)
            if not torch.isfinite(rho).all():
                raise NaNError(f"{METHOD_LABELS[method]} ensemble member {k} (seed {member_seed}) returned "
                               f"{int((~torch.isfinite(rho)).sum())} non-finite values of ρ")
            members.append(rho.numpy())
            bar.update(task, advance=1)
    seconds = (time.perf_counter() - start) / ensemble

    stack = np.stack(members)
    mean = stack.mean(axis=0)
    spread = stack.std(axis=0, ddof=1) if ensemble > 1 else np.zeros_like(mean)
    residual = (K.numpy() @ mean - correlator.value) / correlator.error
    return SpectralResult(omega=omega_t.numpy(), rho=mean, rho_lo=np.clip(mean - spread, 0.0, None),
                          rho_hi=mean + spread, members=stack, method=method, correlator=correlator,
                          chi2_per_point=float(np.mean(residual ** 2)), seconds_per_member=seconds,
                          options=dict(options))


def _gp_result(correlator: Correlator, omega: torch.Tensor, K: torch.Tensor, draws: int, seed: int,
               options: dict) -> SpectralResult:
    """The GP posterior as a :class:`SpectralResult`: mean, mean ± 1σ, posterior draws. Nothing is clipped: the
    Gaussian prior does not know ρ ≥ 0, and a clipped band would no longer be the posterior's interval."""
    from qcdgen.inverse.spectral.gp import gp_posterior

    start = time.perf_counter()
    with torch_threads(1):
        post = gp_posterior(K, correlator.value, correlator.error, omega, seed=seed, **options)
    if not np.isfinite(post.mean).all() or not np.isfinite(post.std).all():
        raise NaNError("the GP posterior has non-finite mean or variance; check the correlator's errors")
    lo, hi = post.band(1.0)
    members = post.samples(draws, np.random.default_rng(seed)) if draws > 1 else post.mean[None]
    residual = (K.numpy() @ post.mean - correlator.value) / correlator.error
    return SpectralResult(omega=omega.numpy(), rho=post.mean, rho_lo=lo, rho_hi=hi,
                          members=members, method="gp", correlator=correlator,
                          chi2_per_point=float(np.mean(residual ** 2)),
                          seconds_per_member=time.perf_counter() - start,
                          options=dict(options) | {"hyper": post.hyper}, band="posterior")
