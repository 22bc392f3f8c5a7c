"""Bad input to the hydro solver → one-line InputError; a blow-up names the event and τ."""

import math

import numpy as np
import pytest

from qcdgen.errors import InputError, NaNError
from qcdgen.hic.hydro import evolve
from qcdgen.hic.hydro.evolve import HydroBlowUp
from qcdgen.hic.hydro.initial import EtaOverS, entropy_to_energy, initial_energy_density


def gauss(n=21, dx=0.5, width=1.5, amp=10.0):
    x = (np.arange(n) - 0.5 * (n - 1)) * dx
    X, Y = np.meshgrid(x, x, indexing="ij")
    return amp * np.exp(-(X ** 2 + Y ** 2) / (2 * width ** 2))


def one_line(exc):
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 300
    return msg


@pytest.mark.parametrize("kwargs, words", [
    (dict(e0=gauss(width=4.0)), "grid too small"),
    (dict(e0=-gauss()), "must be >= 0"),
    (dict(e0=np.where(gauss() > 5, np.nan, gauss())), "NaN"),
    (dict(e0=gauss(), dtau=0.2), "CFL"),
    (dict(e0=gauss(), tau_end=0.5), "tau_end must be > tau0"),
    (dict(e0=gauss(), tau_end=0.3), "tau_end must be > tau0"),
    (dict(e0=gauss(), eos="van-der-waals"), "eos must be one of"),
    (dict(e0=gauss(), eta_s=-0.1), "eta_s"),
    (dict(e0=gauss(), dx=0.0), "dx"),
    (dict(e0=gauss(), save_taus=[0.5, 9.0]), "save_taus"),
    (dict(e0=gauss()[None, :2]), "at least 3 x 3"),
    (dict(e0=gauss(), ux0=np.zeros((3, 3))), "shape of e0"),
])
def test_bad_input_one_line(kwargs, words):
    base = dict(dx=0.5, tau0=0.5, tau_end=1.0)
    base.update(kwargs)
    e0 = base.pop("e0")
    with pytest.raises(InputError) as exc:
        evolve(e0, **base)
    assert words in one_line(exc)


def test_blow_up_names_event_and_tau():
    class BadEOS:                              # p(e) turns NaN above 15 GeV/fm³: only event 1 gets there
        name, cs2 = "bad", 1 / 3

        def pressure(self, e):
            return e / 3 + 0 * e.log().where(e < 15, e * math.nan)

        def temperature(self, e):
            return (e / 13.8) ** 0.25

        def sound_speed2(self, e):
            return e * 0 + 1 / 3

    e0 = np.stack([gauss(amp=10.0), gauss(amp=20.0)])
    with pytest.raises(HydroBlowUp) as exc:
        evolve(e0, dx=0.5, tau0=0.5, tau_end=1.0, eos=BadEOS())
    assert exc.value.event == 1 and exc.value.tau == pytest.approx(0.6)
    assert "event 1" in one_line(exc) and "tau = 0.6" in str(exc.value)
    assert isinstance(exc.value, NaNError) and isinstance(exc.value, InputError)


def test_initial_state_bjorken_start_and_eta_over_s_kink():
    from qcdgen.hic.hydro.eos import HBARC, get_eos
    prof = gauss(amp=2.0)                      # T_R in fm⁻²
    e = initial_energy_density(prof, norm=20.0, tau0=0.6)
    # conformal gas: s = (4/3) a T³ with e = a T⁴ → e = a (3 s/4a)^{4/3}, s = norm T_R/τ0
    a = 47.5 * math.pi ** 2 / 30
    s = 20.0 * prof / 0.6 * HBARC ** 3         # s in GeV³
    np.testing.assert_allclose(e, a * (0.75 * s / a) ** (4 / 3) / HBARC ** 3, rtol=1e-10)
    # lattice EoS: s(e(s)) round trip through the independent s = (e + p)/T
    lat = get_eos("lattice")
    s_in = np.array([0.5, 5.0, 50.0, 200.0])
    e_lat = entropy_to_energy(s_in, "lattice")
    np.testing.assert_allclose((e_lat + lat.pressure(e_lat)) / lat.temperature(e_lat), s_in, rtol=2e-3)
    with pytest.raises(InputError):
        initial_energy_density(prof, norm=-1.0, tau0=0.6)
    f = EtaOverS(kink=0.1, T_kink=0.2, slope_low=-1.0, slope_high=0.5)
    np.testing.assert_allclose(f(np.array([0.15, 0.2, 0.4])), [0.15, 0.1, 0.2])
    assert f.minimum(0.4) == pytest.approx(0.1)
    # a run with (η/s)(T) works and keeps the event's energy finite
    res = evolve(initial_energy_density(gauss(amp=1.0, width=1.0), norm=20.0, tau0=0.6), dx=0.5,
                 tau0=0.6, tau_end=1.2, eta_s=f)
    assert np.isfinite(res.e).all() and np.asarray(res.eta_s_at(0.3)) == pytest.approx(0.15)
