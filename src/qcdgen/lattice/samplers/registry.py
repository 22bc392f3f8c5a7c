"""The registered generative lattice samplers, by name and by model-file kind."""

from __future__ import annotations

from qcdgen.errors import InputError
from qcdgen.lattice.samplers.protocol import LatticeSampler

_SAMPLERS: dict[str, LatticeSampler] = {}


def register(sampler: LatticeSampler) -> LatticeSampler:
    """Add ``sampler`` (an instance); its ``name`` and ``kind`` must be new. Returns it."""
    for other in _SAMPLERS.values():
        if other.name == sampler.name or other.kind == sampler.kind:
            raise ValueError(f"a sampler named {other.name!r} with model kind {other.kind!r} is already registered")
    _SAMPLERS[sampler.name] = sampler
    return sampler


def unregister(name: str) -> None:
    _SAMPLERS.pop(name, None)


def registered() -> tuple[str, ...]:
    """The names of the registered samplers, in registration order."""
    return tuple(_SAMPLERS)


def get_sampler(name: str) -> LatticeSampler:
    try:
        return _SAMPLERS[name]
    except KeyError:
        raise InputError(f"unknown lattice sampler {name!r}; choose from {', '.join(_SAMPLERS)}") from None


def sampler_for_kind(kind: str) -> LatticeSampler:
    for sampler in _SAMPLERS.values():
        if sampler.kind == kind:
            return sampler
    raise InputError(f"no registered lattice sampler writes model files of kind {kind!r}")


def model_kinds() -> tuple[str, ...]:
    return tuple(s.kind for s in _SAMPLERS.values())
