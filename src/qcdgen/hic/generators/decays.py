"""Strong and electromagnetic decays of the main resonances, with exact phase-space kinematics.

Two-body decays are isotropic in the parent rest frame, three-body decays uniform in the
Dalitz plot (constant matrix element); daughters are boosted to the lab. Branching ratios
are the PDG main channels, split over charge states by isospin Clebsch–Gordan factors and
rounded so every channel list sums to one. Weakly decaying hadrons (K⁰_S, Λ, Σ±, Ξ, Ω)
and π⁰ are left undecayed: they are "primary" in the ALICE sense (cτ > 1 cm) or, for π⁰,
only produce photons. K⁰ and K̄⁰ become K⁰_S or K⁰_L with probability ½ each.
"""

from __future__ import annotations

import numpy as np

from qcdgen.hic._random import isotropic_unit_vectors, random_rotations
from qcdgen.hic.generators.hadron_gas import HBARC, SELF_CONJUGATE, antiparticle, pdg_properties

__all__ = ["DECAYS", "decay_all", "is_unstable", "two_body_momentum", "boost"]

_T = 2.0 / 3.0
_O = 1.0 / 3.0
#: parent code -> [(branching ratio, daughter codes)], particles only (antiparticles conjugated)
_DECAYS_PARTICLES: dict[int, list[tuple[float, tuple[int, ...]]]] = {
    213: [(1.0, (211, 111))],
    113: [(1.0, (211, -211))],
    223: [(0.90, (211, -211, 111)), (0.10, (111, 22))],
    221: [(0.394, (22, 22)), (0.327, (111, 111, 111)), (0.279, (211, -211, 111))],
    331: [(0.425, (211, -211, 221)), (0.224, (111, 111, 221)), (0.351, (113, 22))],
    333: [(0.492, (321, -321)), (0.340, (310, 130)), (0.168, (211, -211, 111))],
    323: [(_T, (311, 211)), (_O, (321, 111))],
    313: [(_T, (321, -211)), (_O, (311, 111))],
    9010221: [(_T, (211, -211)), (_O, (111, 111))],
    225: [(0.57, (211, -211)), (0.28, (111, 111)), (0.075, (321, -321)), (0.075, (310, 130))],
    2224: [(1.0, (2212, 211))],
    2214: [(_T, (2212, 111)), (_O, (2112, 211))],
    2114: [(_T, (2112, 111)), (_O, (2212, -211))],
    1114: [(1.0, (2112, -211))],
    3224: [(0.88, (3122, 211)), (0.06, (3222, 111)), (0.06, (3212, 211))],
    3214: [(0.88, (3122, 111)), (0.06, (3222, -211)), (0.06, (3112, 211))],
    3114: [(0.88, (3122, -211)), (0.06, (3212, -211)), (0.06, (3112, 111))],
    3212: [(1.0, (3122, 22))],
    3324: [(_T, (3312, 211)), (_O, (3322, 111))],
    3314: [(_T, (3322, -211)), (_O, (3312, 111))],
    311: [(0.5, (310,)), (0.5, (130,))],
    # a1(1260) -> rho pi; b1(1235) -> omega pi; h1(1170) -> rho pi; a2(1320) -> rho pi, eta pi
    20213: [(0.5, (113, 211)), (0.5, (213, 111))],
    20113: [(0.5, (213, -211)), (0.5, (-213, 211))],
    10213: [(1.0, (223, 211))],
    10113: [(1.0, (223, 111))],
    10223: [(_O, (213, -211)), (_O, (-213, 211)), (_O, (113, 111))],
    215: [(0.41, (113, 211)), (0.41, (213, 111)), (0.18, (221, 211))],
    115: [(0.41, (213, -211)), (0.41, (-213, 211)), (0.18, (221, 111))],
    # f1(1285) -> eta pi pi, 4pi (as rho0 pi+ pi-); f2'(1525) -> K Kbar
    20223: [(0.40, (221, 211, -211)), (0.20, (221, 111, 111)), (0.40, (113, 211, -211))],
    335: [(0.5, (321, -321)), (0.5, (311, -311))],
    # K1(1270) -> K rho, K* pi, K omega; K1(1400) -> K* pi; K2*(1430) -> K pi, K* pi, K rho
    10323: [(0.36, (311, 213)), (0.18, (321, 113)), (0.17, (313, 211)), (0.09, (323, 111)), (0.20, (321, 223))],
    10313: [(0.36, (321, -213)), (0.18, (311, 113)), (0.17, (323, -211)), (0.09, (313, 111)), (0.20, (311, 223))],
    20323: [(_T, (313, 211)), (_O, (323, 111))],
    20313: [(_T, (323, -211)), (_O, (313, 111))],
    325: [(0.367, (311, 211)), (0.183, (321, 111)), (0.20, (313, 211)), (0.10, (323, 111)),
          (0.10, (311, 213)), (0.05, (321, 113))],
    315: [(0.367, (321, -211)), (0.183, (311, 111)), (0.20, (323, -211)), (0.10, (313, 111)),
          (0.10, (321, -213)), (0.05, (311, 113))],
    # N* -> N pi (isospin 1/2: 2/3, 1/3), Delta pi (1/2, 1/3, 1/6), N eta
    12212: [(0.7 * _T, (2112, 211)), (0.7 * _O, (2212, 111)),
            (0.15, (2224, -211)), (0.10, (2214, 111)), (0.05, (2114, 211))],
    12112: [(0.7 * _T, (2212, -211)), (0.7 * _O, (2112, 111)),
            (0.05, (2214, -211)), (0.10, (2114, 111)), (0.15, (1114, 211))],
    2124: [(0.6 * _T, (2112, 211)), (0.6 * _O, (2212, 111)),
           (0.20, (2224, -211)), (0.4 / 3, (2214, 111)), (0.4 / 6, (2114, 211))],
    1214: [(0.6 * _T, (2212, -211)), (0.6 * _O, (2112, 111)),
           (0.4 / 6, (2214, -211)), (0.4 / 3, (2114, 111)), (0.20, (1114, 211))],
    22212: [(0.5 * _T, (2112, 211)), (0.5 * _O, (2212, 111)), (0.5, (2212, 221))],
    22112: [(0.5 * _T, (2212, -211)), (0.5 * _O, (2112, 111)), (0.5, (2112, 221))],
    # Lambda(1405) -> Sigma pi; Lambda(1520) -> N Kbar, Sigma pi, Lambda pi pi
    13122: [(_O, (3222, -211)), (_O, (3212, 111)), (_O, (3112, 211))],
    3124: [(0.225, (2212, -321)), (0.225, (2112, -311)), (0.43 / 3, (3222, -211)), (0.43 / 3, (3212, 111)),
           (0.43 / 3, (3112, 211)), (0.08, (3122, 211, -211)), (0.04, (3122, 111, 111))],
}


