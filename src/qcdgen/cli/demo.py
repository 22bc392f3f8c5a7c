"""``qcdgen demo``: the main job on a small default that finishes in minutes on a laptop CPU."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    demo = commands.add_parser("demo", help="HMC -> diffusion training -> sampling + Metropolis -> validation report",
                               description="End-to-end demo: HMC ground truth, diffusion model, exact Metropolis "
                                           "correction, validation table and HTML report.")
    demo.add_argument("--out", default="qcdgen-demo", help="output directory (default ./qcdgen-demo)")
    demo.add_argument("--preset", choices=["quick", "paper"], default="quick",
                      help="quick: L=8, minutes on a CPU (default); paper: L=32 set-up of JHEP 05 (2024) 060, for a GPU")
    demo.add_argument("--kappa", type=float, default=None, help="override the preset's hopping parameter")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="cpu")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from qcdgen.demo import run_demo as demo_pipeline

    result = demo_pipeline(args.out, preset=args.preset, seed=args.seed, device=args.device, kappa=args.kappa)
    return 0 if result.passed else 1
