"""Critical slowing down, sampler by sampler: ``qcdgen lattice compare-samplers``.

For every lattice size L and hopping parameter κ of a :class:`CompareSettings` the pipeline runs

- ``hmc``: plain Omelyan HMC, the reference ensemble every other sampler is validated against;
- ``hmc-fa``: Fourier-accelerated Omelyan HMC;

then every registered study sampler (:func:`qcdgen.lattice.samplers.study_samplers`), each trained and
sampled by the shared sampler pipeline; by default

- ``diffusion``: a diffusion model trained on an HMC ensemble (the HMC-FA one when it is part of the
  study, so that training and reference data are independent), probability-flow proposals with their
  log q, independence Metropolis against e^{−S} (exact only while log q is exact, i.e. up to
  ``EXACT_MAX_SITES`` sites; beyond, Hutchinson log q makes the correction approximate: ``exact`` False);
- ``flow``: a normalizing flow trained on e^{−S} alone, proposals + independence Metropolis;
- ``path``: a trajectory-balance path sampler trained on e^{−S} alone, path-space Metropolis.

Each finished (sampler, L, κ) is one :class:`SamplerRow` with the cost of an independent
configuration, 2 τ_int(|M|) / (configurations per second), all chains or proposals of the batch
counted (τ_int in configurations of the chain: trajectories for HMC, proposals for Metropolis chains),
the training cost kept apart, and the number of independent configurations after which a
generative sampler's training has paid off against the cheaper HMC ("never" if its sampling cost
is not lower). Rows are written to ``OUT_DIR/L{L}_kappa{κ}/{sampler}.json`` next to the ensembles
and models; a re-run with the same settings skips finished rows and reuses trained models, and the
underlying loops resume from their own checkpoints, so an interrupted study resumes.

The study is split into :mod:`.settings` (presets and flags), :mod:`.point` (running one (L, κ)) and
:mod:`.table` (rows, cost per independent configuration, payoff).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from qcdgen.errors import InputError
from qcdgen.lattice.compare_samplers.point import point_dir, run_point
from qcdgen.lattice.compare_samplers.settings import (HMC_SAMPLERS, PRESET_NAMES, PRESETS, REFERENCE, SAMPLERS,
                                                      CompareSettings, Preset, validate_point)
from qcdgen.lattice.compare_samplers.table import RELIABLE_INDEPENDENT, SamplerRow, SamplerStudy, assign_payoffs
from qcdgen.runtime import resolve_device


def compare_samplers(settings: CompareSettings, out_dir: str | Path, progress: bool = True) -> SamplerStudy:
    """Run (or resume) the study of ``settings`` in ``out_dir`` and return its rows.

    For every (L, κ): plain HMC (the reference), then the other samplers in the order of
    :data:`SAMPLERS`; every ensemble except the reference is validated against it. A row whose JSON
    in ``out_dir`` was made with the same settings (and whose ensemble is still there) is read back,
    not recomputed.
    """
    resolve_device(settings.device)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out-dir {str(out_dir)!r} cannot be created: {exc.strerror or exc}") from None
    rows: list[SamplerRow] = []
    reused: list[str] = []
    for size in settings.sizes:
        for kappa in settings.kappas:
            rows += run_point(settings, size, kappa, out_dir, progress, reused)
    assign_payoffs(rows)
    return SamplerStudy(settings=settings, rows=rows, out_dir=out_dir, reused=reused)


def with_overrides(settings: CompareSettings, **overrides) -> CompareSettings:
    """``settings`` with the non-None overrides applied."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


__all__ = ["SAMPLERS", "HMC_SAMPLERS", "REFERENCE", "PRESETS", "PRESET_NAMES", "RELIABLE_INDEPENDENT", "Preset",
           "CompareSettings", "SamplerRow", "SamplerStudy", "compare_samplers", "assign_payoffs", "point_dir",
           "validate_point", "with_overrides"]
