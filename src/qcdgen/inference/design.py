"""Space-filling experimental designs over a box of parameters, and their CSV files.

A design is ``n`` points in the box ∏_j [lo_j, hi_j]. :func:`maximin_lhs` builds a Latin
hypercube (each parameter's range cut into ``n`` equal strata, one point per stratum;
McKay, Beckman & Conover, Technometrics 21 (1979) 239) and improves it by column-wise swaps
that minimise the Morris–Mitchell criterion

    φ_p = (Σ_{i<j} d_ij^{-p})^{1/p},  p = 50,

a smooth stand-in for maximising the smallest pairwise distance min d_ij (Morris & Mitchell,
J. Stat. Plan. Inference 43 (1995) 381), with distances in the unit cube.

The CSV file keeps the box: ``# range NAME LO HI`` comment lines, then a header line of
parameter names and one row per point, so every later step can refuse a parameter outside it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qcdgen.errors import InputError
from qcdgen.io.atomic import atomic_write_text

__all__ = ["Design", "ParameterBox", "maximin_lhs", "make_design", "parse_param", "parse_assignments",
           "read_design", "write_design", "phi_p", "min_distance"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
#: relative slack when checking that a value lies in a range (CSV round trip, float noise)
RANGE_SLACK = 1e-9


@dataclass(frozen=True)
class ParameterBox:
    """Named parameters with ranges [lo, hi] (the uniform prior of a calibration)."""

    names: tuple[str, ...]
    lo: np.ndarray
    hi: np.ndarray

    def __post_init__(self):
        names = tuple(self.names)
        lo, hi = np.asarray(self.lo, float).reshape(-1), np.asarray(self.hi, float).reshape(-1)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        if not names:
            raise InputError("a design needs at least one parameter (--param NAME=LO:HI)")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise InputError(f"parameter {dup[0]!r} is given twice; each parameter once")
        if len(lo) != len(names) or len(hi) != len(names):
            raise InputError(f"{len(names)} parameters but {len(lo)} lower and {len(hi)} upper bounds")
        for name, a, b in zip(names, lo, hi):
            if not _NAME.match(name):
                raise InputError(f"parameter name {name!r} must be letters, digits, '_' or '.', "
                                 "starting with a letter")
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise InputError(f"parameter {name}: range must be finite with LO < HI, got {a:g}:{b:g}")

    @property
    def ndim(self) -> int:
        return len(self.names)

    def to_unit(self, theta) -> np.ndarray:
        """θ ↦ u = (θ − lo)/(hi − lo) ∈ [0, 1]^d."""
        return (np.asarray(theta, float) - self.lo) / (self.hi - self.lo)

    def from_unit(self, u) -> np.ndarray:
        return self.lo + np.asarray(u, float) * (self.hi - self.lo)

    def inside(self, theta) -> np.ndarray:
        """Boolean per row: every coordinate within [lo, hi]."""
        theta = np.atleast_2d(np.asarray(theta, float))
        return np.all((theta >= self.lo) & (theta <= self.hi), axis=-1)

    def check_inside(self, theta, what: str = "parameter") -> np.ndarray:
        """Refuse (one line) any coordinate outside the design's range, with a little float slack."""
        theta = np.atleast_2d(np.asarray(theta, float))
        if theta.shape[-1] != self.ndim:
            raise InputError(f"{what}: expected {self.ndim} values ({', '.join(self.names)}), got {theta.shape[-1]}")
        slack = RANGE_SLACK * (self.hi - self.lo)
        for row in theta:
            for name, v, a, b, s in zip(self.names, row, self.lo, self.hi, slack):
                if not (math.isfinite(v) and a - s <= v <= b + s):
                    raise InputError(f"{what} {name} = {v:g} is outside the design's range [{a:g}, {b:g}]")
        return np.clip(theta, self.lo, self.hi)

    def parse_point(self, text: str, what: str = "--at") -> np.ndarray:
        """``"eta_s=0.1,T_kin=0.09"`` → θ in the box (every parameter named once)."""
        values = parse_assignments(text, what)
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise InputError(f"{what}: unknown parameter {unknown[0]!r}; the design has {', '.join(self.names)}")
        missing = [n for n in self.names if n not in values]
        if missing:
            raise InputError(f"{what}: give every parameter, missing {', '.join(missing)}")
        theta = np.array([values[n] for n in self.names])
        return self.check_inside(theta, what)[0]

    def to_dict(self) -> dict:
        return {"names": list(self.names), "lo": [float(x) for x in self.lo], "hi": [float(x) for x in self.hi]}