def _build_table() -> dict[int, tuple[np.ndarray, list[tuple[int, ...]]]]:
    table = {}
    for parent, channels in _DECAYS_PARTICLES.items():
        for code, conj in ((parent, False), (antiparticle(parent), True)):
            if conj and code == parent:
                continue
            br = np.array([c[0] for c in channels])
            daughters = [tuple(antiparticle(d) if conj and d not in SELF_CONJUGATE else d for d in c[1])
                         for c in channels]
            table[code] = (br / br.sum(), daughters)
    return table


#: code -> (branching ratios, list of daughter tuples), particles and antiparticles
DECAYS = _build_table()


def is_unstable(codes: np.ndarray) -> np.ndarray:
    return np.isin(codes, np.fromiter(DECAYS, dtype=np.int64))


def _mass(code: int) -> float:
    if code == 22:
        return 0.0
    if code in (310, 130):
        return 0.497611
    return pdg_properties(abs(code))[0]


def threshold(code: int) -> float:
    """Largest sum of daughter masses over the channels of ``code`` (0 if stable)."""
    if code not in DECAYS:
        return 0.0
    return max(sum(_mass(d) for d in ds) for ds in DECAYS[code][1])


def two_body_momentum(M, m1, m2):
    """Daughter momentum in the rest frame of a parent of mass M: √(λ(M², m1², m2²))/(2M)."""
    lam = (M ** 2 - (m1 + m2) ** 2) * (M ** 2 - (m1 - m2) ** 2)
    return np.sqrt(np.clip(lam, 0.0, None)) / (2 * M)


