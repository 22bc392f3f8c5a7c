"""Heavy-ion domain: event model, simulator file formats, initial state, generators, observables."""
