"""Paired tests at scale, measured side by side in one run (not a test): time and peak RSS of ``rrgbench compare``.

For each size (default 10,000 and 100,000 pairs of generated report text, ``rrgbench.scoring.synthetic``)
it writes two run directories with the same references (system A: the generated hypotheses; system B: the
same hypotheses shifted by one sample, a clearly worse system) and runs, in a fresh process,

    rrgbench compare RUN_A RUN_B -m nlg,chexpert_rules,token --bootstrap 1000 --trials 1000 --json

with ``RRGBENCH_NO_CACHE=1``. It prints wall time; the time spent in the paired tests themselves
(``paired_bootstrap`` + ``approximate_randomization``, timed inside the process) and the rest (reading, the
metrics' statistics of both systems); the peak RSS of the rrgbench process over the whole command and over
the paired tests alone (``VmHWM`` reset through ``/proc/self/clear_refs`` before each test, the peak before it kept); and the peak
summed RSS of its child processes (METEOR's JVM, sampled every 0.2 s). One row per size, then the ratios.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_compare_scale.py [--sizes 10000,100000]
        [--metrics nlg,chexpert_rules,token] [--bootstrap 1000] [--trials 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _report import print_ratios  # benchmarks/_report.py (scripts run from this folder)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_score_scale import _run  # noqa: E402 - the same process runner and child-RSS sampler

DRIVER = """
import resource, sys, time
from rrgbench.scoring import resample

state = {"s": 0.0, "hwm": 0, "before": 0}

def _hwm_kb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))

def timed(fn):
    def call(*args, **kwargs):
        state["before"] = max(state["before"], _hwm_kb())  # the peak so far (the reset below forgets it)
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset the peak: VmHWM then is this call's own peak
        except OSError:
            pass
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            state["s"] += time.perf_counter() - t
            state["hwm"] = max(state["hwm"], _hwm_kb())
    return call

resample.paired_bootstrap = timed(resample.paired_bootstrap)
resample.approximate_randomization = timed(resample.approximate_randomization)
from rrgbench.cli import main
sys.argv = ["rrgbench", *sys.argv[1:]]
try:
    main()
finally:
    me = max(state["before"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # maxrss: since the reset
    print(f"@@rss {me} {state['hwm']} {state['s']:.3f}", file=sys.stderr)
"""


def _write_run(run: Path, ids: list[str], hyps: list[str], refs: list[str]) -> None:
    run.mkdir(parents=True)
    with open(run / "generations.jsonl", "w", encoding="utf-8") as fh:
        for i, h, r in zip(ids, hyps, refs):
            fh.write(json.dumps({"id": i, "report": h, "reference": r}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--metrics", default="nlg,chexpert_rules,token")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--trials", type=int, default=1000)
    args = ap.parse_args()
    from rrgbench.scoring import synthetic

    print(f"# load: {os.getloadavg()}  cpus: {os.cpu_count()}  OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"{'pairs':>8} {'wall s':>7} {'tests s':>8} {'other s':>8} {'rss MB':>7} {'tests rss MB':>13} "
          f"{'child MB':>9}", flush=True)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="rrg-compare-scale-") as tmp:
            t = Path(tmp)
            ids, hyps, refs = synthetic.pairs(n, seed=0)
            _write_run(t / "a", ids, hyps, refs)
            _write_run(t / "b", ids, hyps[1:] + hyps[:1], refs)
            cmd = [sys.executable, "-c", DRIVER, "compare", str(t / "a"), str(t / "b"), "-m", args.metrics,
                   "--bootstrap", str(args.bootstrap), "--trials", str(args.trials), "--json"]
            env = {**os.environ, "RRGBENCH_CACHE": str(t / "cache"), "RRGBENCH_NO_CACHE": "1"}
            res, wall, kids = _run(cmd, env)
            if res.returncode != 0:
                print(f"{n:>8} failed (rc {res.returncode}): {res.stderr[-800:]}")
                continue
            me, hwm, tests = next(line.split()[1:] for line in res.stderr.splitlines() if line.startswith("@@rss"))
            out = json.loads(res.stdout)
            ok = [m for m, v in out["metrics"].items() if v["status"] == "ok"]
            rows.append((n, wall, int(me) / 1024))
            print(f"{n:>8} {wall:>7.1f} {float(tests):>8.1f} {wall - float(tests):>8.1f} {int(me) / 1024:>7.0f} "
                  f"{int(hwm) / 1024:>13.0f} {kids / 1024:>9.0f}   metrics ok: {','.join(ok)}", flush=True)
    print_ratios(rows)


if __name__ == "__main__":
    main()