@dataclass(frozen=True)
class Design:
    """A design: ``points`` (n, d) inside ``box``."""

    box: ParameterBox
    points: np.ndarray
    seed: int | None = None
    method: str = "maximin Latin hypercube"

    def __post_init__(self):
        pts = np.asarray(self.points, float)
        if pts.ndim != 2 or pts.shape[1] != self.box.ndim:
            raise InputError(f"design points must have shape (n, {self.box.ndim}), got {pts.shape}")
        object.__setattr__(self, "points", pts)
        check_enough_points(len(pts), self.box.ndim, "design")
        self.box.check_inside(pts, "design point:")

    @property
    def names(self) -> tuple[str, ...]:
        return self.box.names

    def __len__(self) -> int:
        return len(self.points)

    def point(self, i: int) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self.points[i])}


def check_enough_points(n: int, d: int, what: str = "design") -> None:
    """A design (or set of runs) needs at least d + 1 points to span d parameters."""
    if n < d + 1:
        raise InputError(f"{what} has {n} points for {d} parameters; at least parameters + 1 = {d + 1} are needed "
                         "(about 10 per parameter for a useful emulator)")


def parse_param(text: str) -> tuple[str, float, float]:
    """``"eta_s=0.02:0.30"`` → ``("eta_s", 0.02, 0.30)``."""
    name, sep, rng = str(text).partition("=")
    lo, sep2, hi = rng.partition(":")
    name = name.strip()
    try:
        if not (sep and sep2 and name):
            raise ValueError
        a, b = float(lo), float(hi)
    except ValueError:
        raise InputError(f"--param must be NAME=LO:HI, e.g. eta_s=0.02:0.30, got {text!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise InputError(f"--param {name}: need finite LO < HI, got {lo}:{hi}")
    return name, a, b


def parse_assignments(text: str, what: str) -> dict[str, float]:
    """``"a=1,b=2.5"`` → ``{"a": 1.0, "b": 2.5}`` (refusing malformed or repeated entries)."""
    out: dict[str, float] = {}
    for part in str(text).split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            if not (sep and name):
                raise ValueError
            v = float(value)
        except ValueError:
            raise InputError(f"{what} must be NAME=VALUE[,NAME=VALUE...], got {text!r}") from None
        if name in out:
            raise InputError(f"{what}: parameter {name!r} given twice")
        out[name] = v
    if not out:
        raise InputError(f"{what} must be NAME=VALUE[,NAME=VALUE...], got {text!r}")
    return out


def _pair_distances(u: np.ndarray) -> np.ndarray:
    diff = u[:, None, :] - u[None, :, :]
    d = np.sqrt(np.sum(diff * diff, axis=-1))
    return d[np.triu_indices(len(u), 1)]


def min_distance(u) -> float:
    """Smallest pairwise Euclidean distance between the rows of ``u``."""
    u = np.asarray(u, float)
    return float(_pair_distances(u).min()) if len(u) > 1 else math.inf


def phi_p(u, p: float = 50.0) -> float:
    """Morris–Mitchell φ_p = (Σ_{i<j} d_ij^{-p})^{1/p} (smaller is more space-filling), computed stably."""
    d = _pair_distances(np.asarray(u, float))
    if np.any(d == 0):
        return math.inf
    dmin = d.min()
    return float(np.sum((dmin / d) ** p) ** (1.0 / p) / dmin)


def maximin_lhs(n: int, d: int, rng: np.random.Generator, iterations: int | None = None,
                p: float = 50.0) -> np.ndarray:
    """An ``n``-point Latin hypercube in [0, 1]^d optimised for φ_p by within-column swaps.

    Points sit at the centres of their strata, ((π_j(i) + ½)/n); a swap of two rows in one column
    keeps the Latin property and is kept when φ_p decreases (greedy; the best of a few random starts).
    """
    if iterations is None:
        iterations = int(min(4000, 100 * n * d))
    best, best_phi = None, math.inf
    for _ in range(4):
        u = np.stack([(rng.permutation(n) + 0.5) / n for _ in range(d)], axis=1)
        cur = phi_p(u, p)
        for _ in range(iterations // 4):
            j = rng.integers(d)
            a, b = rng.choice(n, 2, replace=False)
            u[[a, b], j] = u[[b, a], j]
            new = phi_p(u, p)
            if new < cur:
                cur = new
            else:
                u[[a, b], j] = u[[b, a], j]
        if cur < best_phi:
            best, best_phi = u.copy(), cur
    return best


def make_design(params, n_points: int, seed: int = 0) -> Design:
    """A maximin Latin hypercube design of ``n_points`` over ``params`` = [(name, lo, hi), ...]."""
    params = list(params)
    box = ParameterBox(tuple(p[0] for p in params), [p[1] for p in params], [p[2] for p in params])
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)):
        raise InputError(f"--points must be an integer, got {n_points!r}")
    check_enough_points(int(n_points), box.ndim, f"--points {n_points}: the design")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"--seed must be an integer >= 0, got {seed!r}")
    u = maximin_lhs(int(n_points), box.ndim, np.random.default_rng(int(seed)))
    return Design(box, box.from_unit(u), seed=int(seed))


