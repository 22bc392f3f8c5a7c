"""The complex quartic model S = ½σ₀x² + ¼λx⁴ (σ₀ complex): exact Z and moments (:mod:`.model`), complex
Langevin with boundary-term and drift diagnostics (:mod:`.langevin`), and an energy-based diffusion model of
the CL density (:mod:`.ebm`) — Aarts, Habibi, Wang & Zhou, JHEP 12 (2025) 160.

Names are loaded on first use, so importing the package pulls in neither SciPy nor torch.
"""

import importlib

_LOCATIONS = {
    "QuarticModel": "model", "parse_complex": "model", "bessel_partition_function": "model",
    "bessel_moments": "model", "real_line_moments": "model", "contour_moments": "model", "exact_moments": "model",
    "CLSettings": "langevin", "CLResult": "langevin", "CLDivergence": "langevin", "complex_langevin": "langevin",
    "run_complex_langevin": "langevin", "boundary_terms": "langevin", "hill_tail_index": "langevin",
    "EBMSettings": "ebm", "EBMResult": "ebm", "train_cl_energy_model": "ebm", "ebm_moments": "ebm",
    "score_conservativeness": "ebm",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name: str):
    if name in _LOCATIONS:
        value = getattr(importlib.import_module(f"qcdgen.lattice.complex_quartic.{_LOCATIONS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qcdgen.lattice.complex_quartic' has no attribute {name!r}")
