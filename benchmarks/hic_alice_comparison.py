"""The hydro-inspired generator against ALICE Pb–Pb data at √s_NN = 2.76 TeV, class by class.

    python benchmarks/hic_alice_comparison.py [--events 150] [--seed 1]

Generates ``--events`` events in each centrality class (geometric, from b) and prints, per
class, model ± statistical error, ALICE ± total error, ratio and pull for dN_ch/dη (|η|<0.5),
v₂{2} and v₂{4} (charged, |η|<0.8, 0.2<p_T<5 GeV) and, in 0–5 %, ⟨p_T⟩ of π⁺, K⁺, p.
Writes the same table as Markdown to benchmarks/results/hic_alice.md (the README quotes it).

Data: the table shipped as ``alice-pbpb2760`` (src/qcdgen/hic/data/alice_pbpb2760.csv):
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

from qcdgen.hic.data import shipped_data_path
from qcdgen.hic.generators.hydro_inspired import HydroInspiredGenerator
from qcdgen.inference.data import read_data
from qcdgen.hic.observables import observe

CLASSES = [(0, 5), (5, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 80)]
ALICE = read_data(shipped_data_path("alice-pbpb2760"))
REFERENCE = {key: (float(v), float(e)) for key, v, e in zip(ALICE.keys, ALICE.values, ALICE.errors)}
MEAN_PT_SPECIES = ("pi+", "K+", "p")


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
        label, key = f"{cls[0]}–{cls[1]}%", f"{cls[0]}-{cls[1]}%"
        shown = [("dNch/deta", "dNch/dη"), ("v2{2}", "v2{2}"), ("v2{4}", "v2{4}")]
        shown += [(f"mean_pt({sp})", f"⟨pT⟩ {sp} (GeV)") for sp in MEAN_PT_SPECIES]
        for name, pretty in shown:
            if (name, key) in REFERENCE:
                lines.append(_row(label, pretty, obs[name], *REFERENCE[(name, key)]))
        print(f"  {label} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    table = "\n".join(lines)
    print(table)
    out = Path(__file__).parent / "results" / "hic_alice.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"`python benchmarks/hic_alice_comparison.py --events {args.events} --seed {args.seed}`\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
