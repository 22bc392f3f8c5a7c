"""Initial-state-conditioned generation (Sun, Yan, Gale & Jeon, PRC 112 (2025) L051903 and related work).

:mod:`.pairs` builds the (initial profile, final state, conditions) dataset from hydro (or blast-wave)
event files; the models that learn from it are p(spectrum | profile, η/s) (:mod:`.spectra_diffusion`),
the profile → observables emulator (:mod:`.emulator`), inverse generation of profiles from final states
(:mod:`.inverse_generation`) and final-state classifiers (:mod:`.classifiers`).
"""
