"""Heavy-ion initial state: nuclei, Monte Carlo Glauber, TRENTo profiles, eccentricities, centrality.

NumPy float64 throughout, randomness from a ``numpy.random.Generator`` (or an integer seed).
Lengths in fm, σ_NN in mb, nucleus–nucleus cross sections in barn, √s_NN in GeV.

Quick use::

    from qcdgen.hic.initial import sample_initial_states
    ini = sample_initial_states("PbPb", sqrts=2760, n_events=1000, rng=1, centrality="0-10")
    ini.eps[:, 0]   # ε2 per event

Layers: :mod:`.nuclei` (densities, nucleon sampling) → :mod:`.glauber` (participants,
collisions, σ_inel) → :mod:`.trento` (entropy profiles on a grid) → :mod:`.eccentricity`
(ε_n, Φ_n, r_rms) and :mod:`.centrality` (percentiles, b ranges).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from qcdgen.checks import check_positive_float, check_positive_int
from qcdgen.errors import InputError
from qcdgen.hic.initial.centrality import (
    DEFAULT_CLASSES,
    CentralityCalibration,
    b_range_for_centrality,
    impact_parameter_calibration,
    parse_centrality,
)
from qcdgen.hic.initial.eccentricity import (
    check_harmonics,
    eccentricities,
    eccentricities_points,
    r_rms,
)
from qcdgen.hic.initial.glauber import (
    COLLISION_MODELS,
    EventBatch,
    GlauberEvents,
    b_max,
    minimum_bias_trials,
    sample_glauber,
    sigma_inel,
    sigma_nn_inel,
)
from qcdgen.hic.initial.nuclei import NUCLEI, Nucleus, as_nucleus, as_rng, nucleus_key
from qcdgen.hic.initial.trento import (
    Grid,
    participant_thickness,
    reduced_thickness,
    total_entropy,
    trento_profiles,
)

__all__ = [
    "Nucleus", "NUCLEI", "GlauberEvents", "Grid", "CentralityCalibration", "InitialStates",
    "DEFAULT_CLASSES", "COLLISION_MODELS",
    "sigma_nn_inel", "sample_glauber", "sigma_inel", "b_max", "minimum_bias_trials",
    "participant_thickness", "reduced_thickness", "trento_profiles", "total_entropy",
    "eccentricities", "eccentricities_points", "r_rms",
    "parse_centrality", "b_range_for_centrality", "impact_parameter_calibration",
    "parse_system", "sample_initial_states",
]


def parse_system(system) -> tuple[str, str]:
    """``"PbPb"``, ``"Pb-Pb"``, ``"Pb+Pb"``, ``"pPb"``, ``"AuAu"``, ``"UU"``, ``"dAu"`` … →
    (projectile name, target name) as keys of :data:`NUCLEI`; case-insensitive."""
    if isinstance(system, (tuple, list)) and len(system) == 2:
        return as_nucleus(system[0]).name, as_nucleus(system[1]).name
    if not isinstance(system, str) or not system.strip():
        raise InputError(f"system must be a string like 'PbPb' or 'p-Pb', got {system!r}")
    text = system.strip()
    parts = [t for t in re.split(r"\s*[-+_/ ]\s*", text) if t]
    if len(parts) == 2:
        try:
            return Nucleus.from_name(parts[0]).name, Nucleus.from_name(parts[1]).name
        except InputError:
            pass
    compact = re.sub(r"[\s\-+_/]", "", text)
    splits = set()
    for i in range(1, len(compact)):
        try:
            splits.add((nucleus_key(compact[:i]), nucleus_key(compact[i:])))
        except InputError:
            continue
    if len(splits) == 1:
        return splits.pop()
    raise InputError(f"cannot read collision system {system!r}; write two of "
                     f"{', '.join(NUCLEI)}, e.g. 'PbPb', 'p-Pb', 'Au+Au'")


@dataclass
class InitialStates(EventBatch):
    """A batch of initial states; per-event arrays have length ``n_events``.

    ``eps``/``psi`` have one column per entry of ``harmonics`` (ε_n, Φ_n of the entropy
    profile); ``entropy`` is ∫ s d²x; ``r_rms`` the profile's rms radius (fm); ``psi_rp``
    the reaction-plane angle (0 unless ``random_reaction_plane``); ``profiles`` the entropy
    densities (n_events, n, n) when kept.
    """

    system: str
    projectile: Nucleus
    target: Nucleus
    sqrts: float | None
    sigma_nn: float
    grid: Grid
    params: dict
    harmonics: tuple
    b: np.ndarray
    npart: np.ndarray
    ncoll: np.ndarray
    entropy: np.ndarray
    eps: np.ndarray
    psi: np.ndarray
    r_rms: np.ndarray
    psi_rp: np.ndarray
    n_trials: int
    b_range: tuple
    centrality: tuple | None = None
    profiles: np.ndarray | None = field(default=None, repr=False)

    def columns(self) -> dict:
        """Per-event arrays by name: b, npart, ncoll, entropy, r_rms, psi_rp, eps{n}, psi{n}."""
        out = {"b": self.b, "npart": self.npart, "ncoll": self.ncoll, "entropy": self.entropy,
               "r_rms": self.r_rms, "psi_rp": self.psi_rp}
        for j, n in enumerate(self.harmonics):
            out[f"eps{n}"] = self.eps[:, j]
            out[f"psi{n}"] = self.psi[:, j]
        return out


def sample_initial_states(system="PbPb", sqrts=2760.0, n_events: int = 1000, rng=None, *,
                          centrality=None, b_range=None, beta2=None, grid: Grid | None = None,
                          p: float = 0.0, k: float = 1.6, w: float = 0.5, norm: float = 1.0,
                          collision: str = "hard-disk", sigma_nn=None,
                          harmonics=(2, 3, 4, 5), keep_profiles: bool = False,
                          random_reaction_plane: bool = False, d_min=None,
                          chunk: int = 500) -> InitialStates:
    """Glauber + TRENTo initial states with their eccentricities.

    Parameters
    ----------
    system : ``"PbPb"``, ``"p-Pb"``, ``"AuAu"`` … (see :func:`parse_system`).
    sqrts : √s_NN in GeV (sets σ_NN through :func:`sigma_nn_inel` unless ``sigma_nn`` in mb).
    n_events : number of inelastic events.
    rng : numpy Generator, integer seed or None.
    centrality : None (minimum bias) or a class ``"0-10"`` / ``(0, 10)`` in percent, selected
        geometrically by impact parameter (:func:`b_range_for_centrality`).
    b_range : explicit (b_min, b_max) in fm instead of ``centrality`` (not both).
    beta2 : override β2 of every Woods–Saxon nucleus of the system.
    grid : :class:`Grid`; default :meth:`Grid.for_nuclei` (≈ 0.3 fm cells, Pb–Pb: 68², ±10.1 fm).
    p, k, w, norm : TRENTo reduced-thickness exponent, gamma shape, nucleon width (fm), norm.
    collision : NN collision model of the Glauber step (``"hard-disk"``, ``"gaussian"``,
        ``"trento"`` — the last uses the same ``w``).
    harmonics : the n of ε_n, Φ_n.
    keep_profiles : also return the entropy profiles (memory: n_events · n² · 8 bytes).
    random_reaction_plane : rotate each event by a uniform random angle ``psi_rp``
        (default: impact parameter along +x).
    d_min : override the minimum nucleon distance (fm) of both nuclei.
    """
    proj_name, targ_name = parse_system(system)
    n_events = check_positive_int(n_events, "n_events")
    chunk = check_positive_int(chunk, "chunk")
    rng = as_rng(rng)
    over = {}
    if d_min is not None:
        over["d_min"] = d_min
    nuclei = []
    for name in (proj_name, targ_name):
        nu = Nucleus.from_name(name, **over) if over else Nucleus.from_name(name)
        if beta2 is not None and nu.density == "woods-saxon":
            nu = Nucleus.from_name(name, beta2=beta2, **over)
        nuclei.append(nu)
    if beta2 is not None and all(nu.density != "woods-saxon" for nu in nuclei):
        raise InputError(f"beta2 needs a Woods-Saxon nucleus; {system!r} has none")
    pa, pb = nuclei
    sig = sigma_nn if sigma_nn is not None else sigma_nn_inel(sqrts)
    if grid is None:
        grid = Grid.for_nuclei(pa, pb)
    elif not isinstance(grid, Grid):
        raise InputError(f"grid must be a Grid, got {grid!r}")
    h = check_harmonics(harmonics)
    reduced_thickness(0.0, 0.0, p)  # validates p before any sampling
    for value, name in ((k, "k (gamma shape)"), (w, "w (fm)"), (norm, "norm")):
        check_positive_float(value, name)
    cent = None
    b_rng = None
    if centrality is not None and b_range is not None:
        raise InputError("give centrality or b_range, not both")
    if b_range is not None:
        b_rng = b_range
    if centrality is not None:
        cent = parse_centrality(centrality)
        b_rng = b_range_for_centrality(cent[0], cent[1], pa, pb, sqrts, collision=collision,
                                       sigma_nn=sig, w=w)

    cols = {key: [] for key in ("b", "npart", "ncoll", "entropy", "eps", "psi", "r_rms", "psi_rp")}
    profs = [] if keep_profiles else None
    trials = 0
    b_lim = None
    for s in range(0, n_events, chunk):
        m = min(chunk, n_events - s)
        ev = sample_glauber(pa, pb, sqrts, m, rng, b_range=b_rng, collision=collision,
                            sigma_nn=sig, w=w)
        trials += ev.n_trials
        b_lim = (ev.b_min, ev.b_max)
        if random_reaction_plane:
            psi_rp = rng.uniform(-math.pi, math.pi, m)
            ang = np.repeat(psi_rp, ev.npart)
            cs, sn = np.cos(ang), np.sin(ang)
            ev.x, ev.y = cs * ev.x - sn * ev.y, sn * ev.x + cs * ev.y
        else:
            psi_rp = np.zeros(m)
        prof = trento_profiles(ev, grid, p=p, k=k, w=w, norm=norm, rng=rng)
        e, ps = eccentricities(prof, grid, h)
        cols["b"].append(ev.b)
        cols["npart"].append(ev.npart)
        cols["ncoll"].append(ev.ncoll)
        cols["entropy"].append(total_entropy(prof, grid))
        cols["eps"].append(e)
        cols["psi"].append(ps)
        cols["r_rms"].append(r_rms(prof, grid))
        cols["psi_rp"].append(psi_rp)
        if keep_profiles:
            profs.append(prof)
    cat = {key: np.concatenate(v) for key, v in cols.items()}
    return InitialStates(
        system=f"{pa.name}{pb.name}", projectile=pa, target=pb,
        sqrts=None if sqrts is None else float(sqrts), sigma_nn=float(sig), grid=grid,
        params={"p": p, "k": k, "w": w, "norm": norm, "collision": collision},
        harmonics=h, n_trials=trials, b_range=b_lim, centrality=cent,
        profiles=np.concatenate(profs) if keep_profiles else None, **cat)
