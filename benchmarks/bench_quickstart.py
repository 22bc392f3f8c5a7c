"""Time the README's two quick-start commands on a fresh virtual environment, idle and under load.

    python benchmarks/bench_quickstart.py                  # fresh venv; demo and tests, idle and beside 1 busy process
    python benchmarks/bench_quickstart.py --steps demo     # only the demo
    python benchmarks/bench_quickstart.py --venv DIR --reuse   # keep / reuse an installed venv (skips the install rows)

"Under load" runs the step beside N busy CPU processes (a plain Python loop each, ``--busy 1``),
as a laptop with a browser open or a shared cluster node would. The table gives the wall time of
each step, the ratio loaded/idle and the step's result (the demo's PASS/FAIL, pytest's summary).
The issue's limits: demo <= 300 s idle and <= 2.5x that under load; tests <= 8 min idle.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_INSTALL = "pip install torch==2.13.0 -e ."
BUSY = "while True: pass"


def _run(command: str, cwd: Path, env: dict, log: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    with open(log, "w") as out:
        code = subprocess.call(["bash", "-c", command], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    return seconds, code, log.read_text(errors="replace")


def _busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n)]


def _verdict(step: str, text: str) -> str:
    if step == "demo":
        last = [line for line in text.splitlines() if line.startswith(("PASS", "FAIL"))]
        return last[-1].split(":")[0] if last else "no verdict"
    match = re.findall(r"^=* ?(\d+ (?:passed|failed|error).*?) in [\d.]+s", text, flags=re.M)
    return match[-1] if match else "no summary"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="demo,tests", help="comma-separated: demo, tests (default both)")
    parser.add_argument("--busy", type=int, default=1, help="busy CPU processes for the loaded runs (default 1)")
    parser.add_argument("--no-idle", action="store_true", help="skip the idle runs")
    parser.add_argument("--no-load", action="store_true", help="skip the loaded runs")
    parser.add_argument("--venv", default=None, help="virtual environment directory (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="reuse --venv as installed (no install rows)")
    args = parser.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    if not steps or any(s not in ("demo", "tests") for s in steps):
        print(f"bench_quickstart: error: --steps takes demo and/or tests, got {args.steps!r}", file=sys.stderr)
        return 2
    if args.busy < 1 or (args.no_idle and args.no_load):
        print("bench_quickstart: error: --busy must be >= 1 and at least one of idle/loaded must run", file=sys.stderr)
        return 2
    if args.reuse and not args.venv:
        print("bench_quickstart: error: --reuse needs --venv DIR", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="qcdgen-quickstart-"))
    venv = Path(args.venv) if args.venv else tmp / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "QCDGEN_THREADS", "OMP_NUM_THREADS")}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    rows = []
    if not args.reuse:
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        seconds, code, _ = _run(f"pip install --quiet {README_INSTALL.split('pip install ')[1]}", ROOT, env,
                                tmp / "install.log")
        rows.append(("install qcdgen", "idle", seconds, code, "ok" if code == 0 else "install failed"))
        seconds, code, _ = _run('pip install --quiet -e ".[test]"', ROOT, env, tmp / "install_test.log")
        rows.append(("install test extras", "idle", seconds, code, "ok" if code == 0 else "install failed"))
        if code != 0:
            print((tmp / "install.log").read_text()[-2000:], file=sys.stderr)
            return 1
    commands = {"demo": f"qcdgen demo --out {tmp / 'demo'}", "tests": "python -m pytest -q -p no:cacheprovider"}
    loads = ([0] if not args.no_idle else []) + ([args.busy] if not args.no_load else [])
    for step in steps:
        for load in loads:
            busy = _busy(load)
            try:
                shutil.rmtree(tmp / "demo", ignore_errors=True)
                seconds, code, text = _run(commands[step], ROOT, env, tmp / f"{step}_{load}.log")
            finally:
                for p in busy:
                    p.kill()
                    p.wait()
            rows.append((step, "idle" if load == 0 else f"beside {load} busy", seconds, code, _verdict(step, text)))

    import torch

    print(f"\nquick start on {platform.node() or 'this machine'}: {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, torch {torch.__version__}; qcdgen chooses its threads (no QCDGEN_THREADS)")
    print(f"{'step':22s} {'load':16s} {'wall [s]':>9s} {'x idle':>7s} {'exit':>5s}  result")
    idle = {r[0]: r[2] for r in rows if r[1] == "idle"}
    for step, load, seconds, code, verdict in rows:
        ratio = f"{seconds / idle[step]:.2f}" if step in idle and load != "idle" else ""
        print(f"{step:22s} {load:16s} {seconds:9.1f} {ratio:>7s} {code:5d}  {verdict}")
    print(f"logs in {tmp}")
    return 0 if all(r[3] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
