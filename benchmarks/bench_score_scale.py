"""Scoring at scale, measured side by side in one run (not a test): time and peak RSS of ``rrgbench score``.

For each size (default 10,000 and 100,000 pairs of generated report text, ``rrgbench.scoring.synthetic``)
it writes predictions and references as JSONL and runs, each in a fresh process,

    rrgbench score -p preds.jsonl -r refs.jsonl -m nlg,chexpert_rules,token --bootstrap 1000 --no-cache -o DIR

printing wall time, the peak RSS of the rrgbench process itself (its own ``ru_maxrss``) and of its child
processes (METEOR's JVM: the peak of their summed RSS, sampled from /proc every 0.2 s; ``ru_maxrss`` of
the children would miss the JVM, which outlives the last rusage call), and the size of what it wrote
(per-sample rows: JSONL, or parquet above 20k rows). One row per size, side by side, then the ratios.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_score_scale.py [--sizes 10000,100000]
        [--metrics nlg,chexpert_rules,token] [--bootstrap 1000] [--cache]

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

from _report import print_ratios  # benchmarks/_report.py (scripts run from this folder)

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


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
                out += kids
                todo += kids
        except OSError:
            continue
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
    except OSError:
        return 0


def _run(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run ``cmd``; ``(result, wall seconds, peak summed RSS of its descendants in kB)``."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        kids_peak = 0
        while proc.poll() is None:
            kids_peak = max(kids_peak, sum(_rss_kb(k) for k in _descendants(proc.pid)))
            time.sleep(0.2)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read()), wall, kids_peak


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--metrics", default="nlg,chexpert_rules,token")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--cache", action="store_true", help="score with the score cache (a fresh one) instead of "
                    "--no-cache: adds writing the statistics and results to it")
    args = ap.parse_args()
    from rrgbench.scoring import synthetic

    print(f"# load: {os.getloadavg()}  cpus: {os.cpu_count()}  OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"{'pairs':>8} {'wall s':>8} {'rss MB':>8} {'child MB':>9} {'out MB':>7}  files", flush=True)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="rrg-score-scale-") as tmp:
            t = Path(tmp)
            ids, hyps, refs = synthetic.pairs(n, seed=0)
            _write(t / "preds.jsonl", ids, hyps)
            _write(t / "refs.jsonl", ids, refs)
            cmd = [sys.executable, "-c", DRIVER, "score", "-p", str(t / "preds.jsonl"), "-r", str(t / "refs.jsonl"),
                   "-m", args.metrics, "--bootstrap", str(args.bootstrap), "--json", "-o", str(t / "out")] + ([] if args.cache else ["--no-cache"])
            res, wall, kids = _run(cmd, {**os.environ, "RRGBENCH_CACHE": str(t / "cache")})
            rss = next((line.split()[1:] for line in res.stderr.splitlines() if line.startswith("@@rss")), ["0", "0"])
            if res.returncode != 0:
                print(f"{n:>8} failed (rc {res.returncode}): {res.stderr[-800:]}")
                continue
            files = sorted(p.name for p in (t / "out").rglob("*") if p.is_file())
            me, kids_mb = int(rss[0]) / 1024, max(kids, int(rss[1])) / 1024
            rows.append((n, wall, me))
            print(f"{n:>8} {wall:>8.1f} {me:>8.0f} {kids_mb:>9.0f} "
                  f"{_du(t / 'out') / 1e6:>7.1f}  {' '.join(files)}", flush=True)
    print_ratios(rows)


if __name__ == "__main__":
    main()
