"""Deprecated import path, kept for one release: the diffusion sampler is
:mod:`qcdgen.lattice.samplers.diffusion`, trained by the shared pipeline :mod:`qcdgen.lattice.samplers`."""

from qcdgen.io.checkpoint import default_checkpoint_path
from qcdgen.lattice.samplers.diffusion import (MODEL_KIND, PAPER_DIFFUSION, DiffusionSettings, LatticeDiffusionModel,
                                               build_score_model, loss_curve_path, split_heldout, with_overrides)
from qcdgen.lattice.samplers.legacy import loader
from qcdgen.lattice.samplers.pipeline import save_sampler_model as save_model
from qcdgen.lattice.samplers.pipeline import train_lattice_sampler

load_model = loader("diffusion")


def train_lattice_diffusion(ensemble, out, settings: DiffusionSettings = DiffusionSettings(), device: str = "cpu",
                            progress: bool = True, checkpoint=None,
                            stop_after: int | None = None) -> LatticeDiffusionModel:
    """Train on the HMC configurations in ``ensemble`` (minus the held-out part) and save to ``out``."""
    return train_lattice_sampler("diffusion", ensemble, out, settings, device=device, checkpoint=checkpoint,
                                 progress=progress, stop_after=stop_after)


__all__ = ["MODEL_KIND", "PAPER_DIFFUSION", "DiffusionSettings", "LatticeDiffusionModel", "build_score_model",
           "default_checkpoint_path", "load_model", "save_model", "loss_curve_path", "split_heldout",
           "train_lattice_diffusion", "with_overrides"]
