"""Benchmark: how long `opsgate --help` takes, and what it imports (issue 13: "well under a second").

    python bench/cli_startup.py [--runs 7] [--checkout DIR]

Runs `python -c "from webui.cli import main; main(['--help'])"` in fresh interpreters with the
checkout first on PYTHONPATH (`--checkout` measures another one, e.g. an older commit unpacked
with `git archive`), and prints the wall times (min, median, max), the number of modules the
command line imported and `python -X importtime`'s cumulative time for `import webui.cli`,
with the load average beside them.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELP = ("import sys\nfrom webui.cli import main\ntry:\n    main(['--help'], prog_name='opsgate')\n"
        "except SystemExit:\n    pass\nprint(len(sys.modules), file=sys.stderr)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--checkout", type=Path, default=ROOT)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.checkout.resolve())}
    walls, modules = [], 0
    for _ in range(args.runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", HELP], env=env, cwd=args.checkout, capture_output=True,
                              text=True, check=True)
        walls.append(time.perf_counter() - started)
        modules = int(done.stderr.strip().splitlines()[-1])
    traced = subprocess.run([sys.executable, "-X", "importtime", "-c", "import webui.cli"], env=env,
                            cwd=args.checkout, capture_output=True, text=True, check=True).stderr
    cumulative = max(int(m.group(1)) for m in re.finditer(r"\|\s+(\d+) \| webui\.cli$", traced, re.M))
    print(f"checkout {args.checkout.resolve()}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"opsgate --help, {args.runs} runs: min {min(walls):.2f} s, median {statistics.median(walls):.2f} s, "
          f"max {max(walls):.2f} s; {modules} modules imported")
    print(f"import webui.cli (python -X importtime, cumulative): {cumulative / 1e6:.2f} s")


if __name__ == "__main__":
    main()
