"""Start-up time of the CLI against bare Python, measured side by side in one run.

    python benchmarks/bench_startup.py [--repeat 15]

Target (issue 2): `rrgbench --help` and `rrgbench list methods` within 0.3 s of `python -c pass`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timeit(cmd: list[str], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("rrgbench") or str(Path(sys.executable).parent / "rrgbench")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "rrgbench --help": [exe, "--help"],
        "rrgbench list methods": [exe, "list", "methods"],
        "rrgbench list datasets": [exe, "list", "datasets"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    }
    results = {name: timeit(cmd, args.repeat) for name, cmd in cases.items()}
    base = results["python -c pass"][0]
    print(f"{'command':<28} {'median s':>9} {'min s':>7} {'over bare python':>17}")
    for name, (med, best) in results.items():
        print(f"{name:<28} {med:9.3f} {best:7.3f} {med - base:+17.3f}")
    over = max(results["rrgbench --help"][0], results["rrgbench list methods"][0]) - base
    print(f"\ntarget: <= 0.300 s over bare python; worst CLI case: {over:+.3f} s -> {'OK' if over <= 0.3 else 'MISSED'}")


if __name__ == "__main__":
    main()
