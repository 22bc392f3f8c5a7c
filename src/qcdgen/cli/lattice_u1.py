"""``qcdgen lattice u1-hmc / u1-train / u1-sample``: 2D U(1) gauge theory, HMC and the gauge-equivariant flow."""

from __future__ import annotations

import argparse

from qcdgen.cli import options


def register(sub) -> None:
    from qcdgen.cli.lattice import add_markov_options

    hmc = options.add_command(sub, "u1-hmc", run_u1_hmc, "generate a 2D U(1) gauge ensemble with HMC (HDF5)")
    hmc.add_argument("--size", "-L", type=int, required=True, help="lattice extent L (>= 2)")
    hmc.add_argument("--beta", type=float, required=True, help="Wilson coupling beta (> 0)")
    add_markov_options(hmc, "Q")


def run_u1_hmc(args: argparse.Namespace) -> int:
    """Generate 2D U(1) gauge links with HMC, Wilson action S = -beta sum_P cos(theta_P); the spacing of saved
    configurations follows tau_int of the topological charge Q."""
    from qcdgen.cli.lattice import markov_flags, run_markov
    from qcdgen.lattice.u1.hmc import U1HMCSettings

    return run_markov(args, U1HMCSettings(size=args.size, beta=args.beta, **markov_flags(args)))
