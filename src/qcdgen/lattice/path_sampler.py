"""Deprecated import path, kept for one release: the path sampler is :mod:`qcdgen.lattice.samplers.path`,
trained and sampled by the shared pipeline :mod:`qcdgen.lattice.samplers`."""

from qcdgen.io.checkpoint import default_checkpoint_path
from qcdgen.lattice.samplers.legacy import loader, sampler, trainer
from qcdgen.lattice.samplers.path import BACKWARDS, MODEL_KIND, LatticePathModel, PathSettings, build_path_sampler
from qcdgen.lattice.samplers.pipeline import save_sampler_model as save_path_model
from qcdgen.lattice.samplers.protocol import SampleResult as PathSampleResult
from qcdgen.lattice.samplers.protocol import pull

train_lattice_path_sampler = trainer("path")
load_path_model = loader("path")
sample_lattice_path_sampler = sampler("path", 500)

__all__ = ["BACKWARDS", "MODEL_KIND", "PathSettings", "LatticePathModel", "PathSampleResult", "build_path_sampler",
           "default_checkpoint_path", "train_lattice_path_sampler", "load_path_model", "save_path_model",
           "sample_lattice_path_sampler", "pull"]
