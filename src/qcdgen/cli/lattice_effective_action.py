"""``qcdgen lattice effective-action``: the flow of S_DM(φ, τ) in the 0-D φ⁴ toy, learned vs exact."""

from __future__ import annotations

import argparse

from qcdgen.cli import options


def register(sub) -> None:
    """Add ``effective-action`` to the ``qcdgen lattice`` subparsers ``sub``."""
    p = options.add_command(sub, "effective-action", run_effective_action,
                            "0-D phi^4 toy: learned effective action S_DM(phi, tau) vs the exact heat-kernel flow")
    p.add_argument("--mu2", type=float, default=-1.0, help="mass term mu^2 (default -1: double well)")
    p.add_argument("--g", type=float, default=1.0, help="quartic coupling g > 0 (default 1)")
    p.add_argument("--sde", choices=["ve", "vp"], default="ve", help="forward SDE of the diffusion model (default ve)")
    p.add_argument("--taus", type=float, nargs="+", default=[0.1, 0.5, 1.0],
                   help="tau values compared with the exact curves (default 0.1 0.5 1)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="largest max|dS| that passes (default: the settings' tolerance)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps")
    p.add_argument("--samples", type=int, default=None, help="exact training samples (inverse CDF)")
    p.add_argument("--out", default=None, help="write the figure here (PNG)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    options.add_run_options(p)


def run_effective_action(args: argparse.Namespace) -> int:
    """Train a small VE or VP diffusion model on exact samples of S = mu^2 phi^2/2 + g phi^4/4! (one variable)
    and compare its effective action S_DM = -int s_theta dphi (normalised) with the exact -log p_tau, the
    heat-kernel (VE) or Ornstein-Uhlenbeck (VP) convolution of exp(-S) by quadrature. VE: tau is the added
    noise variance; VP: tau = int beta dt. Prints max|dS| over p_tau > 1e-3 max p_tau and the residuals of the
    action equation (Wang, Aarts & Zhou, JHEP 05 (2024) 060). Exit code 1 when a max|dS| exceeds the tolerance."""
    from dataclasses import replace

    from qcdgen.io import check_writable
    from qcdgen.lattice.effective_action import EffectiveActionSettings, effective_action_flow

    settings = EffectiveActionSettings(mu2=args.mu2, g=args.g, sde=args.sde, taus=tuple(args.taus), seed=args.seed)
    changes = {k: v for k, v in (("tolerance", args.tolerance), ("steps", args.steps), ("samples", args.samples))
               if v is not None}
    settings = replace(settings, **changes)
    if args.out:
        check_writable(args.out, "figure")
    result = effective_action_flow(settings, device=args.device, progress=not args.no_progress)
    if args.out:
        from qcdgen.report.effective_action_plots import write_effective_action_plot

        write_effective_action_plot(result, args.out)
    if args.json:
        from qcdgen.cli.formatting import print_json

        payload = result.to_json()
        if args.out:
            payload["figure"] = args.out
        print_json(payload)
        return 0 if result.passed else 1
    s = result.settings
    convention = ("VE: tau = added noise variance s(t)^2; dS/dtau = (S'' - S'^2)/2" if s.sde == "ve" else
                  "VP: tau = int beta dt, a = exp(-tau/2); dS/dtau = (S'' - S'^2)/2 + (phi S' - 1)/2")
    print(f"effective action of S = {s.mu2:g} phi^2/2 + {s.g:g} phi^4/4!, {s.sde.upper()} diffusion model "
          f"trained {s.steps} steps on {s.samples} exact samples in {result.train_seconds:.1f} s "
          f"(final loss {result.final_loss:.4g})")
    print(f"  {convention}")
    print("  max over p_tau > 1e-3 max p_tau; S normalised (additive constant fixed by int exp(-S) = 1)")
    print(f"  {'tau':>6} {'t':>7} {'max|dS|':>9} {'(p>1e-2)':>9} {'max|R| exact':>13} {'max|R| learned':>15} "
          f"{'max|dS/dtau|':>13}")
    for c in result.comparisons:
        print(f"  {c.tau:6.3g} {c.time:7.4f} {c.max_abs_diff:9.4f} {c.max_abs_diff_above(1e-2):9.4f} "
              f"{c.residual_exact_max:13.2e} {c.residual_learned_max:15.3g} {c.dS_dtau_max:13.3g}")
    verdict = "PASS" if result.passed else "FAIL"
    print(f"  {verdict}: every max|dS| <= {s.tolerance:g}" if result.passed else
          f"  {verdict}: some max|dS| > {s.tolerance:g}")
    if args.out:
        print(f"wrote {args.out}")
    return 0 if result.passed else 1
