"""``--model hydro`` (TRENTo → viscous hydro → Cooper–Frye → decays) as an event generator.

Small O–O events on a coarse grid keep this fast. Checks: the sidecar profiles conserve the
TRENTo entropy (bilinear resampling of a Gaussian against its analytic values and integral);
events, seeds, chunks and resume behave as for the blast wave, with the sidecar keyed by event
id; the model names resolve (``hydro`` real, ``blastwave`` the old model); bad input is refused;
with the default lattice EoS (HRG below 155 MeV) the sampled hadrons carry the fluid's energy
flux through the T_sw surface (energy conservation at particlization), the conformal one does not.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from qcdgen.cli.main import main
from qcdgen.errors import InputError
from qcdgen.hic import events as E
from qcdgen.hic.generation import generate_to_file, make_generator, sidecar_path
from qcdgen.hic.generators.hydro import HydroGenerator, HydroSettings, downsample_profiles

FAST = dict(system="OO", centrality=(0.0, 10.0), dx=0.6, eta_s=0.0)   # ideal: no relaxation-time step limit


def test_downsampled_profile_matches_analytic_gaussian():
    dx, n = 0.1, 300
    x = (np.arange(n) - (n - 1) / 2) * dx
    X, Y = np.meshgrid(x, x, indexing="ij")
    g = lambda X, Y: np.exp(-((X - 1.0) ** 2 + (Y + 0.5) ** 2) / (2 * 2.0 ** 2))
    small = downsample_profiles(g(X, Y)[None], dx, 64, 10.0)[0]
    c = -10.0 + (np.arange(64) + 0.5) * (20.0 / 64)
    CX, CY = np.meshgrid(c, c, indexing="ij")
    assert np.abs(small - g(CX, CY)).max() < 2e-3
    assert small.sum() * (20.0 / 64) ** 2 == pytest.approx(2 * np.pi * 2.0 ** 2, rel=2e-3)


def test_hydro_events_and_entropy_sidecar():
    gen = HydroGenerator(**FAST)
    events, states = gen.generate(2, np.random.default_rng(4))
    assert len(events) == 2 and all(len(p) > 100 for p in events.particles)
    assert np.all(events.eta_s == 0.0) and np.all(np.isfinite(events.centrality))
    prof = states.sidecar["entropy_profile"]
    assert prof.shape == (2, 64, 64)
    cell = (20.0 / 64) ** 2
    # the window holds the whole O-O profile: its integral is norm × the TRENTo total entropy
    assert prof.sum(axis=(1, 2)) * cell == pytest.approx(gen.norm * states.entropy, rel=0.02)
    # transverse momentum balance of the final state (exact event by event only up to sampling)
    px = np.asarray([np.sum(p.px) for p in events.particles])
    pt = np.asarray([np.sum(np.hypot(p.px, p.py)) for p in events.particles])
    assert np.all(np.abs(px) < 0.2 * pt)


def test_generation_resumes_with_the_same_events_and_sidecar(tmp_path):
    kwargs = dict(model="hydro", n_events=2, seed=7, chunk_events=1, progress=False) | FAST
    ref = tmp_path / "ref.parquet"
    summary = generate_to_file(ref, **kwargs)
    assert summary.sidecar == sidecar_path(ref) == tmp_path / "ref.profiles.h5"
    out = tmp_path / "E.parquet"
    with pytest.raises(KeyboardInterrupt):
        generate_to_file(out, stop_after=1, **kwargs)
    assert generate_to_file(out, **kwargs).resumed_chunks == 1
    a, b = E.read_events(ref), E.read_events(out)
    assert np.array_equal(np.asarray(a.b), np.asarray(b.b))
    assert E.read_metadata(out)["generator"] == "hydro"
    with h5py.File(summary.sidecar, "r") as f, h5py.File(sidecar_path(out), "r") as g:
        assert list(f["event_id"][()]) == [0, 1]
        assert np.array_equal(f["entropy_profile"][()], g["entropy_profile"][()])
        assert f["entropy_profile"].shape == (2, 64, 64) and "window_fm" in f.attrs


def test_model_names_and_cli(tmp_path, capsys):
    assert type(make_generator("hydro", **FAST)).__name__ == "HydroGenerator"
    assert type(make_generator("blastwave")).__name__ == "HydroInspiredGenerator"
    out = tmp_path / "H.parquet"
    code = main(["hic", "generate", "--model", "hydro", "--system", "OO", "--centrality", "0-10", "--events", "1",
                 "--seed", "2", "--out", str(out), "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == 0 and "wrote 1 hydro events" in stdout and "H.profiles.h5" in stdout
    assert (tmp_path / "H.profiles.h5").is_file()


def _energy_fraction(gen, rng, repeats=12):
    """Σ hadron energy per unit η_s at η_s = 0 (Cooper–Frye samples, no decays) / the fluid's
    T^{τμ} dσ_μ flux through the surface, with its sampling error."""
    from qcdgen.hic.hydro.cooper_frye import surface_energy_momentum_flux
    from qcdgen.hic.hydro.freezeout import surface_from_hydro

    s = gen.settings
    states = gen.initial_states(1, rng)
    res = gen._evolve(gen.energy_density(gen.norm * states.profiles / s.tau0), 0)
    flux = surface_energy_momentum_flux(surface_from_hydro(res, s.T_sw, event=0), gen.eos)[0]
    tot = []
    for _ in range(repeats):
        smp = gen._sample(gen._surface(res, 0, 0), rng)
        mt = np.sqrt(smp.E ** 2 - smp.p[:, 2] ** 2)
        tot.append(np.sum(mt * np.cosh(np.arctanh(smp.p[:, 2] / smp.E) - smp.eta_s)) / (2 * s.y_max))
    return np.mean(tot) / flux, np.std(tot) / np.sqrt(repeats) / flux


def test_lattice_eos_conserves_energy_at_particlization():
    from qcdgen.hic.hydro.eos import LatticeEOS

    gen = HydroGenerator(**FAST)
    assert gen.settings.eos == "lattice" and isinstance(gen.eos, LatticeEOS)
    frac, err = _energy_fraction(gen, np.random.default_rng(3))
    assert abs(frac - 1.0) < max(4 * err, 0.02)
    # the conformal gas matched in e at T_sw has P = e/3, not the HRG's P ≈ 0.15 e: energy is lost
    frac_c, err_c = _energy_fraction(HydroGenerator(**(FAST | {"eos": "conformal"})), np.random.default_rng(3))
    assert frac_c < 0.95 and frac_c + 4 * err_c < frac


def test_temperature_dependent_eta_s_runs():
    from qcdgen.hic.hydro.initial import EtaOverS

    gen = HydroGenerator(**(FAST | {"eta_s": EtaOverS(kink=0.08, T_kink=0.22, slope_high=1.0)}))
    events, _ = gen.generate(1, np.random.default_rng(5))
    assert len(events.particles[0]) > 100 and events.eta_s[0] == pytest.approx(0.08)


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="too small for the nucleus"):
        HydroSettings(grid_max=5.0).check()
    with pytest.raises(InputError, match="T_sw"):
        HydroSettings(T_sw=0.3).check()
    with pytest.raises(InputError, match="lattice EoS"):
        HydroSettings(T_sw=0.16).check()
    with pytest.raises(InputError, match="eos"):
        HydroSettings(eos="van-der-waals").check()
    with pytest.raises(InputError, match="eta_s"):
        HydroSettings(eta_s=lambda T: 0.1).check()
    with pytest.raises(InputError, match="grid edge"):
        HydroGenerator(**(FAST | {"grid_max": 5.6, "T_sw": 0.1})).generate(1, np.random.default_rng(0))
