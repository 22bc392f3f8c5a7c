"""Heavy-ion event surrogate: a conditional point-cloud generative model of whole events.

Data layer (this package's foundation):

- :mod:`.vocabulary` — :class:`SpeciesVocabulary`, PDG codes ↔ species classes (+ "other");
- :mod:`.data` — event files → :class:`EventTensors` (CSR particle tensors in the canonical
  frame rotated by −Ψ_2, per-event N, summaries q_2, q_3, Ψ_3, ⟨p_T⟩ and conditions),
  and :func:`tensors_to_events` back to event files;
- :mod:`.conditions` — :func:`check_conditions`, :class:`ConditionScaler`;
- :mod:`.batches` — :func:`sample_batch` and :func:`train_test_split` for training.
"""

from qcdgen.hic.surrogate.data import (
    FEATURE_NAMES, SUMMARY_NAMES, Batch, ConditionScaler, EventTensors, check_conditions, events_to_tensors,
    load_event_tensors, random_rotation, sample_batch, tensors_to_events, train_test_split,
)
from qcdgen.hic.surrogate.vocabulary import (
    DEFAULT_CODES, DEFAULT_VOCABULARY, FALLBACK_OTHER_PDG, SpeciesVocabulary,
)

__all__ = [
    "SpeciesVocabulary", "DEFAULT_CODES", "DEFAULT_VOCABULARY", "FALLBACK_OTHER_PDG",
    "FEATURE_NAMES", "SUMMARY_NAMES", "Batch", "ConditionScaler", "EventTensors", "check_conditions",
    "events_to_tensors", "load_event_tensors", "random_rotation", "sample_batch", "tensors_to_events",
    "train_test_split",
]
