"""The 2D XY model: H = −J Σ_⟨ij⟩ cos(θ_i − θ_j) on an L×L torus, weight e^{−H/T}; Wolff-cluster ground
truth with exact checks (1D chain, 2×2 torus, high-temperature series), observables (energy, |M|,
helicity modulus, vortex density) and a continuous autoregressive network (Wang et al., CPL 39 (2022)
120502) in :mod:`.can`.

Names are loaded on first use, so that ``qcdgen --help`` stays cheap.
"""

_ACTION = ("XYAction", "energy_per_site", "bond_differences", "wrap_angle")
__all__ = list(_ACTION)


def __getattr__(name: str):
    if name in _ACTION:
        from qcdgen.lattice.xy import action

        return getattr(action, name)
    raise AttributeError(f"module 'qcdgen.lattice.xy' has no attribute {name!r}")
