"""Deprecated import path, kept for one release: diffusion sampling runs through the shared pipeline
:func:`qcdgen.lattice.samplers.sample_lattice_sampler` with
:class:`~qcdgen.lattice.samplers.diffusion.SampleSettings`."""

from qcdgen.lattice.metropolis import json_dict
from qcdgen.lattice.samplers.diffusion import EXACT_MAX_SITES, SampleSettings
from qcdgen.lattice.samplers.pipeline import sample_lattice_sampler
from qcdgen.lattice.samplers.protocol import SampleResult


def sample_lattice_diffusion(model_path, out, settings: SampleSettings, device: str = "cpu", progress: bool = True,
                             checkpoint=None, stop_after: int | None = None) -> SampleResult:
    """Draw ``settings.configs`` proposals, optionally correct them, and write an HDF5 ensemble."""
    return sample_lattice_sampler(model_path, out, settings, sampler="diffusion", device=device, progress=progress,
                                  checkpoint=checkpoint, stop_after=stop_after)


__all__ = ["EXACT_MAX_SITES", "SampleSettings", "SampleResult", "sample_lattice_diffusion", "json_dict"]
