"""The hydro-inspired generator against ALICE Pb–Pb data at √s_NN = 2.76 TeV, class by class.

    python benchmarks/hic_alice_comparison.py [--events 150] [--seed 1]

Generates ``--events`` events in each centrality class (geometric, from b) and prints, per
class, model ± statistical error, ALICE ± total error, ratio and pull for dN_ch/dη (|η|<0.5),
v₂{2} and v₂{4} (charged, |η|<0.8, 0.2<p_T<5 GeV) and, in 0–5 %, ⟨p_T⟩ of π⁺, K⁺, p.
Writes the same table as Markdown to benchmarks/results/hic_alice.md (the README quotes it).

Data:
- dN_ch/dη: ALICE, PRL 106 (2011) 032301, table 1 (total errors).
- v₂{2}, v₂{4}: ALICE, PRL 105 (2010) 252302, Fig. 3 (pT-integrated charged-hadron flow);
  values read off the figure to about ±0.002, which is used as their error. 40–50 % v₂{4} =
  0.087 ± 0.002 (stat) ± 0.004 (syst) is quoted in the abstract.
- ⟨p_T⟩ of π, K, p in 0–5 %: ALICE, PRC 88 (2013) 044910, table 4 (total errors).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator
from qcdgen.hic.observables import observe

CLASSES = [(0, 5), (5, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 80)]
DNCH = {(0, 5): (1601, 60), (5, 10): (1294, 49), (10, 20): (966, 37), (20, 30): (649, 23), (30, 40): (426, 15),
        (40, 50): (261, 9), (50, 60): (149, 6), (60, 70): (76, 4), (70, 80): (35, 2)}
V22 = {(0, 5): 0.028, (5, 10): 0.046, (10, 20): 0.065, (20, 30): 0.084, (30, 40): 0.096, (40, 50): 0.102,
       (50, 60): 0.104}
V24 = {(5, 10): 0.034, (10, 20): 0.053, (20, 30): 0.071, (30, 40): 0.082, (40, 50): 0.087, (50, 60): 0.089}
V2_ERR = 0.002
MEAN_PT = {"pi+": (0.517, 0.019), "K+": (0.876, 0.026), "p": (1.333, 0.033)}


def _row(label, name, est, ref, ref_err):
    ratio = est.value / ref
    pull = (est.value - ref) / math.hypot(est.error, ref_err)
    return f"| {label} | {name} | {est.value:.4g} ± {est.error:.2g} | {ref:.4g} ± {ref_err:.2g} | {ratio:.3f} | {pull:+.1f} |"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150, help="events per centrality class")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    lines = ["| class | observable | qcdgen hydro-inspired | ALICE | ratio | pull |", "| --- | --- | --- | --- | --- | --- |"]
    start = time.perf_counter()
    for k, cls in enumerate(CLASSES):
        gen = HydroInspiredGenerator(centrality=cls)
        events, _ = gen.generate(args.events, np.random.default_rng([args.seed, k]))
        obs = observe(events, warn=False).observables
        label = f"{cls[0]}–{cls[1]}%"
        lines.append(_row(label, "dNch/dη", obs["dNch/deta"], *DNCH[cls]))
        if cls in V22:
            lines.append(_row(label, "v2{2}", obs["v2{2}"], V22[cls], V2_ERR))
        if cls in V24:
            lines.append(_row(label, "v2{4}", obs["v2{4}"], V24[cls], V2_ERR))
        if cls == (0, 5):
            for sp, (ref, err) in MEAN_PT.items():
                lines.append(_row(label, f"⟨pT⟩ {sp} (GeV)", obs[f"mean_pt({sp})"], ref, err))
        print(f"  {label} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    table = "\n".join(lines)
    print(table)
    out = Path(__file__).parent / "results" / "hic_alice.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"`python benchmarks/hic_alice_comparison.py --events {args.events} --seed {args.seed}`\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
