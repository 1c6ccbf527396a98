"""Scoring at scale, measured side by side in one run (not a test): time and peak RSS of ``rrgbench score``.

For each size (default 10,000 and 100,000 pairs of generated report text, ``rrgbench.scoring.synthetic``)
it writes predictions and references as JSONL and runs, each in a fresh process,

    rrgbench score -p preds.jsonl -r refs.jsonl -m nlg,chexpert_rules,token --bootstrap 1000 --no-cache -o DIR

printing wall time, the peak RSS of the rrgbench process itself and of its child processes (METEOR's JVM),
and the size of what it wrote (per-sample statistics: JSONL or parquet).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_score_scale.py [--sizes 10000,100000]
        [--metrics nlg,chexpert_rules,token] [--bootstrap 1000]

Target (issue 15): 100k pairs with nlg+chexpert_rules+token incl. CIs in <= 2 GB RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DRIVER = """
import resource, sys
from rrgbench.cli import main
sys.argv = ["rrgbench", *sys.argv[1:]]
try:
    main()
finally:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"@@rss {me} {kids}", file=sys.stderr)
"""


def _write(path: Path, ids: list[str], texts: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i, t in zip(ids, texts):
            fh.write(json.dumps({"id": i, "report": t}) + "\n")


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--metrics", default="nlg,chexpert_rules,token")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    from rrgbench.scoring import synthetic

    print(f"# load: {os.getloadavg()}  cpus: {os.cpu_count()}  OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"{'pairs':>8} {'wall s':>8} {'rss MB':>8} {'child MB':>9} {'out MB':>7}  files")
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="rrg-score-scale-") as tmp:
            t = Path(tmp)
            ids, hyps, refs = synthetic.pairs(n, seed=0)
            _write(t / "preds.jsonl", ids, hyps)
            _write(t / "refs.jsonl", ids, refs)
            cmd = [sys.executable, "-c", DRIVER, "score", "-p", str(t / "preds.jsonl"), "-r", str(t / "refs.jsonl"),
                   "-m", args.metrics, "--bootstrap", str(args.bootstrap), "--no-cache", "--json", "-o", str(t / "out")]
            start = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True,
                                 env={**os.environ, "RRGBENCH_CACHE": str(t / "cache")})
            wall = time.perf_counter() - start
            rss = next((line.split()[1:] for line in res.stderr.splitlines() if line.startswith("@@rss")), ["0", "0"])
            if res.returncode != 0:
                print(f"{n:>8} failed (rc {res.returncode}): {res.stderr[-800:]}")
                continue
            files = sorted(p.name for p in (t / "out").rglob("*") if p.is_file())
            print(f"{n:>8} {wall:>8.1f} {int(rss[0]) / 1024:>8.0f} {int(rss[1]) / 1024:>9.0f} "
                  f"{_du(t / 'out') / 1e6:>7.1f}  {' '.join(files)}")


if __name__ == "__main__":
    main()
