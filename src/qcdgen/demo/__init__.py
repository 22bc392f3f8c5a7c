"""``qcdgen demo``: each product of qcdgen, briefly, judged by physics, in one HTML report.

- ``lattice``: HMC ground truth → diffusion model → exact probability-flow proposals corrected by
  independence Metropolis → validation against HMC (:mod:`qcdgen.demo.lattice`);
- ``hic``: simulator events → observables → a shipped surrogate → validation by physics
  (:mod:`qcdgen.demo.hic`);
- ``inverse``: a spectral function from a noisy correlator, closure test against the truth
  (:mod:`qcdgen.demo.inverse`).

:func:`run_demo` returns a :class:`DemoResult` (one :class:`ValidationResult` per part) and writes
DIR/report.html and DIR/validation.json (``{"passed", "sections": {part: {"passed", "rows", ...}}}``).
It narrates through ``log`` (the CLI passes ``print``); it prints nothing itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from qcdgen.demo.hic import HicDemo
from qcdgen.demo.inverse import InverseDemo
from qcdgen.demo.lattice import LATTICE_PRESETS, LatticeDemo
from qcdgen.errors import InputError
from qcdgen.stats.validation_result import ValidationResult

PARTS = ("lattice", "hic", "inverse")
TITLES = {"lattice": "lattice sampler: phi^4 diffusion model + Metropolis vs HMC",
          "hic": "heavy-ion surrogate vs event generator",
          "inverse": "spectral reconstruction: closure test"}


@dataclass(frozen=True)
class DemoPreset:
    lattice: LatticeDemo
    hic: HicDemo = HicDemo()
    inverse: InverseDemo = InverseDemo()


PRESETS = {"quick": DemoPreset(lattice=LATTICE_PRESETS["quick"]),
           "paper": DemoPreset(lattice=LATTICE_PRESETS["paper"], hic=HicDemo(events=2000))}


@dataclass
class DemoResult:
    """The validation of each part that ran, where the files are, and how long each part took."""

    out: Path
    sections: dict[str, ValidationResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    hic_observables: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.sections) and all(r.passed for r in self.sections.values())


def _prepare(out: Path) -> Path:
    from qcdgen.io.atomic import check_writable_dir

    check_writable_dir(out, "--out")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _parts(only) -> tuple[str, ...]:
    if only is None:
        return PARTS
    chosen = (only,) if isinstance(only, str) else tuple(only)
    bad = [p for p in chosen if p not in PARTS]
    if bad or not chosen:
        raise InputError(f"--only must be one of {', '.join(PARTS)}, got {only!r}")
    return tuple(p for p in PARTS if p in chosen)


def run_demo(out: str | Path = "qcdgen-demo", preset: str | DemoPreset = "quick", seed: int = 0,
             device: str = "cpu", kappa: float | None = None, only: str | tuple[str, ...] | None = None,
             progress: bool = True, log: Callable[[str], None] | None = None) -> DemoResult:
    """Run the chosen parts (default all) and write DIR/report.html and DIR/validation.json."""
    from qcdgen.demo.lattice import check_lattice_demo, run_lattice_demo
    from qcdgen.report import write_report
    from qcdgen.runtime import make_generator, resolve_device

    if isinstance(preset, DemoPreset):
        p = preset
    elif preset in PRESETS:
        p = PRESETS[preset]
    else:
        raise InputError(f"--preset must be one of {sorted(PRESETS)}, got {preset!r}")
    parts = _parts(only)
    resolve_device(device)
    make_generator(seed, resolve_device("cpu"))  # refuses a bad seed
    hmc = check_lattice_demo(p.lattice, seed, device, kappa)  # bad physics parameters: before any file
    if "hic" in parts and p.hic.model is None:
        from qcdgen.demo.hic import shipped_surrogate

        shipped_surrogate()
    out = _prepare(Path(out))
    say = log or (lambda text: None)
    result = DemoResult(out=out)
    for k, part in enumerate(parts, 1):
        say(f"[{k}/{len(parts)}] {TITLES[part]}")
        start = time.perf_counter()
        if part == "lattice":
            section = run_lattice_demo(out, p.lattice, hmc, seed, device, progress, say)
        elif part == "hic":
            from qcdgen.demo.hic import run_hic_demo

            section, result.hic_observables = run_hic_demo(out, p.hic, seed, device, progress, say)
        else:
            from qcdgen.demo.inverse import run_inverse_demo

            section = run_inverse_demo(out, p.inverse, seed, device, progress, say)
        result.seconds[part] = time.perf_counter() - start
        section.info["wall time of this part"] = f"{result.seconds[part]:.0f} s"
        result.sections[part] = section
    write_report(list(result.sections.items()), html_path=out / "report.html",
                 json_path=out / "validation.json", title="qcdgen demo")
    return result


__all__ = ["DemoPreset", "DemoResult", "PARTS", "PRESETS", "run_demo"]
