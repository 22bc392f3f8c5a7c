"""Two-dimensional U(1) lattice gauge theory: the Wilson action, HMC on links, the geometric
topological charge, exact torus results, and a gauge-equivariant flow (Kanwar et al., PRL 125
(2020) 121601).

Names are loaded on first use, so that the torch-free :mod:`.flow_settings` stays cheap to import.
"""

_ACTION = ("U1Action", "plaquettes", "topological_charge", "wrap_angle")
__all__ = list(_ACTION)


def __getattr__(name: str):
    if name in _ACTION:
        from qcdgen.lattice.u1 import action

        return getattr(action, name)
    raise AttributeError(f"module 'qcdgen.lattice.u1' has no attribute {name!r}")
