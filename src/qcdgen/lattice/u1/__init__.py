"""Two-dimensional U(1) lattice gauge theory: the Wilson action, HMC on links, the geometric
topological charge, exact torus results, and a gauge-equivariant flow (Kanwar et al., PRL 125
(2020) 121601)."""

from qcdgen.lattice.u1.action import U1Action, plaquettes, topological_charge, wrap_angle

__all__ = ["U1Action", "plaquettes", "topological_charge", "wrap_angle"]
