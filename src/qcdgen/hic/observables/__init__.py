"""Heavy-ion observables with event-resampling errors.

- :mod:`~qcdgen.hic.observables.flow`: v_n{2,4,6,8} and v_n{2,|Δη|} from Q-vector cumulants
  (generic framework, Bilandzic et al., PRC 89 (2014) 064904);
- :mod:`~qcdgen.hic.observables.spectra`: selections, multiplicities, dN/dy, dN_ch/dη,
  pT spectra, ⟨pT⟩ per species;
- :mod:`~qcdgen.hic.observables.fluctuations`: ⟨δpT δpT⟩, ⟨δpT δpT δpT⟩, ρ(v_n², [pT]),
  net charge and net baryon number;
- :mod:`~qcdgen.hic.observables.summary`: :func:`observe` / :func:`observe_file`, the standard
  set over all events and per centrality class, as an :class:`ObservableSummary`;
- :mod:`~qcdgen.hic.observables.quality`: which of those numbers a sample supports: impossible
  values (|ρ_n| > 1, v_n{4} ≥ v_n{2}) nulled, samples too small for an observable flagged.

Every observable is a function of event averages of per-event columns; its error comes from
resampling events (delete-group jackknife by default, bootstrap on request).
"""

from qcdgen.hic.observables._resample import ObservableWarning, Resampler
from qcdgen.hic.observables.fluctuations import net_baryon, net_charge, pt_fluctuations, rho_n
from qcdgen.hic.observables.flow import (
    FlowResult, QVectors, UnphysicalCumulantWarning, event_correlators, flow_cumulants)
from qcdgen.hic.observables.spectra import (
    FlatParticles, PtSpectrum, dn_dy, dnch_deta, mean_pt, multiplicity, pt_spectrum, select)
from qcdgen.hic.observables.summary import ObservableSummary, event_columns, observe, observe_file

__all__ = [
    "observe", "observe_file", "ObservableSummary", "event_columns",
    "flow_cumulants", "FlowResult", "QVectors", "event_correlators",
    "FlatParticles", "select", "multiplicity", "dn_dy", "dnch_deta", "mean_pt", "pt_spectrum", "PtSpectrum",
    "pt_fluctuations", "rho_n", "net_charge", "net_baryon",
    "Resampler", "ObservableWarning", "UnphysicalCumulantWarning",
]
