"""``qcdgen lattice cl``: complex Langevin for S = ½σ₀x² + ¼λx⁴ against the exact moments, with diagnostics.

JSON layout (``--json``): complex numbers are ``[re, im]``; a Monte Carlo estimate is
``{"value": [re, im], "error": [re_err, im_err], "tau_int": [..], "exact": [re, im], "pull": [re, im]}``
under ``"x2"``, ``"x4"``; ``"exact"`` repeats the exact values; ``"diagnostics"`` holds ``reliable``,
``boundary_term_flag``, ``drift_tail_flag``, the drift tail index, B_O(Y) and the falloff of P(x, y) in |y|;
``"ebm"`` (with ``--ebm``) the energy-based model's quadrature moments.
"""

from __future__ import annotations

import argparse

from qcdgen.cli.options import add_command, add_run_options


def register(sub) -> None:
    """Add ``cl`` to the ``qcdgen lattice`` subparsers ``sub`` (defaults live in CLSettings / EBMSettings)."""
    cl = add_command(sub, "cl", run_cl, "complex Langevin for the complex quartic model, vs exact moments")
    cl.add_argument("--sigma", required=True, help="complex sigma_0 = A+iB, e.g. 1+1j (use --sigma=-1+4j if negative)")
    cl.add_argument("--lam", type=float, default=1.0, help="quartic coupling lambda (> 0, default 1)")
    cl.add_argument("--steps", type=int, default=None, help="nominal Langevin steps per walker (default 40000)")
    cl.add_argument("--step-size", type=float, default=None, help="(largest) Langevin step (default 0.005)")
    step = cl.add_mutually_exclusive_group()
    step.add_argument("--adaptive", dest="adaptive", action="store_true", default=True,
                      help="adaptive step eps = eps_bar min(1, <|K|>/|K|) (default)")
    step.add_argument("--fixed-step", dest="adaptive", action="store_false", help="fixed step size")
    cl.add_argument("--walkers", type=int, default=None, help="independent walkers (default 64)")
    cl.add_argument("--thermalize", type=float, default=None, help="Langevin time discarded (default 5)")
    cl.add_argument("--measure-every", type=float, default=None, help="Langevin time between measurements (default 0.1)")
    cl.add_argument("--ebm", action="store_true", help="also train the energy-based diffusion model and print its moments")
    cl.add_argument("--ebm-steps", type=int, default=None, help="EBM optimiser steps (default 2000)")
    cl.add_argument("--json", action="store_true", help="print the result as JSON (layout in the module docstring)")
    add_run_options(cl)


def _fmt(z: complex) -> str:
    return f"{z.real:+.5f} {z.imag:+.5f}i"


def run_cl(args: argparse.Namespace) -> int:
    """Complex Langevin dz = -S'(z) dt + sqrt(2) dW (real noise) for S = sigma z^2/2 + lam z^4/4: moments <x^2>,
    <x^4> with Gamma-method errors next to the exact values (Bessel formula / contour quadrature), and the two
    correctness diagnostics: boundary terms B_O(Y) (Scherzer et al. 2019) and the tail of the drift magnitude."""
    from qcdgen.cli.formatting import print_json
    from qcdgen.lattice.complex_quartic.langevin import CLSettings, run_complex_langevin
    from qcdgen.lattice.complex_quartic.model import parse_complex
    from qcdgen.runtime import progress_bar

    given = {k: v for k, v in dict(steps=args.steps, step_size=args.step_size, walkers=args.walkers,
                                   thermalize=args.thermalize, measure_every=args.measure_every).items()
             if v is not None}
    settings = CLSettings(sigma=parse_complex(args.sigma), lam=args.lam, adaptive=args.adaptive, seed=args.seed,
                          **given)
    ebm_settings = None
    if args.ebm:
        from qcdgen.lattice.complex_quartic.ebm import EBMSettings
        from qcdgen.runtime import resolve_device

        resolve_device(args.device)
        ebm_settings = EBMSettings(seed=args.seed, device=args.device,
                                   **({"steps": args.ebm_steps} if args.ebm_steps is not None else {}))
    with progress_bar(not args.no_progress) as bar:
        task = bar.add_task("complex Langevin", total=1.0, status="")
        result = run_complex_langevin(settings, keep_samples=args.ebm,
                                      progress=lambda f: bar.update(task, completed=f))
        ebm = None
        if ebm_settings is not None:
            from qcdgen.lattice.complex_quartic.ebm import train_cl_energy_model

            etask = bar.add_task("energy model", total=ebm_settings.steps, status="")
            ebm = train_cl_energy_model(result.samples, ebm_settings, exact=result.exact,
                                        progress=lambda s, loss: bar.update(etask, completed=s,
                                                                            status=f"loss {loss:.3g}"))
    payload = result.to_dict()
    if ebm is not None:
        payload["ebm"] = ebm.to_dict()
    if args.json:
        print_json(payload)
        return 0
    s = settings
    print(f"complex Langevin, sigma = {_fmt(s.sigma)}, lambda = {s.lam:g}: {s.walkers} walkers x "
          f"{s.steps} steps of {s.step_size:g} ({'adaptive' if s.adaptive else 'fixed'})")
    for n, est in result.moments.items():
        pr, pi = result.pulls(n)
        print(f"  <x^{n}>  CL {_fmt(est.value)}  ± ({est.error[0]:.2g}, {est.error[1]:.2g})   "
              f"exact {_fmt(result.exact[n])}   pull ({pr:+.1f}, {pi:+.1f})")
    d = payload["diagnostics"]
    print(f"  drift tail index (Hill, top 0.1%) {d['drift_tail_index']:.2f}"
          f"{'  POWER-LAW TAIL' if d['drift_tail_flag'] else ''}; max |y| {d['max_abs_y']:.3g}")
    for name, row in d["boundary_test"].items():
        print(f"  boundary term B_{name}(Y={row['Y']:.3g}) = {row['value'][0]:+.3g} {row['value'][1]:+.3g}i "
              f"± ({row['error'][0]:.2g}, {row['error'][1]:.2g})")
    print("  CL diagnostics: " + ("clean (CL can be trusted)" if d["reliable"] else
                                  "FAIL (boundary terms / power-law drift tail: CL results are not reliable)"))
    if ebm is not None:
        for n, v in ebm.moments.items():
            print(f"  <x^{n}>  EBM {_fmt(v)}   |EBM - exact| = {abs(v - result.exact[n]):.3g}")
        print(f"  EBM: {ebm_settings.steps} steps in {ebm.train_seconds:.1f} s, p_theta integrated at noise level "
              f"{ebm_settings.noise_level:g}; score Jacobian asymmetry {ebm.jacobian_asymmetry['relative']:.1e}, "
              f"loop circulation {ebm.circulation['relative']:.1e} "
              f"({'conservative' if ebm.conservative else 'NOT CONSERVATIVE'})")
    return 0
