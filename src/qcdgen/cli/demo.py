"""``qcdgen demo``: the main job on a small default that finishes in minutes on a laptop CPU."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    demo = commands.add_parser("demo", help="run the quick end-to-end demo (minutes on a CPU)")
    demo.add_argument("--out", default="qcdgen-demo", help="output directory (default ./qcdgen-demo)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="cpu")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from qcdgen.lattice.demo import run_demo as demo_pipeline

    return 0 if demo_pipeline(args.out, seed=args.seed, device=args.device).passed else 1
