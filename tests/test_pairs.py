"""The (initial profile, final state) dataset: the 2D spectrum's normalisation against an exact
thermal distribution, the frame shared by profiles and spectra, round trips and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.hic.conditional.pairs import build_pairs, concat_pairs, load_pairs, save_pairs
from qcdgen.hic.observables.spectrum2d import PHI_EDGES, PT_EDGES, charged_spectra, spectrum_measure


def test_spectrum_of_exact_thermal_source():
    """Massless particles with dN/(dy pT dpT dφ) = A e^{−pT/T}, y uniform on |y| < 1: every bin of the
    image equals the bin average of A e^{−pT/T} (pulls with Poisson errors)."""
    rng = np.random.default_rng(3)
    T, n_events, per_event = 0.25, 40, 4000
    n = n_events * per_event
    pt = rng.gamma(2.0, T, n)                       # pT dpT e^{-pT/T}  ->  Gamma(2, T)
    phi = rng.uniform(-math.pi, math.pi, n)
    y = rng.uniform(-1.0, 1.0, n)
    px, py, pz, E = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(y), pt * np.cosh(y)
    owner = np.repeat(np.arange(n_events), per_event)
    img = charged_spectra(np.ones(n), px, py, pz, E, owner, n_events).astype(float)
    # per event: dN/dy = per_event / 2 = A ∫ pT e^{-pT/T} dpT dφ = A 2π T²
    A = per_event / 2.0 / (2.0 * math.pi * T ** 2)
    lo, hi = PT_EDGES[:-1], PT_EDGES[1:]
    prim = lambda p: -T * (p + T) * np.exp(-p / T)              # ∫ p e^{-p/T} dp
    expected = A * (prim(hi) - prim(lo)) / (0.5 * (hi ** 2 - lo ** 2))
    mean = img.mean(axis=0)                                     # [n_pt, n_phi]
    counts = img.sum(axis=0) * spectrum_measure()               # summed counts per bin
    err = mean / np.sqrt(np.maximum(counts, 1))
    pull = (mean - expected[:, None]) / err
    assert np.abs(pull).max() < 5.0
    assert abs(pull.mean()) < 0.2 and 0.8 < pull.std() < 1.2


def test_spectrum_counts_only_charged_in_rapidity_window():
    px, py, pz, E = np.array([0.5, 0.5, 0.5]), np.zeros(3), np.array([0.0, 0.0, 5.0]), np.array([0.5, 0.5, 5.03])
    img = charged_spectra(np.array([1, 0, -1]), px, py, pz, E, np.zeros(3, int), 1)
    assert (img * spectrum_measure()).sum() == pytest.approx(1.0)
    with pytest.raises(InputError):
        charged_spectra(np.ones(3), px, py, pz, E, np.zeros(3, int), 1, oversample=0)


@pytest.fixture(scope="module")
def blastwave_pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "bw.parquet"
    assert main(["hic", "generate", "--model", "blastwave", "--centrality", "20-50", "--events", "80",
                 "--seed", "5", "--oversample", "4", "--out", str(out), "--no-progress"]) == 0
    return out


def test_profiles_and_spectra_share_the_frame(blastwave_pairs):
    """The blast wave's flow plane is the participant plane of its profile: the spectrum's Ψ₂ must
    follow the profile's Φ₂ event by event (a transposed or mirrored axis would fail), and its v₂
    must grow with ε₂."""
    from qcdgen.hic.initial import Grid
    from qcdgen.hic.initial.eccentricity import eccentricities

    pd = build_pairs(blastwave_pairs)
    assert len(pd) == 80 and pd.model == "blastwave" and pd.oversample == 4
    eps, phi_pp = eccentricities(pd.profiles, Grid(n=pd.profile_cells, max=pd.profile_window), (2,))
    centres = 0.5 * (PHI_EDGES[1:] + PHI_EDGES[:-1])
    w = (pd.spectra * spectrum_measure()[None]).sum(axis=1)        # counts per unit y: [N, n_phi]
    q2 = (w * np.exp(2j * centres)).sum(axis=1) / w.sum(axis=1)
    v2, psi2 = np.abs(q2), np.angle(q2) / 2
    sel = eps[:, 0] > 0.15
    assert sel.sum() > 20
    assert np.mean(np.cos(2 * (psi2[sel] - phi_pp[sel, 0]))) > 0.8
    assert np.corrcoef(v2, eps[:, 0])[0, 1] > 0.6


def test_smooth_spectrum_matches_the_events_multiplicity(blastwave_pairs):
    """The oversampled spectrum integrates to the events' own charged dN/dy (|y| < 0.5) on average;
    the events' charged count in |η| < 0.5 is within 20 % of it (η vs y)."""
    pd = build_pairs(blastwave_pairs)
    dndy = (pd.spectra * spectrum_measure()[None]).sum(axis=(1, 2))       # per unit y in |y| < 0.5, pT < 2
    own = build_pairs(blastwave_pairs)
    assert np.corrcoef(dndy, pd.n_charged)[0, 1] > 0.95
    ratio = pd.n_charged.sum() / dndy.sum()
    assert 0.8 < ratio < 1.2
    assert own.cloud(0).shape[1] == 4 and np.abs(own.cloud(0)[:, 2]).max() < 0.8


def test_round_trip_subset_and_concat(blastwave_pairs, tmp_path):
    pd = build_pairs(blastwave_pairs, profile_cells=16)
    assert pd.profiles.shape[1:] == (16, 16)
    back = load_pairs(save_pairs(pd, tmp_path / "p.h5"))
    for name in ("profiles", "spectra", "n_charged", "cloud_data", "cloud_offsets", "pt_edges"):
        np.testing.assert_array_equal(getattr(back, name), getattr(pd, name))
    np.testing.assert_array_equal(back.conditions["centrality"], pd.conditions["centrality"])
    sub = pd.subset([3, 1])
    np.testing.assert_array_equal(sub.cloud(0), pd.cloud(3))
    np.testing.assert_array_equal(sub.cloud(1), pd.cloud(1))
    both = concat_pairs([sub, pd])
    assert len(both) == 82 and np.array_equal(both.cloud(2), pd.cloud(0))
    x, mask = pd.clouds(50, np.random.default_rng(0))
    assert x.shape == (80, 50, 4) and mask.all()


def test_bad_input(blastwave_pairs, tmp_path, capsys):
    plain = tmp_path / "plain.parquet"
    assert main(["hic", "generate", "--model", "blastwave", "--events", "5", "--out", str(plain), "--no-progress"]) == 0
    assert main(["hic", "pairs", str(plain), "--out", str(tmp_path / "x.h5")]) == 2
    assert "--oversample" in capsys.readouterr().err
    assert main(["hic", "pairs", str(blastwave_pairs), "--profile-cells", "24", "--out", str(tmp_path / "x.h5")]) == 2
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="not an HDF5"):
        load_pairs(empty)
    with pytest.raises(InputError, match="no such"):
        load_pairs(tmp_path / "missing.h5")
    assert main(["hic", "generate", "--model", "blastwave", "--eos", "first_order", "--events", "5",
                 "--out", str(tmp_path / "e.parquet")]) == 2
