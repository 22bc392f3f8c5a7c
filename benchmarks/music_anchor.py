"""Anchor for bench_hydro.py: MUSIC's CPU cost per event on the same initial profiles, same machine.

    python benchmarks/music_anchor.py --music /path/to/MUSIChydro [--dx 0.2 0.1] [--workdir DIR]

MUSIC (github MUSIC-fluid/MUSIC, built separately; never vendored here) is run in boost-invariant
(2+1)D mode on the very e0 [GeV/fm^3] that bench_hydro.run_hydro hands to qcdgen's evolve:
one TRENTo Pb-Pb 2.76 TeV profile per class made by bench_hydro.profiles (norm 95, tau0 = 0.6 fm,
Bjorken start: zero flow, zero shear), eta/s = 0.08, no bulk, ideal-gas EoS (e = 3p), same grid,
the same time step as qcdgen (0.2 dx, capped at tau_pi/2) and its limiter (minmod: Minmod_Theta 1).
The profile goes in through MUSIC's Initial_profile 92 reader ("e only": a text file of nx*ny rows
eta x y e ..., e in GeV/fm^3 times s_factor = 1). MUSIC stops only through its freeze-out surface
finder (Cornelius, once every ``fac_tau`` steps), when no cell is above the switching energy
density; the surface finder and its surface file are therefore part of MUSIC's timing. The
switching energy density is qcdgen's conformal e(T_sw) (g = 47.5): MUSIC's ideal gas has
g = 42.25 (Nf = 2.5), so a temperature criterion would stop at a different energy density.

Measured per event: wall time and child CPU time (user + sys, resource.RUSAGE_CHILDREN) of the
whole MUSIC process with OMP_NUM_THREADS=1 (start-up, reading the profile, evolution, surface
finding, its log written to a file), and qcdgen's evolve via bench_hydro.run_hydro (1 torch
thread): its wall time and the process CPU time (time.process_time) around it. Sanity check:
MUSIC logs eps_max every step; the first tau at which it is below the switching energy density
is compared with qcdgen's tau_stop, and (--emax-check) e_max(tau) at a few taus.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HBARC = 0.1973269804  # GeV fm

MUSIC_INPUT = """\
mode 2
echo_level 1
Initial_profile 92
initialize_with_entropy 0
Initial_Distribution_input_filename {profile}
s_factor 1.0
boost_invariant 1
Initial_time_tau_0 {tau0}
Total_evolution_time_tau {tau_max}
Delta_Tau {dtau}
Grid_size_in_eta 1
Eta_grid_size 0.0
EOS_to_use 0
Viscosity_Flag_Yes_1_No_0 1
Include_Shear_Visc_Yes_1_No_0 1
Shear_to_S_ratio {eta_s}
T_dependent_Shear_to_S_ratio 0
shear_relax_time_factor 5.0
Include_Bulk_Visc_Yes_1_No_0 0
Include_second_order_terms 0
Include_Rhob_Yes_1_No_0 0
turn_on_baryon_diffusion 0
Minmod_Theta {theta}
Runge_Kutta_order 2
output_evolution_data 0
output_movie_flag 0
output_hydro_debug_info 0
store_hydro_info_in_memory 0
Do_FreezeOut_Yes_1_No_0 {surface}
Do_FreezeOut_lowtemp 0
freeze_out_method 4
freeze_surface_in_binary 1
average_surface_over_this_many_time_steps {fac_tau}
freeze_Ncell_x_step 1
freeze_Ncell_eta_step 1
use_eps_for_freeze_out 1
freeze_eps_flag 0
N_freeze_out 1
eps_freeze_max {e_sw}
eps_freeze_min {e_sw}
EndOfData
"""


def switching_energy_density(t_sw):
    """qcdgen's conformal e(T_sw) in GeV/fm^3 (the energy density at which both codes stop)."""
    from qcdgen.hic.hydro.eos import ConformalEOS
    return float(ConformalEOS().energy_density(t_sw))


