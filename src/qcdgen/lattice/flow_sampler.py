"""Deprecated import path, kept for one release: the flow sampler is :mod:`qcdgen.lattice.samplers.flow`,
trained and sampled by the shared pipeline :mod:`qcdgen.lattice.samplers`."""

from qcdgen.lattice.flow_settings import COUPLINGS, FlowSettings
from qcdgen.lattice.samplers.flow import MODEL_KIND, LatticeFlowModel, build_flow, evaluate_flow
from qcdgen.lattice.samplers.legacy import loader, sampler, trainer
from qcdgen.lattice.samplers.pipeline import save_sampler_model as save_flow_model
from qcdgen.lattice.samplers.protocol import SampleResult as FlowSampleResult

train_lattice_flow = trainer("flow")
load_flow_model = loader("flow")
sample_lattice_flow = sampler("flow", 1000)

__all__ = ["COUPLINGS", "MODEL_KIND", "FlowSettings", "LatticeFlowModel", "FlowSampleResult", "build_flow",
           "train_lattice_flow", "load_flow_model", "save_flow_model", "sample_lattice_flow", "evaluate_flow"]
