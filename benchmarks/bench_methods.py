"""Generation throughput (reports/s) and train-step throughput per registered method, side by side.

    python benchmarks/bench_methods.py [--preset tiny] [--dataset synthetic] [--n-studies 60]
                                       [--methods a,b] [--timeout 900] [--json]

Each method runs in its own subprocess (so one that hangs or crashes is skipped, with the reason) on the
same data: ``prepare`` then every training stage (timed; steps/s where the method reports ``steps``),
then generation over the test split in the method's own batch size (reports/s, after one warm-up batch).
CPU figures use one thread per process (``--threads``); on a GPU machine run with ``--preset paper`` too.
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
from typing import Any


def bench_one(method: str, preset: str, dataset: str, dataset_options: dict[str, Any]) -> dict[str, Any]:
    """Prepare, train and generate ``method`` in this process; return the timings."""
    from rrgbench.api import RunContext
    from rrgbench.devices import run_device
    from rrgbench.distributed import World
    from rrgbench.plugins import get_host
    from rrgbench.seeding import seed_everything

    host = get_host()
    cls = host.methods.get(method)
    if preset not in cls.presets:
        return {"skipped": f"no preset '{preset}'"}
    ds = host.datasets.get(dataset)(**dataset_options)
    ds.prepare()
    train, test = ds.split("train"), ds.split("test")
    out: dict[str, Any] = {"n_train": len(train), "n_test": len(test)}
    with tempfile.TemporaryDirectory(prefix="rrgbench-bench-") as tmp:
        ctx = RunContext(run_dir=Path(tmp), seed=0, device=run_device(World()), preset=preset, dataset_name=dataset)
        seed_everything(0)
        m = cls(dict(cls.default_config(preset, dataset)), ctx)
        start = time.perf_counter()
        m.prepare(ds)
        out["prepare_s"] = time.perf_counter() - start
        steps, train_s = 0, 0.0
        for stage in cls.stages:
            start = time.perf_counter()
            facts = m.train(stage, ds) or {}
            train_s += time.perf_counter() - start
            steps += int(facts.get("steps", 0) or 0)
        out.update(train_s=train_s, train_steps=steps, train_steps_per_s=steps / train_s if steps else None)
        bs = max(1, m.generate_batch_size())
        m.generate(test[:bs], ds)  # warm-up (lazy init, caches)
        start = time.perf_counter()
        for i in range(0, len(test), bs):
            m.generate(test[i: i + bs], ds)
        gen_s = time.perf_counter() - start
        out.update(generate_s=gen_s, reports_per_s=len(test) / gen_s, batch_size=bs, device=ctx.device)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--n-studies", type=int, default=60, help="synthetic dataset size (per dataset options)")
    parser.add_argument("--methods", default="", help="comma-separated; default: every registered method")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per method before it is skipped")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: benchmark one method, print JSON
    args = parser.parse_args()
    options = {"n_studies": args.n_studies} if args.dataset == "synthetic" else {}
    if args.one:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(bench_one(args.one, args.preset, args.dataset, options)))
        return

    from rrgbench.plugins import get_host

    names = [n for n in args.methods.split(",") if n] or get_host().methods.names()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--preset", args.preset, "--dataset", args.dataset,
               "--n-studies", str(args.n_studies), "--threads", str(args.threads)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            results[name] = {"skipped": f"timed out after {args.timeout} s"}
            continue
        lines = res.stdout.strip().splitlines()
        if res.returncode != 0 or not lines:
            err = (res.stderr.strip().splitlines() or ["no output"])[-1]
            results[name] = {"skipped": f"failed: {err[:160]}"}
            continue
        results[name] = json.loads(lines[-1])
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
        return
    sizes = next((f", {r['n_train']} train / {r['n_test']} test studies" for r in results.values() if "n_test" in r), "")
    print(f"preset {args.preset}, dataset {args.dataset}{sizes}, {args.threads} thread(s) per process")
    print(f"{'method':<14} {'device':<6} {'train steps':>11} {'train s':>8} {'steps/s':>8} {'gen batch':>9} "
          f"{'reports/s':>10}")
    for name, r in results.items():
        if "skipped" in r:
            print(f"{name:<14} skipped: {r['skipped']}")
            continue
        sps = f"{r['train_steps_per_s']:.2f}" if r["train_steps_per_s"] else "-"
        print(f"{name:<14} {r['device']:<6} {r['train_steps']:>11} {r['train_s']:>8.2f} {sps:>8} "
              f"{r['batch_size']:>9} {r['reports_per_s']:>10.1f}")


if __name__ == "__main__":
    main()
