"""Entry points of the lattice modules from before the sampler protocol, for one release.

``qcdgen.lattice.flow_sampler`` and ``qcdgen.lattice.path_sampler`` build their ``train_*``,
``load_*`` and ``sample_*`` functions here, with their old signatures, on the shared pipeline.
"""

from __future__ import annotations

from qcdgen.lattice.samplers.pipeline import load_sampler_model, sample_lattice_sampler, train_lattice_sampler
from qcdgen.lattice.samplers.protocol import SamplingSettings


def trainer(name: str):
    def train(action, out, settings=None, device="cpu", checkpoint=None, progress=True, stop_after=None):
        return train_lattice_sampler(name, action, out, settings, device=device, checkpoint=checkpoint,
                                     progress=progress, stop_after=stop_after)

    train.__doc__ = f"Train the {name} sampler on e^{{-S}} and save it (see :func:`train_lattice_sampler`)."
    return train


def loader(name: str):
    def load(path, device="cpu"):
        return load_sampler_model(path, device, sampler=name)

    load.__doc__ = f"Read a {name} model file (see :func:`load_sampler_model`)."
    return load


def sampler(name: str, default_batch_size: int):
    def sample(model_path, out, configs, metropolis=True, chains=1, batch_size=default_batch_size, seed=0,
               device="cpu", progress=True, checkpoint=None, stop_after=None):
        return sample_lattice_sampler(model_path, out, SamplingSettings(configs, metropolis, chains, batch_size, seed),
                                      sampler=name, device=device, progress=progress, checkpoint=checkpoint,
                                      stop_after=stop_after)

    sample.__doc__ = f"Sample the {name} model into an HDF5 ensemble (see :func:`sample_lattice_sampler`)."
    return sample