def design_text(design: Design) -> str:
    lines = [f"# qcdgen design: {design.method}, {len(design)} points"
             + (f", seed {design.seed}" if design.seed is not None else "")]
    lines += [f"# range {n} {a!r} {b!r}" for n, a, b in zip(design.names, design.box.lo.tolist(),
                                                            design.box.hi.tolist())]
    lines.append(",".join(design.names))
    lines += [",".join(repr(float(v)) for v in row) for row in design.points]
    return "\n".join(lines) + "\n"


def write_design(path: str | os.PathLike, design: Design) -> Path:
    """Write the design CSV atomically (``# range`` lines, header, one row per point)."""
    atomic_write_text(path, design_text(design))
    return Path(path)


def read_design(path: str | os.PathLike) -> Design:
    """Read a design CSV written by :func:`write_design`; refuse a file without ranges, or with a
    point outside them, a non-numeric value, or fewer points than parameters + 1."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"design file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"design file {str(path)!r} cannot be read ({exc})") from None
    ranges: dict[str, tuple[float, float]] = {}
    header, rows, seed = None, [], None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line[1:].split()
            if parts[:1] == ["range"]:
                try:
                    name, lo, hi = parts[1], float(parts[2]), float(parts[3])
                    if len(parts) != 4:
                        raise ValueError
                except (IndexError, ValueError):
                    raise InputError(f"{str(path)!r} line {lineno}: a range line must be "
                                     f"'# range NAME LO HI', got {line!r}") from None
                ranges[name] = (lo, hi)
            m = re.search(r"seed (\d+)", line)
            if m and parts[:1] != ["range"]:
                seed = int(m.group(1))
            continue
        cells = [c.strip() for c in line.split(",")]
        if header is None:
            header = cells
            continue
        if len(cells) != len(header):
            raise InputError(f"{str(path)!r} line {lineno}: {len(cells)} values, the header has {len(header)}")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise InputError(f"{str(path)!r} line {lineno}: values must be numbers, got {line!r}") from None
    if header is None:
        raise InputError(f"design file {str(path)!r} has no header line of parameter names")
    missing = [n for n in header if n not in ranges]
    if missing:
        raise InputError(f"design file {str(path)!r} has no '# range {missing[0]} LO HI' line; "
                         "make designs with qcdgen infer design")
    box = ParameterBox(tuple(header), [ranges[n][0] for n in header], [ranges[n][1] for n in header])
    pts = np.array(rows, float).reshape(len(rows), len(header))
    check_enough_points(len(pts), box.ndim, f"design file {str(path)!r}")
    box.check_inside(pts, f"design file {str(path)!r}: point with")
    return Design(box, pts, seed=seed)
