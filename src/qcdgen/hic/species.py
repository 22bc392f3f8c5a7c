"""Hadron species facts from the PDG tables of the ``particle`` package.

Lookups are vectorised over arrays of PDG Monte Carlo codes through ``np.unique``, so a
million particles cost one table lookup per distinct species.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["charge", "three_charge", "baryon_number", "strangeness", "mass", "name", "is_known",
           "is_hadron", "is_parton", "CHARGED_HADRONS", "IDENTIFIED"]

#: the stable identified hadrons analyses report (ALICE's π, K, p, plus the strange baryons)
IDENTIFIED = {"pi+": 211, "pi-": -211, "K+": 321, "K-": -321, "p": 2212, "pbar": -2212,
              "pi0": 111, "K0S": 310, "Lambda": 3122, "Lambdabar": -3122}
#: codes of the long-lived charged hadrons that reach a detector
CHARGED_HADRONS = (211, -211, 321, -321, 2212, -2212, 3112, -3112, 3222, -3222, 3312, -3312, 3334, -3334)


@lru_cache(maxsize=4096)
def _kind(code: int) -> tuple[bool, bool]:
    """(is a hadron or nucleus, is a parton: quark, gluon or diquark) of one PDG code."""
    from particle import PDGID

    pid = PDGID(int(code))
    if not pid.is_valid:
        return False, False
    parton = bool(pid.is_quark or pid.is_diquark or abs(int(code)) == 21)
    return bool(pid.is_hadron or pid.is_nucleus), parton


@lru_cache(maxsize=4096)
def _facts(code: int) -> tuple[int, int, int, float, str]:
    """(3×charge, 3×baryon number, strangeness, mass in GeV, name) of one PDG code; NaN mass if unknown."""
    from particle import Particle, PDGID
    from particle.particle.particle import ParticleNotFound, InvalidParticle

    pid = PDGID(int(code))
    if not pid.is_valid:
        return 0, 0, 0, float("nan"), f"pdg{code}"
    three_charge = pid.three_charge or 0
    three_baryon = 3 * int(np.sign(code)) if pid.is_baryon else 0
    if pid.is_nucleus:
        three_baryon = 3 * pid.A * int(np.sign(code))
    strange = -_strange_quarks(pid)
    try:
        p = Particle.from_pdgid(pid)
        m = float(p.mass) / 1000.0 if p.mass is not None else float("nan")
        return int(three_charge), three_baryon, strange, m, p.name
    except (ParticleNotFound, InvalidParticle):
        return int(three_charge), three_baryon, strange, float("nan"), f"pdg{code}"


def _strange_quarks(pid) -> int:
    """Net number of s quarks (s minus s̄) of a hadron, from its quark digits nq1 nq2 nq3.

    PDG numbering (RPP "Monte Carlo particle numbering scheme"): in a meson with a positive code,
    nq2 is the antiquark when it is down-type (odd) and the quark when it is up-type (even).
    """
    if not pid.has_strange:
        return 0
    code = abs(int(pid))
    sign = 1 if int(pid) > 0 else -1
    nq3, nq2, nq1 = (code // 10) % 10, (code // 100) % 10, (code // 1000) % 10
    if pid.is_meson:
        quark, antiquark = (nq3, nq2) if nq2 % 2 else (nq2, nq3)
        return sign * ((quark == 3) - (antiquark == 3))
    if pid.is_baryon:
        return sign * sum(1 for d in (nq1, nq2, nq3) if d == 3)
    return 0


def _lookup(codes, index: int, dtype):
    codes = np.asarray(codes, dtype=np.int64)
    uniq, inverse = np.unique(codes.reshape(-1), return_inverse=True)
    table = np.array([_facts(int(c))[index] for c in uniq], dtype=dtype)
    return table[inverse].reshape(codes.shape)


def three_charge(codes) -> np.ndarray:
    """Three times the electric charge (exact integers: d quark −1, u quark 2, uu diquark 4, π⁺ 3)."""
    return _lookup(codes, 0, np.int64)


def charge(codes) -> np.ndarray:
    """Electric charge in units of e of particles with a whole charge (hadrons, nuclei, leptons).

    Quarks and diquarks have fractional charges (``three_charge`` gives them exactly); they get
    0 here, so that the integer ``charge`` column of an event never makes a parton count as a
    charged particle (``charge != 0`` is the charged-particle selection of the observables).
    """
    q3 = three_charge(codes)
    return np.where(q3 % 3 == 0, q3 // 3, 0).astype(np.int32)


def is_hadron(codes) -> np.ndarray:
    """True for hadrons and nuclei (not for leptons, photons, partons or diquarks)."""
    codes = np.asarray(codes, dtype=np.int64)
    uniq, inverse = np.unique(codes.reshape(-1), return_inverse=True)
    table = np.array([_kind(int(c))[0] for c in uniq], dtype=bool)
    return table[inverse].reshape(codes.shape)


def is_parton(codes) -> np.ndarray:
    """True for quarks, gluons and diquarks (they cannot reach a detector)."""
    codes = np.asarray(codes, dtype=np.int64)
    uniq, inverse = np.unique(codes.reshape(-1), return_inverse=True)
    table = np.array([_kind(int(c))[1] for c in uniq], dtype=bool)
    return table[inverse].reshape(codes.shape)


def baryon_number(codes) -> np.ndarray:
    return (_lookup(codes, 1, np.int64) // 3).astype(np.int32)


def strangeness(codes) -> np.ndarray:
    """Strangeness S (an s quark counts −1)."""
    return _lookup(codes, 2, np.int32)


def mass(codes) -> np.ndarray:
    """PDG mass in GeV (NaN for a code the table does not know)."""
    return _lookup(codes, 3, np.float64)


def name(code: int) -> str:
    return _facts(int(code))[4]


def is_known(codes) -> np.ndarray:
    return np.isfinite(mass(codes))
