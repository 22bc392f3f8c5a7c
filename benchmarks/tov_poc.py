"""Proof of concept: recover a known neutron-star EoS from 11 noisy mass-radius points.

Truth: the Read et al. (2009) piecewise-polytrope fit to SLy (log10 p1 = 34.384, Γ = 3.005,
2.988, 2.851; M_max ≈ 2.05 M_sun).  Eleven stars with true masses 1.0, 1.1, ..., 2.0 M_sun get
Gaussian noise σ_M = 0.07 M_sun, σ_R = 0.4 km.  ``run_tov`` (the ``qcdgen inverse tov`` pipeline)
fits an ensemble of neural EoSs; we then report how much of the truth lies inside the 16-84 %
bands (and the min-max envelope of the members):

- P(ε) on the energy densities the true stars probe: ε_c(1.0 M_sun) ≤ ε ≤ ε_c(M_max);
- R(M) for 1.0 M_sun ≤ M ≤ M_max(true);
- M_max recovered vs true, and R(1.4 M_sun).

    python benchmarks/tov_poc.py                 # default pipeline settings (8 members)
    python benchmarks/tov_poc.py --ensemble 16 --epochs 300

Writes benchmarks/results/tov_poc.png and benchmarks/results/tov_poc.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from qcdgen.inverse.tables import write_columns
from qcdgen.inverse.tov import mass_radius_curve, read_sly_pp, run_tov
from qcdgen.inverse.tov.inference import mass_radius_band, quantile_band
from qcdgen.inverse.tov.pipeline import DEFAULT_EPOCHS
from qcdgen.io.atomic import atomic_path, atomic_write_text
from qcdgen.report.tov_plots import tov_figure

SLY = (34.384, 3.005, 2.988, 2.851)
SIGMA_M, SIGMA_R = 0.07, 0.4


def truth_curves():
    eos = read_sly_pp(*SLY)
    c = mass_radius_curve(eos, 0.03, 1.2, 400, n_steps=200)
    m, r, h = (x[c.stable].numpy() for x in (c.mass, c.radius, c.h_c))
    h_fine = torch.linspace(0.001, 1.2, 4000, dtype=torch.float64)
    pt = eos.evaluate(h_fine)
    eps_of_h = lambda hh: np.interp(hh, h_fine.numpy(), pt.energy_density.numpy())  # noqa: E731
    return dict(mass=m, radius=r, eps_c=eps_of_h(h), m_max=float(c.m_max), r_max=float(c.r_at_m_max),
                eps_c_max=float(eps_of_h(float(c.h_c_max))), eps=pt.energy_density.numpy(),
                p=pt.pressure.numpy())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ensemble", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=2024)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    truth = truth_curves()
    m_true = np.linspace(1.0, 2.0, 11)
    r_true = np.interp(m_true, truth["mass"], truth["radius"])
    rng = np.random.default_rng(args.data_seed)
    obs = {"mass": m_true + SIGMA_M * rng.standard_normal(11), "mass_error": np.full(11, SIGMA_M),
           "radius": r_true + SIGMA_R * rng.standard_normal(11), "radius_error": np.full(11, SIGMA_R)}
    with tempfile.TemporaryDirectory() as tmp:
        write_columns(Path(tmp) / "obs.csv", obs)
        t0 = time.perf_counter()
        res = run_tov(Path(tmp) / "obs.csv", out=Path(tmp) / "eos.csv", ensemble=args.ensemble,
                      epochs=args.epochs, seed=args.seed, progress=True)
        wall = time.perf_counter() - t0
    fit = res.fit
    eps = fit.energy_density
    p_true = np.exp(np.interp(np.log(eps), np.log(truth["eps"][1:]), np.log(truth["p"][1:])))
    probe = (eps >= np.interp(1.0, truth["mass"], truth["eps_c"])) & (eps <= truth["eps_c_max"])
    p_lo, p_med, p_hi = quantile_band(fit.pressure, (0.16, 0.84))
    env_lo, env_hi = np.nanmin(fit.pressure, 0), np.nanmax(fit.pressure, 0)
    cov = lambda x, lo, hi, sel: float(np.mean((x[sel] >= lo[sel]) & (x[sel] <= hi[sel])))  # noqa: E731
    m_grid = np.linspace(1.0, truth["m_max"] * 0.999, 200)
    r_t = np.interp(m_grid, truth["mass"], truth["radius"])
    r_lo, r_med, r_hi, n_k = mass_radius_band(fit, m_grid, (0.16, 0.84))
    e_lo, _, e_hi, _ = mass_radius_band(fit, m_grid, (0.0, 1.0))
    sel_m = np.isfinite(r_lo)
    rows = [
        ("P(ε) inside 16-84 % band", f"{cov(p_true, p_lo, p_hi, probe):.2f}",
         f"ε ∈ [{eps[probe].min():.0f}, {eps[probe].max():.0f}] MeV/fm³ ({probe.sum()} grid points)"),
        ("P(ε) inside min-max envelope", f"{cov(p_true, env_lo, env_hi, probe):.2f}", "same range"),
        ("max |ln P_median/P_true|", f"{np.max(np.abs(np.log(p_med[probe] / p_true[probe]))):.3f}", "same range"),
        ("R(M) inside 16-84 % band", f"{cov(r_t, r_lo, r_hi, sel_m):.2f}",
         f"M ∈ [1.0, {m_grid[sel_m].max():.3f}] M_sun where ≥ 2 members reach M"),
        ("R(M) inside min-max envelope", f"{cov(r_t, e_lo, e_hi, sel_m):.2f}", "same range"),
        ("max |R_median - R_true| [km]", f"{np.nanmax(np.abs(r_med - r_t)):.3f}", "same range"),
        ("M_max true [M_sun]", f"{truth['m_max']:.3f}", "SLy itself: 2.05 (Douchin & Haensel 2001)"),
        ("M_max recovered [M_sun]", f"{res.m_max:.3f} [{res.m_max_lo:.3f}, {res.m_max_hi:.3f}]",
         f"median [16 %, 84 %]; members: {np.array2string(np.sort(fit.m_max), precision=3)}"),
        ("R(1.4) true [km]", f"{np.interp(1.4, truth['mass'], truth['radius']):.3f}", ""),
        ("R(1.4) recovered [km]", f"{res.r14:.3f} [{res.r14_lo:.3f}, {res.r14_hi:.3f}]", "median [16 %, 84 %]"),
        ("members used / failed", f"{res.members_used} / {len(res.failed)}", ""),
        ("wall time [s]", f"{wall:.1f}", f"{args.ensemble} members × {args.epochs} epochs, CPU, "
                                         f"{torch.get_num_threads()} thread(s)"),
    ]
    w = max(len(r[0]) for r in rows)
    print()
    for name, val, note in rows:
        print(f"{name:<{w}}  {val:<28} {note}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = ["# TOV proof of concept: neural EoS from 11 noisy M-R points (truth: SLy piecewise polytrope)", "",
          f"Command: `OMP_NUM_THREADS=1 python benchmarks/tov_poc.py --ensemble {args.ensemble} --epochs {args.epochs} "
          f"--seed {args.seed} --data-seed {args.data_seed}`; σ_M = {SIGMA_M} M_sun, σ_R = {SIGMA_R} km.", "",
          "| quantity | value | note |", "| --- | --- | --- |"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    atomic_write_text(out / "tov_poc.md", "\n".join(md) + "\n")
    sel = eps <= max(truth["eps_c_max"], float(np.max(fit.eps_c_max)))
    mg = np.linspace(0.5, float(np.max(fit.m_max)), 200)
    b = mass_radius_band(fit, mg, (0.16, 0.84))
    fig = tov_figure(eps[sel], p_lo[sel], p_med[sel], p_hi[sel], mg, b[0], b[1], b[2],
                     observations=res.fit.observations, truth_eos=(truth["eps"], truth["p"]),
                     truth_mr=(truth["mass"], truth["radius"]), eps_probed=truth["eps_c_max"])
    fig.axes[0].set_xlim(eps[sel].min(), eps[sel].max())
    with atomic_path(out / "tov_poc.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    print(f"\nwrote {out / 'tov_poc.md'} and {out / 'tov_poc.png'}")


if __name__ == "__main__":
    main()