def write_profile(path, e0, dx, tau0):
    """e0 [n, n] GeV/fm^3 on cell centres -> MUSIC's Initial_profile 9x text format (x outer, y inner)."""
    e0 = np.asarray(e0, dtype=float)
    nx, ny = e0.shape
    x = (np.arange(nx) - 0.5 * (nx - 1)) * dx
    y = (np.arange(ny) - 0.5 * (ny - 1)) * dx
    X, Y = np.meshgrid(x, y, indexing="ij")
    cols = np.zeros((nx * ny, 18))
    cols[:, 1], cols[:, 2], cols[:, 3], cols[:, 4] = X.ravel(), Y.ravel(), e0.ravel(), 1.0  # eta=0, u^tau=1
    header = f"# tau_in_fm {tau0} etamax= 1 xmax= {nx} ymax= {ny} deta= 0 dx= {dx} dy= {dx}"
    np.savetxt(path, cols, fmt="%.8e", header=header, comments="")


def parse_log(text):
    """(tau, eps_max [GeV/fm^3]) per time step from MUSIC's log (eps_max is logged before 'Done time step')."""
    taus, emax, pending = [], [], None
    for line in text.splitlines():
        m = re.search(r"eps_max = ([-+0-9.eE]+) GeV/fm\^3", line)
        if m:
            pending = float(m.group(1))
            continue
        m = re.search(r"Done time step \d+/\d+ tau = ([-+0-9.eE]+) fm/c", line)
        if m and pending is not None:
            taus.append(float(m.group(1)))
            emax.append(pending)
            pending = None
    return np.array(taus), np.array(emax)


def qcdgen_dtau(e0, dx, eta_s, b_pi=5.0, cfl=0.2):
    """The base step qcdgen's evolve takes: min(cfl dx, tau_pi(T_max at tau0)/2)."""
    from qcdgen.hic.hydro.eos import ConformalEOS
    tmax = float(ConformalEOS().temperature(float(np.max(e0))))
    return min(cfl * dx, 0.5 * b_pi * eta_s * HBARC / tmax)


def run_music(binary, e0, dx, tau0, eta_s, t_sw, workdir, *, dtau=None, tau_max=25.0, fac_tau=None,
              theta=1.0, surface=True):
    """Run MUSIC (2+1)D on e0 [n, n] (GeV/fm^3, cell centres, spacing dx fm) with OMP_NUM_THREADS=1.

    dtau defaults to qcdgen's step (:func:`qcdgen_dtau`); fac_tau (steps between freeze-out
    surface searches, hence the stop resolution) to about 0.2 fm; theta = 1 is the plain minmod
    limiter qcdgen uses (MUSIC's usual 1.8 is sharper); surface=False switches the surface finder
    off (MUSIC then runs to tau_max: only for measuring the finder's share).
    Returns wall_s, cpu_s (child user+sys), tau_end_fm (last logged step), returncode, and from
    the log taus, eps_max, tau_below_esw (first tau with eps_max below e_sw), e_sw, steps, log.
    """
    binary = Path(binary)
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise FileNotFoundError(f"MUSIC binary not found or not executable: {binary} "
                                f"(build github MUSIC-fluid/MUSIC and pass --music PATH/MUSIChydro)")
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    dtau = qcdgen_dtau(e0, dx, eta_s) if dtau is None else dtau
    fac_tau = max(1, round(0.2 / dtau)) if fac_tau is None else fac_tau
    e_sw = switching_energy_density(t_sw)
    write_profile(work / "e0_profile.dat", e0, dx, tau0)
    (work / "music_input").write_text(MUSIC_INPUT.format(
        profile="e0_profile.dat", tau0=tau0, tau_max=tau_max, dtau=f"{dtau:.6g}", eta_s=eta_s,
        fac_tau=fac_tau, e_sw=f"{e_sw:.8g}",
        theta=theta, surface=int(surface)))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    log = work / "music.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "w") as out:
        rc = subprocess.run([str(binary.resolve()), "music_input"], cwd=work, env=env, stdout=out,
                            stderr=subprocess.STDOUT, check=False).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    taus, emax = parse_log(log.read_text(errors="replace"))
    below = np.nonzero(emax < e_sw)[0]
    return {"wall_s": wall, "cpu_s": cpu, "tau_end_fm": float(taus[-1]) if len(taus) else float("nan"),
            "returncode": rc, "taus": taus, "eps_max": emax, "e_sw": e_sw, "steps": len(taus),
            "tau_below_esw": float(taus[below[0]]) if len(below) else float("nan"), "log": str(log)}