def boost(p_rest: np.ndarray, e_rest: np.ndarray, parent_p: np.ndarray, parent_e: np.ndarray,
          parent_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boost 4-momenta (e_rest, p_rest[:, 3]) from the parent rest frame to the lab."""
    beta = parent_p / parent_e[:, None]
    gamma = parent_e / parent_m
    bp = (beta * p_rest).sum(axis=1)
    coef = gamma ** 2 / (gamma + 1) * bp + gamma * e_rest
    return p_rest + coef[:, None] * beta, gamma * (e_rest + bp)


def _two_body(M, m1, m2, rng):
    p = two_body_momentum(M, m1, m2)
    d = isotropic_unit_vectors(len(M), rng) * p[:, None]
    return [d, -d]


def _three_body(M, m1, m2, m3, rng):
    """Rest-frame momenta uniform in the Dalitz plot (m12², m23²) (PDG kinematics review, eq. 49.22)."""
    n = len(M)
    m12sq = np.empty(n)
    m23sq = np.empty(n)
    todo = np.arange(n)
    while len(todo):
        Mt, a, b, c = M[todo], m1[todo], m2[todo], m3[todo]
        s12 = rng.uniform((a + b) ** 2, (Mt - c) ** 2)
        s23 = rng.uniform((b + c) ** 2, (Mt - a) ** 2)
        # Dalitz boundary at fixed m12²: energies of 2 and 3 in the (12) rest frame
        m12 = np.sqrt(s12)
        e2 = (s12 - a ** 2 + b ** 2) / (2 * m12)
        e3 = (Mt ** 2 - s12 - c ** 2) / (2 * m12)
        p2 = np.sqrt(np.clip(e2 ** 2 - b ** 2, 0, None))
        p3 = np.sqrt(np.clip(e3 ** 2 - c ** 2, 0, None))
        lo = (e2 + e3) ** 2 - (p2 + p3) ** 2
        hi = (e2 + e3) ** 2 - (p2 - p3) ** 2
        ok = (s23 >= lo) & (s23 <= hi)
        m12sq[todo[ok]] = s12[ok]
        m23sq[todo[ok]] = s23[ok]
        todo = todo[~ok]
    E1 = (M ** 2 + m1 ** 2 - m23sq) / (2 * M)
    E3 = (M ** 2 + m3 ** 2 - m12sq) / (2 * M)
    E2 = M - E1 - E3
    P1 = np.sqrt(np.clip(E1 ** 2 - m1 ** 2, 0, None))
    P2 = np.sqrt(np.clip(E2 ** 2 - m2 ** 2, 0, None))
    P3 = np.sqrt(np.clip(E3 ** 2 - m3 ** 2, 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos13 = np.clip((P2 ** 2 - P1 ** 2 - P3 ** 2) / (2 * P1 * P3), -1, 1)
    cos13 = np.nan_to_num(cos13, nan=1.0)
    sin13 = np.sqrt(1 - cos13 ** 2)
    v1 = np.stack([np.zeros(n), np.zeros(n), P1], axis=1)
    v3 = np.stack([P3 * sin13, np.zeros(n), P3 * cos13], axis=1)
    v2 = -(v1 + v3)
    R = random_rotations(n, rng)
    return [np.einsum("nij,nj->ni", R, v) for v in (v1, v2, v3)]


def decay_all(codes: np.ndarray, p: np.ndarray, e: np.ndarray, m: np.ndarray, owner: np.ndarray,
              rng: np.random.Generator, positions: np.ndarray | None = None):
    """Decay every unstable particle, repeatedly, until only stable ones are left.

    Arrays are flat over all particles of a batch of events; ``owner`` is the event index of
    each particle and is inherited by the daughters. ``positions`` (n, 4) = (t, x, y, z) in fm, if
    given, move each parent along its momentum for an exponential proper time of mean ħ/Γ.
    Returns (codes, p, e, m, owner, positions) of the final particles.
    """
    while True:
        unstable = is_unstable(codes)
        if not unstable.any():
            return codes, p, e, m, owner, positions
        keep = ~unstable
        out = [(codes[keep], p[keep], e[keep], m[keep], owner[keep],
                None if positions is None else positions[keep])]
        for parent in np.unique(codes[unstable]):
            idx = np.flatnonzero(codes == parent)
            br, channels = DECAYS[int(parent)]
            choice = rng.choice(len(br), size=len(idx), p=br)
            if positions is not None:
                width = pdg_properties(abs(int(parent)))[1] if parent not in (311, -311) else 0.0
                tau = rng.exponential(HBARC / width, len(idx)) if width > 0 else np.zeros(len(idx))
                shift = np.concatenate([e[idx, None], p[idx]], axis=1) / m[idx, None] * tau[:, None]
                parent_pos = positions[idx] + shift
            for ch, daughters in enumerate(channels):
                sel = idx[choice == ch]
                if len(sel) == 0:
                    continue
                M = m[sel]
                dm = [np.full(len(sel), _mass(d)) for d in daughters]
                if len(daughters) == 1:
                    rest = [np.zeros((len(sel), 3))]
                    dm = [M]
                elif len(daughters) == 2:
                    rest = _two_body(M, dm[0], dm[1], rng)
                else:
                    rest = _three_body(M, dm[0], dm[1], dm[2], rng)
                for d, pr, md in zip(daughters, rest, dm):
                    er = np.sqrt(md ** 2 + (pr ** 2).sum(axis=1))
                    pl, el = boost(pr, er, p[sel], e[sel], M)
                    pos = None if positions is None else parent_pos[choice == ch]
                    out.append((np.full(len(sel), d, dtype=codes.dtype), pl, el, md, owner[sel], pos))
        codes = np.concatenate([o[0] for o in out])
        p = np.concatenate([o[1] for o in out])
        e = np.concatenate([o[2] for o in out])
        m = np.concatenate([o[3] for o in out])
        owner = np.concatenate([o[4] for o in out])
        positions = None if positions is None else np.concatenate([o[5] for o in out])
