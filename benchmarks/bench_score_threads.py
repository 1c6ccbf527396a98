"""Metrics side by side and torch's thread count, measured in one run (not a test).

``rrgbench score`` runs its metrics concurrently in threads and leaves torch at its default intra-op
threads. This prints whether giving torch one thread while they run side by side (as ``rrgbench
sensitivity`` does) would be faster here. Each line is a fresh process scoring the same generated pairs with
the score cache off and no bootstrap, and prints when each metric finished:

    .venv/bin/python benchmarks/bench_score_threads.py [--pairs 2000]
        [--metrics bertscore,nlg,chexpert_rules,umls,token]

Measured on the 2-core development machine (2,000 pairs): quiet, bertscore alone 33 s, side by side 45 s
with torch's default threads and 57 s with one; with another job holding a core, 44-238 s with the
default threads and 56-62 s with one (torch's OpenMP workers spin at barriers when a core is taken). The
engine keeps the default: it is faster on a machine rrgbench has to itself.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = """
import json, sys, time
from rrgbench.scoring import engine, synthetic
names, n, one = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3] == "one"
if one:
    import torch

    torch.set_num_threads(1)
ids, hyps, refs = synthetic.pairs(n, seed=0)
t0, done = time.perf_counter(), {}
engine.score(names, ids, hyps, refs, bootstrap=0, cache=False,
             on_result=lambda name, res: done.setdefault(name, round(time.perf_counter() - t0, 1)))
print(json.dumps(done))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--metrics", default="bertscore,nlg,chexpert_rules,umls,token")
    args = ap.parse_args()
    print(f"# {args.pairs} pairs; load {os.getloadavg()}; cpus {os.cpu_count()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    cases = [("bertscore alone", "bertscore", "default"),
             ("side by side, torch default threads (engine)", args.metrics, "default"),
             ("side by side, torch on one thread", args.metrics, "one")]
    for label, names, mode in cases:
        out = subprocess.run([sys.executable, "-c", CHILD, names, str(args.pairs), mode], capture_output=True,
                             text=True, env={**os.environ, "RRGBENCH_NO_CACHE": "1"})
        if out.returncode != 0:
            print(f"{label:<48} failed: {out.stderr[-500:]}")
            continue
        print(f"{label:<48} seconds to finish each metric: {out.stdout.strip()}")
    print(f"# load {os.getloadavg()}")


if __name__ == "__main__":
    main()
