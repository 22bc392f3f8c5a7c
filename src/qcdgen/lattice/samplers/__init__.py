"""Generative lattice samplers behind one protocol (:mod:`.protocol`) and one pipeline (:mod:`.pipeline`).

A sampler is one module with a :class:`LatticeSampler` subclass (``build``, ``loss``, ``draw``) and one
registration line below; training, checkpoints and resume, the model file, sampling into HDF5,
independence Metropolis, log Z and its pull against exact results come from the shared pipeline, and
``qcdgen lattice compare-samplers`` runs every registered sampler whose class sets ``study = True``
(and, when named in ``--samplers``, those that set ``study_optional = True``).
"""

from qcdgen.lattice.samplers.diffusion import DiffusionSampler
from qcdgen.lattice.samplers.flow import FlowSampler
from qcdgen.lattice.samplers.flow_matching import FlowMatchingSampler
from qcdgen.lattice.samplers.schrodinger_bridge import SchrodingerBridgeSampler
from qcdgen.lattice.samplers.path import TrajectoryBalanceSampler
from qcdgen.lattice.samplers.pipeline import (MODEL_FORMAT, as_action, known_log_z, load_sampler_model,
                                              sample_lattice_sampler, save_sampler_model, train_lattice_sampler)
from qcdgen.lattice.samplers.protocol import (LatticeSampler, SampleResult, SamplingSettings, TrainedSampler,
                                              TrainingData, pull)
from qcdgen.lattice.samplers.registry import get_sampler, register, registered, sampler_for_kind, unregister
from qcdgen.lattice.samplers.u1_flow import U1FlowSampler
from qcdgen.lattice.samplers.xy_can import XYCANSampler

register(DiffusionSampler())
register(FlowSampler())
register(TrajectoryBalanceSampler())
register(U1FlowSampler())
register(FlowMatchingSampler())
register(SchrodingerBridgeSampler())
register(XYCANSampler())


def study_samplers(optional: bool = False) -> tuple[str, ...]:
    """The registered samplers a sampler study runs, in registration order (``optional``: and those it can run
    when asked by name, ``study_optional = True``)."""
    return tuple(name for name in registered() if get_sampler(name).study
                 or (optional and getattr(get_sampler(name), "study_optional", False)))


__all__ = ["LatticeSampler", "TrainedSampler", "SampleResult", "SamplingSettings", "TrainingData", "pull",
           "register", "unregister", "registered", "get_sampler", "sampler_for_kind", "study_samplers",
           "train_lattice_sampler", "sample_lattice_sampler", "load_sampler_model", "save_sampler_model",
           "known_log_z", "as_action", "MODEL_FORMAT"]
