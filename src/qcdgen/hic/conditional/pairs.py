"""Paired data for initial-state-conditioned generation: (initial profile, final state, conditions).

Built from ``qcdgen hic generate --model hydro`` output (or ``--model blastwave --oversample K``
for quick tests): the Parquet event file gives the final hadrons and the conditions, its
``.profiles.h5`` sidecar the initial entropy profile and the smooth charged spectrum of each event.
Per event the dataset holds

- ``profiles`` [N, P, P]: dS/(dη_s d²x) at τ0 (fm⁻²; TRENTo T_R for the blast wave) on cell
  centres −W + (i + ½)·2W/P, axes [event, x, y] (the sidecar's 64² block-averaged to P²);
- ``spectra`` [N, n_pT, n_φ]: charged dN/(dy pT dpT dφ) in |y| < 0.5 (GeV⁻²) averaged over
  ``oversample`` extra particlizations of the same fluid (Sun, Yan, Gale & Jeon, PRC 112 (2025)
  L051903), or the event's own histogram when ``oversample`` is 0;
- the event's own charged hadrons with |η| < 0.8 as a point cloud (pT, φ, η, charge);
- ``conditions``: η/s, β₂ (NaN = the nucleus' own), centrality (%), b (fm), √s_NN, and ``eos``
  (0 lattice crossover, 1 first order, 2 conformal, −1 blast wave).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qcdgen.errors import InputError

__all__ = ["PairedData", "build_pairs", "save_pairs", "load_pairs", "concat_pairs", "EOS_CODES", "CLOUD_ETA_MAX"]

EOS_CODES = {"lattice": 0, "first_order": 1, "conformal": 2, "blastwave": -1}
CLOUD_ETA_MAX = 0.8
CONDITIONS = ("eta_s", "beta2", "centrality", "b", "sqrts", "eos")
_KIND = "qcdgen-pairs"


@dataclass
class PairedData:
    profiles: np.ndarray
    profile_window: float
    spectra: np.ndarray
    pt_edges: np.ndarray
    phi_edges: np.ndarray
    oversample: int
    conditions: dict
    n_charged: np.ndarray
    cloud_data: np.ndarray              # [total, 4]: (pT, φ, η, charge)
    cloud_offsets: np.ndarray           # [N + 1]
    model: str
    source: list = field(default_factory=list)
    profile_units: str = "dS/(deta_s d^2x) at tau0 (fm^-2)"

    def __len__(self) -> int:
        return len(self.profiles)

    @property
    def profile_cells(self) -> int:
        return int(self.profiles.shape[-1])

    def cloud(self, i: int) -> np.ndarray:
        """The event's own charged hadrons with |η| < 0.8: [M, 4] columns (pT, φ, η, charge)."""
        return self.cloud_data[self.cloud_offsets[i]:self.cloud_offsets[i + 1]]

    def clouds(self, max_particles: int, rng: np.random.Generator | None = None):
        """Padded clouds [N, M, 4] and a mask [N, M]; events with more than M particles are
        subsampled at random (``rng``) or truncated (``rng=None``)."""
        if int(max_particles) < 1:
            raise InputError(f"max_particles must be >= 1, got {max_particles}")
        m = int(max_particles)
        x = np.zeros((len(self), m, 4), np.float32)
        mask = np.zeros((len(self), m), bool)
        for i in range(len(self)):
            c = self.cloud(i)
            if len(c) > m:
                c = c[np.sort(rng.choice(len(c), m, replace=False))] if rng is not None else c[:m]
            x[i, :len(c)], mask[i, :len(c)] = c, True
        return x, mask

    def subset(self, index) -> "PairedData":
        """The events selected by a boolean mask or an index array (in that order)."""
        idx = np.arange(len(self))[np.asarray(index)] if np.asarray(index).dtype == bool else np.asarray(index, int)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise InputError(f"subset index out of range for {len(self)} events")
        counts = np.diff(self.cloud_offsets)[idx]
        data = np.concatenate([self.cloud(i) for i in idx]) if idx.size else self.cloud_data[:0]
        return replace(self, profiles=self.profiles[idx], spectra=self.spectra[idx], n_charged=self.n_charged[idx],
                       conditions={k: v[idx] for k, v in self.conditions.items()}, cloud_data=data,
                       cloud_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


def _check_same_grid(parts: list[PairedData]) -> None:
    ref = parts[0]
    for p in parts[1:]:
        if p.profiles.shape[1:] != ref.profiles.shape[1:] or p.profile_window != ref.profile_window:
            raise InputError(f"profile grids differ: {p.profiles.shape[1:]} on ±{p.profile_window} fm vs "
                             f"{ref.profiles.shape[1:]} on ±{ref.profile_window} fm")
        if not (np.allclose(p.pt_edges, ref.pt_edges) and np.allclose(p.phi_edges, ref.phi_edges)):
            raise InputError("spectrum grids (pT or phi edges) differ between the files")
        if p.model != ref.model:
            raise InputError(f"cannot mix {p.model} and {ref.model} events in one dataset")


def concat_pairs(parts: list[PairedData]) -> PairedData:
    """One dataset from several with the same grids and model (``oversample`` = the smallest)."""
    if not parts:
        raise InputError("no paired datasets to concatenate")
    _check_same_grid(parts)
    counts = np.concatenate([np.diff(p.cloud_offsets) for p in parts])
    return replace(parts[0], profiles=np.concatenate([p.profiles for p in parts]),
                   spectra=np.concatenate([p.spectra for p in parts]),
                   n_charged=np.concatenate([p.n_charged for p in parts]),
                   conditions={k: np.concatenate([p.conditions[k] for p in parts]) for k in CONDITIONS},
                   cloud_data=np.concatenate([p.cloud_data for p in parts]),
                   cloud_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                   oversample=min(p.oversample for p in parts), source=sum((list(p.source) for p in parts), []))


def _block_mean(profiles: np.ndarray, cells: int) -> np.ndarray:
    n = profiles.shape[-1]
    if cells < 2 or n % cells:
        raise InputError(f"--profile-cells must divide the sidecar's {n} cells, got {cells}")
    f = n // cells
    return profiles.reshape(len(profiles), cells, f, cells, f).mean(axis=(2, 4))


def _read_file(path: Path, profile_cells: int) -> PairedData:
    import awkward as ak
    import h5py

    from qcdgen.hic.events import kinematics, read_events, read_metadata
    from qcdgen.hic.generation import sidecar_path
    from qcdgen.hic.observables.spectrum2d import PHI_EDGES, PT_EDGES, charged_spectra

    if not path.exists():
        raise InputError(f"{path}: no such event file")
    side = sidecar_path(path)
    if not side.exists():
        raise InputError(f"{path} has no {side.name} beside it: generate the events with --model hydro, "
                         "or --model blastwave --oversample K")
    meta = read_metadata(path)
    model = meta.get("generator", "unknown")
    eos = EOS_CODES.get(meta.get("settings", {}).get("eos", "blastwave" if model == "blastwave" else "lattice"), -1)
    events = read_events(path)
    n = len(events)
    with h5py.File(side, "r") as f:
        ids = f["event_id"][()]
        if len(ids) != n or not np.array_equal(ids, np.arange(n)):
            raise InputError(f"{side} does not match {path}: {len(ids)} profiles for {n} events")
        profiles = _block_mean(f["entropy_profile"][()].astype(np.float32), profile_cells)
        window = float(f.attrs.get("window_fm", [-10.0, 10.0])[1])
        oversample = int(f.attrs.get("oversample", 0)) if "spectrum" in f else 0
        spectra = f["spectrum"][()] if oversample else None
        pt_edges = np.asarray(f.attrs.get("pt_edges", PT_EDGES), float)
        phi_edges = np.asarray(f.attrs.get("phi_edges", PHI_EDGES), float)
    if n == 0:
        raise InputError(f"{path} holds no events")
    parts = events.particles
    kin = kinematics(parts)
    counts = ak.to_numpy(ak.num(parts))
    owner = np.repeat(np.arange(n), counts)
    flat = {k: ak.to_numpy(ak.flatten(v)) for k, v in
            {"pt": kin.pt, "phi": kin.phi, "eta": kin.eta, "charge": parts.charge}.items()}
    if spectra is None:
        spectra = charged_spectra(flat["charge"], *(ak.to_numpy(ak.flatten(parts[c])) for c in ("px", "py", "pz", "E")),
                                  owner, n, pt_edges=pt_edges, phi_edges=phi_edges)
    keep = (flat["charge"] != 0) & (np.abs(flat["eta"]) < CLOUD_ETA_MAX)
    cloud = np.stack([flat[k][keep] for k in ("pt", "phi", "eta", "charge")], axis=1).astype(np.float32)
    per_event = np.bincount(owner[keep], minlength=n)
    n_charged = np.bincount(owner[keep & (np.abs(flat["eta"]) < 0.5)], minlength=n)

    def column(name, default=np.nan):
        return ak.to_numpy(events[name]).astype(float) if name in events.fields else np.full(n, default, float)

    conditions = {"eta_s": column("eta_s"), "beta2": column("beta2"), "centrality": column("centrality"),
                  "b": column("b"), "sqrts": column("sqrts"), "eos": np.full(n, float(eos))}
    if not np.isfinite(spectra).all() or not np.isfinite(profiles).all():
        raise InputError(f"{side}: non-finite profiles or spectra")
    units = "dS/(deta_s d^2x) at tau0 (fm^-2)" if model == "hydro" else "TRENTo T_R (fm^-2)"
    return PairedData(profiles, window, np.asarray(spectra, np.float32), pt_edges, phi_edges, oversample, conditions,
                      n_charged, cloud, np.concatenate([[0], np.cumsum(per_event)]).astype(np.int64), model,
                      [str(path)], units)


def build_pairs(paths, profile_cells: int = 32, progress: bool = False) -> PairedData:
    """The paired dataset of one or more event files (each with its ``.profiles.h5`` sidecar)."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise InputError("no event files given")
    from qcdgen.runtime import progress_bar

    parts = []
    with progress_bar(progress) as bar:
        task = bar.add_task("event files", total=len(paths), status="")
        for p in paths:
            parts.append(_read_file(p, int(profile_cells)))
            bar.update(task, advance=1, status=p.name)
    return concat_pairs(parts)


def save_pairs(pd: PairedData, path) -> Path:
    """Write the dataset to HDF5, atomically."""
    import h5py

    from qcdgen.io.atomic import atomic_path, check_writable

    path = check_writable(path, "pairs")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update({"kind": _KIND, "profile_window": pd.profile_window, "oversample": pd.oversample,
                        "model": pd.model, "profile_units": pd.profile_units, "source": "\n".join(pd.source)})
        for name in ("profiles", "spectra", "pt_edges", "phi_edges", "n_charged", "cloud_data", "cloud_offsets"):
            f.create_dataset(name, data=getattr(pd, name), compression="gzip" if name != "pt_edges" else None)
        for k, v in pd.conditions.items():
            f.create_dataset(f"conditions/{k}", data=v)
    return path


def load_pairs(path) -> PairedData:
    """Read a dataset written by :func:`save_pairs` (``qcdgen hic pairs``)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such pairs file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path} is not an HDF5 file (make it with qcdgen hic pairs)") from None
    with f:
        if f.attrs.get("kind") != _KIND:
            raise InputError(f"{path} is not a qcdgen pairs file (make it with qcdgen hic pairs)")
        if len(f["profiles"]) == 0:
            raise InputError(f"{path} holds no events")
        src = str(f.attrs.get("source", ""))
        return PairedData(f["profiles"][()], float(f.attrs["profile_window"]), f["spectra"][()], f["pt_edges"][()],
                          f["phi_edges"][()], int(f.attrs["oversample"]),
                          {k: f[f"conditions/{k}"][()] for k in CONDITIONS}, f["n_charged"][()], f["cloud_data"][()],
                          f["cloud_offsets"][()], str(f.attrs["model"]), src.split("\n") if src else [],
                          str(f.attrs["profile_units"]))
