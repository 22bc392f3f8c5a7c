"""Pipelines behind ``qcdgen inverse spectral`` and ``qcdgen inverse spectral-bench``.

``run_spectral`` reads ``x,value,error`` from a CSV, reconstructs ρ(ω) on a uniform grid and
writes ``omega,rho,rho_lo,rho_hi``.  ``run_spectral_bench`` runs the mock suite: every method on
every (shape, noise) pair, several noise realisations each, and tabulates MSE, KL and time.

Both return plain results and draw nothing: the figure of ``--plot`` is
:func:`qcdgen.report.spectral_plots.write_spectral_plot`, and
:func:`qcdgen.report.pipelines.run_spectral` is this pipeline with the ``plot=`` keyword.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from qcdgen.checks import check_choice, check_positive_int
from qcdgen.errors import InputError
from qcdgen.inverse.kernels import check_kernel, omega_grid
from qcdgen.inverse.spectral.api import METHOD_LABELS, METHODS, Correlator, SpectralResult, reconstruct
from qcdgen.inverse.tables import read_columns, write_columns
from qcdgen.io.atomic import atomic_write_text, check_writable
from qcdgen.runtime import progress_bar


def read_correlator(path: str | os.PathLike, kernel: str, temperature: float | None = None) -> Correlator:
    """Read ``x,value,error`` (x = p for the Källén–Lehmann kernel, τ otherwise)."""
    check_kernel(kernel, temperature)
    cols = read_columns(path, ["x", "value", "error"], min_rows=2, positive=("error",))
    return Correlator(x=cols["x"], value=cols["value"], error=cols["error"], kernel=kernel,
                      temperature=temperature)


def run_spectral(corr_csv: str | os.PathLike, *, kernel: str, method: str, omega_min: float,
                 omega_max: float, omega_points: int, out: str | os.PathLike, temperature: float | None = None,
                 ensemble: int = 8, seed: int = 0, device: str = "cpu", progress: bool = True,
                 options: dict | None = None) -> SpectralResult:
    """Reconstruct ρ(ω) from the correlator in ``corr_csv`` and write ``omega,rho,rho_lo,rho_hi``.

    ``options`` go to the method (for ``gp``: ``marginalise=True`` integrates over the hyperparameters).

    D(x_i) = Σ_j K(x_i, ω_j) ρ(ω_j) Δω_j: the integral is the rectangle sum over the uniform grid
    ω_j = omega_min … omega_max (omega_points points, Δω = grid spacing). Draws nothing (see the
    module docstring for the plot).
    """
    check_choice(method, "--method", METHODS)
    omega = omega_grid(omega_min, omega_max, omega_points)
    correlator = read_correlator(corr_csv, kernel, temperature)
    check_writable(out)
    result = reconstruct(correlator, omega, method, ensemble=ensemble, seed=seed, device=device,
                         progress=progress, **(options or {}))
    band = ("GP posterior mean ± 1 sigma (not clipped), hyperparameters " +
            ", ".join(f"{k}={v:.4g}" for k, v in result.options["hyper"].items())
            if result.band == "posterior" else "ensemble mean ± std (lower edge clipped at 0)")
    comment = (f"qcdgen inverse spectral: method={method} kernel={kernel}"
               f"{f' T={temperature:g}' if temperature else ''} ensemble={ensemble} seed={seed}\n"
               f"band = {band}; chi2/point of the mean = "
               f"{result.chi2_per_point:.4g}\n"
               f"D(x_i) = sum_j K(x_i, omega_j) rho_j d_omega (rectangle rule, d_omega = {float(omega[1] - omega[0]):.6g})")
    write_columns(out, {"omega": result.omega, "rho": result.rho, "rho_lo": result.rho_lo,
                        "rho_hi": result.rho_hi}, comment=comment)
    return result


# ---------------------------------------------------------------------------------------- mock suite

@dataclass
class BenchRow:
    """One (shape, noise, method) cell of the mock-suite table, averaged over noise realisations."""

    shape: str
    noise: float
    method: str
    mse: float
    mse_err: float
    kl: float
    kl_err: float
    chi2_per_point: float
    seconds: float
    repeats: int


def _mean_err(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")


def _parse_list(values, name: str, allowed=None, cast=str) -> list:
    items = values.split(",") if isinstance(values, str) else list(values)
    out = []
    for item in items:
        try:
            v = cast(item.strip() if isinstance(item, str) else item)
        except ValueError:
            raise InputError(f"{name} must be a comma-separated list, got {item!r}") from None
        if allowed is not None and v not in allowed:
            raise InputError(f"{name} entries must be among {', '.join(allowed)}, got {v!r}")
        out.append(v)
    if not out:
        raise InputError(f"{name} must not be empty")
    return out


def run_spectral_bench(*, shapes="bw,gauss,double", noises="1e-2,1e-3,1e-4,1e-5",
                       methods="nn,p2p,mem,tikhonov", kernel: str = "kl", temperature: float | None = None,
                       repeats: int = 3, seed: int = 0, device: str = "cpu", progress: bool = True,
                       json_out: str | os.PathLike | None = None) -> list[BenchRow]:
    """MSE and KL of every method on the mock suite (the same noisy data for every method).

    Each (shape, noise) pair is drawn ``repeats`` times with independent noise; each method fits
    each draw once (no ensemble), so the ± is the standard error over noise realisations.
    """
    from qcdgen.inverse.spectral.mock import SHAPES, kl_divergence, make_mock, mse

    shapes = _parse_list(shapes, "--shapes", allowed=tuple(SHAPES))
    noises = _parse_list(noises, "--noise", cast=float)
    methods = _parse_list(methods, "--methods", allowed=tuple(METHODS))
    repeats = check_positive_int(repeats, "--repeats")
    check_kernel(kernel, temperature)
    if json_out is not None:
        check_writable(json_out, "--json")

    rows, total = [], len(shapes) * len(noises) * repeats * len(methods)
    with progress_bar(progress) as bar:
        task = bar.add_task("mock suite", total=total, status="")
        for si, shape in enumerate(shapes):
            for ni, noise in enumerate(noises):
                cells = {m: {"mse": [], "kl": [], "chi2": [], "t": []} for m in methods}
                for r in range(repeats):
                    gen = torch.Generator().manual_seed(seed * 1_000_003 + 10_007 * si + 101 * ni + r)
                    mock = make_mock(shape, kernel=kernel, noise=noise, temperature=temperature, generator=gen)
                    corr = Correlator(x=mock.x, value=mock.data, error=mock.sigma, kernel=kernel,
                                      temperature=mock.temperature)
                    for m in methods:
                        bar.update(task, status=f"{shape} ε={noise:g} {METHOD_LABELS[m]}")
                        t0 = time.perf_counter()
                        res = reconstruct(corr, mock.omega, m, ensemble=1, seed=seed + r, device=device,
                                          progress=False)
                        cells[m]["t"].append(time.perf_counter() - t0)
                        rho = torch.as_tensor(res.rho)
                        cells[m]["mse"].append(float(mse(rho, mock.rho_true)))
                        cells[m]["kl"].append(float(kl_divergence(mock.rho_true, rho, mock.omega)))
                        cells[m]["chi2"].append(res.chi2_per_point)
                        bar.update(task, advance=1)
                for m in methods:
                    c = cells[m]
                    (mse_m, mse_e), (kl_m, kl_e) = _mean_err(c["mse"]), _mean_err(c["kl"])
                    rows.append(BenchRow(shape=shape, noise=noise, method=m, mse=mse_m, mse_err=mse_e, kl=kl_m,
                                         kl_err=kl_e, chi2_per_point=float(np.mean(c["chi2"])),
                                         seconds=float(np.mean(c["t"])), repeats=repeats))
    if json_out is not None:
        atomic_write_text(json_out, json.dumps({"kernel": kernel, "rows": [asdict(r) for r in rows]}, indent=1))
    return rows


def format_bench_table(rows: list[BenchRow]) -> str:
    """A plain-text table: one line per (shape, noise), MSE ± error per method, then times."""
    methods = list(dict.fromkeys(r.method for r in rows))
    head = f"{'shape':<7}{'noise':>8} | " + " | ".join(f"{METHOD_LABELS[m] + ' MSE':>21}" for m in methods)
    head += " | " + " ".join(f"{METHOD_LABELS[m] + ' KL':>12}" for m in methods)
    head += " | " + " ".join(f"{METHOD_LABELS[m] + ' s':>10}" for m in methods)
    lines = [head, "-" * len(head)]
    keys = list(dict.fromkeys((r.shape, r.noise) for r in rows))
    by = {(r.shape, r.noise, r.method): r for r in rows}
    for shape, noise in keys:
        cells = [by[(shape, noise, m)] for m in methods]
        line = f"{shape:<7}{noise:>8.0e} | " + " | ".join(
            f"{c.mse:>10.3e} ± {c.mse_err:<8.1e}" if np.isfinite(c.mse_err) else f"{c.mse:>10.3e}{'':11}"
            for c in cells)
        line += " | " + " ".join(f"{c.kl:>12.3e}" for c in cells)
        line += " | " + " ".join(f"{c.seconds:>10.2f}" for c in cells)
        lines.append(line)
    return "\n".join(lines)


def bench_best_method(rows: list[BenchRow]) -> dict[tuple[str, float], str]:
    """For each (shape, noise), the method with the smallest MSE."""
    best: dict[tuple[str, float], BenchRow] = {}
    for r in rows:
        key = (r.shape, r.noise)
        if key not in best or r.mse < best[key].mse:
            best[key] = r
    return {k: v.method for k, v in best.items()}


__all__ = ["read_correlator", "run_spectral", "run_spectral_bench", "format_bench_table", "BenchRow",
           "bench_best_method"]