def qcdgen_emax(e0, dx, taus):
    """qcdgen's max e(tau) at the given taus (an extra, untimed evolve with those save times)."""
    import bench_hydro as bh

    from qcdgen.hic.hydro import evolve
    res = evolve(e0, dx=dx, tau0=bh.TAU0, tau_end=bh.TAU_MAX, eta_s=bh.ETA_S, save_taus=list(taus), stop_T=bh.T_SW)
    return {float(t): float(e.max()) for t, e in zip(res.tau, res.e)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", required=True, help="path to the MUSIChydro binary")
    parser.add_argument("--dx", type=float, nargs="+", default=[0.2, 0.1])
    parser.add_argument("--workdir", default="/tmp/music_anchor")
    parser.add_argument("--json", default=None, help="also write the rows (without the per-step arrays) here")
    parser.add_argument("--emax-check", action="store_true",
                        help="also compare e_max(tau) at a few taus (one extra untimed qcdgen run per row)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_hydro as bh
    import torch
    torch.set_num_threads(1)
    from qcdgen.hic.hydro.initial import initial_energy_density
    rows = []
    for cls in bh.CLASSES:
        for dx in args.dx:
            prof = bh.profiles(cls, dx, 1)[0]
            e0 = initial_energy_density(prof, norm=bh.NORM, tau0=bh.TAU0)
            name = f"{cls[0]}-{cls[1]}%"
            m = run_music(args.music, e0, dx, bh.TAU0, bh.ETA_S, bh.T_SW, Path(args.workdir) / f"{name}_dx{dx}")
            if m["returncode"] != 0:
                print(f"MUSIC failed (rc {m['returncode']}), see {m['log']}", file=sys.stderr)
            cpu0 = time.process_time()
            secs, res = bh.run_hydro(prof, dx, "cpu")
            row = {"class": name, "dx": dx, "music": m, "qcdgen_s": secs, "qcdgen_cpu_s": time.process_time() - cpu0,
                   "qcdgen_tau": float(res.tau_stop),
                   "qcdgen_steps": res.steps}
            if args.emax_check:
                check = [t for t in (1.0, 2.0, 4.0, 6.0, 8.0) if t < row["qcdgen_tau"]]
                row["qcdgen_emax"] = qcdgen_emax(e0, dx, check)
            rows.append(row)
            print(f"  {name} dx={dx}: MUSIC {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU; "
                  f"qcdgen {secs:.1f} s wall, {row['qcdgen_cpu_s']:.1f} s CPU", file=sys.stderr)
    load = os.getloadavg()[0]
    print(f"MUSIC vs qcdgen (2+1)D, Pb-Pb 2.76 TeV, eta/s={bh.ETA_S}, tau0={bh.TAU0} fm, stop at e < e(T={bh.T_SW})"
          f" = {rows[0]['music']['e_sw']:.3f} GeV/fm^3, 1 thread, load average {load:.1f}")
    print(f"{'class':7} {'dx':>4} {'MUSIC wall':>10} {'MUSIC CPU':>9} {'qcdgen wall':>11} {'qcdgen CPU':>10} "
          f"{'CPU q/M':>7} "
          f"{'M steps':>7} {'q steps':>7} {'M tau_end':>9} {'M tau(e<e_sw)':>13} {'q tau_stop':>10} {'rel diff':>8}")
    for r in rows:
        m = r["music"]
        rel = (m["tau_below_esw"] - r["qcdgen_tau"]) / r["qcdgen_tau"]
        print(f"{r['class']:7} {r['dx']:4.2f} {m['wall_s']:10.2f} {m['cpu_s']:9.2f} {r['qcdgen_s']:11.2f} "
              f"{r['qcdgen_cpu_s']:10.2f} {r['qcdgen_cpu_s'] / m['cpu_s']:7.2f} {m['steps']:7d} "
              f"{r['qcdgen_steps']:7d} {m['tau_end_fm']:9.2f} "
              f"{m['tau_below_esw']:13.2f} {r['qcdgen_tau']:10.2f} {rel:8.3f}")
    for r in rows:
        if "qcdgen_emax" in r:
            m = r["music"]
            parts = []
            for t, eq in r["qcdgen_emax"].items():
                em = float(np.interp(t, m["taus"], m["eps_max"]))
                parts.append(f"tau={t:g}: MUSIC {em:.3f} qcdgen {eq:.3f} ({em / eq - 1:+.1%})")
            print(f"e_max(tau) {r['class']} dx={r['dx']}: " + "; ".join(parts))
    if args.json:
        drop = ("taus", "eps_max")
        Path(args.json).write_text(json.dumps(
            [dict(r, music={k: v for k, v in r["music"].items() if k not in drop}) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
