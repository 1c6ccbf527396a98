"""Scoring speed, measured side by side in one run (not a test).

590 report pairs (the IU X-ray test-split size) of generated report text — or ``--reports FILE``, a JSONL
of ``{"id", "report", "reference"}`` rows such as a run's generations.jsonl — scored by:

1. raw pycocoevalcap: Bleu(4), Meteor (its own JVM start included, and shown apart), Rouge, Cider called
   directly on the same r2gen token strings;
   (``--dataset iu_xray_phantom`` takes prepared IU X-ray text instead);
2. ``rrgbench`` engine, full offline suite (nlg + bertscore + token), cold (first call in the process:
   JVM start, model loads) and warm (a second call on other text, cache off), with a per-metric split;
3. the 1,000-resample bootstrap of all NLG metrics from sufficient statistics (and of the whole suite);
4. a cached re-score (same inputs, cache on).

    .venv/bin/python benchmarks/bench_scoring.py [--n 590] [--threads 2] [--reports FILE]

Targets (issue 4): full suite <= 2 s warm, bootstrap <= 3 s, cached re-score <= 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=590)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (BERTScore)")
    ap.add_argument("--reports", type=Path, help="JSONL with id/report/reference rows instead of generated text")
    ap.add_argument("--dataset", help="take references from this dataset's test split (e.g. iu_xray_phantom for "
                    "prepared IU X-ray text); hypotheses are other test reports (a random-retrieval system)")
    ap.add_argument("--metrics", default="nlg,bertscore,token")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rrgbench.paths import data_root

    os.environ.setdefault("RRGBENCH_DATA", str(data_root()))  # prepared datasets stay where they are
    score_cache = tempfile.TemporaryDirectory(prefix="rrgbench-bench-cache-")  # a fresh score cache
    os.environ["RRGBENCH_CACHE"] = score_cache.name
    import torch

    torch.set_num_threads(args.threads)
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from rrgbench_plugins.metrics.nlg.tokenize import tokenize

    from rrgbench.scoring import engine, synthetic
    from rrgbench.scoring.resample import bootstrap_ci

    if args.reports:
        rows = [json.loads(line) for line in args.reports.read_text().splitlines() if line.strip()][:args.n]
        ids, hyps, refs = [r["id"] for r in rows], [r["report"] for r in rows], [r["reference"] for r in rows]
        source = str(args.reports)
    elif args.dataset:
        import random

        from rrgbench.plugins import get_host

        ds = get_host().datasets.get(args.dataset)()
        ds.prepare()
        samples = ds.split("test")[:args.n]
        ids, refs = [s.id for s in samples], [s.report for s in samples]
        hyps = refs[:]
        random.Random(0).shuffle(hyps)
        source = f"dataset {args.dataset} (test split; hypotheses = shuffled test reports)"
    else:
        ids, hyps, refs = synthetic.pairs(args.n, seed=0)
        source = "rrgbench.scoring.synthetic (seed 0)"
    _, warm_hyps, warm_refs = synthetic.pairs(args.n, seed=1)  # other text: the warm run cannot hit a cache
    names = [m for m in args.metrics.split(",") if m]
    print(f"# {len(ids)} pairs from {source}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs visible, torch threads {args.threads}, load avg {os.getloadavg()[0]:.1f}")

    # 1. raw pycocoevalcap on the r2gen token strings
    htok, rtok = tokenize(hyps, "r2gen"), tokenize(refs, "r2gen")
    gts, res = {i: [r] for i, r in enumerate(rtok)}, {i: [h] for i, h in enumerate(htok)}
    t_all = time.perf_counter()
    _, t_bleu = _timed(Bleu(4).compute_score, gts, res, verbose=0)
    meteor = Meteor()
    _, t_meteor = _timed(meteor.compute_score, gts, res)  # includes the JVM loading its paraphrase table
    _, t_rouge = _timed(Rouge().compute_score, gts, res)
    _, t_cider = _timed(Cider().compute_score, gts, res)
    t_coco = time.perf_counter() - t_all
    _, t_meteor_warm = _timed(meteor.compute_score, gts, res)
    del meteor

    # 2. rrgbench engine, cold then warm (cache off), and per metric warm
    cold, t_cold = _timed(engine.score, names, ids, hyps, refs, bootstrap=0, cache=False)
    _, t_warm = _timed(engine.score, names, ids, warm_hyps, warm_refs, bootstrap=0, cache=False)
    light = [n for n in names if n != "bertscore"]
    _, t_light = _timed(engine.score, light, ids, hyps, refs, bootstrap=0, cache=False)
    per_metric = {}
    for name in names:
        _, per_metric[name] = _timed(engine.score, [name], ids, hyps, refs, bootstrap=0, cache=False)
    unavailable = {n: r["reason"] for n, r in cold.items() if r["status"] != "ok"}

    # 3. bootstrap from sufficient statistics (no metric re-run)
    nlg, nlg_stats = engine.sample_stats("nlg", hyps, refs, cache=False)
    _, t_boot_nlg = _timed(bootstrap_ci, nlg, nlg_stats, 1000, 0)
    t_boot_all = 0.0
    for name in names:
        if name in unavailable:
            continue
        metric, stats = engine.sample_stats(name, hyps, refs, cache=False)
        t_boot_all += _timed(bootstrap_ci, metric, stats, 1000, 0)[1]

    # 4. cached re-score (first call fills the cache, second reads it)
    engine.score(names, ids, hyps, refs, bootstrap=1000, cache=True)
    cached, t_cached = _timed(engine.score, names, ids, hyps, refs, bootstrap=1000, cache=True)
    assert all(r.get("cached") for r in cached.values() if r["status"] == "ok")

    def line(label: str, seconds: float, target: str = "") -> None:
        print(f"{label:<58} {seconds:8.3f} s  {target}")

    print("\n## raw pycocoevalcap (direct calls, same token strings)")
    line("  Bleu(4)", t_bleu)
    line("  Meteor: first compute_score (JVM start + paraphrase table)", t_meteor)
    line("  Meteor: second compute_score (JVM already up)", t_meteor_warm)
    line("  Rouge", t_rouge)
    line("  Cider", t_cider)
    line("  total BLEU + METEOR + ROUGE-L + CIDEr", t_coco)
    print(f"\n## rrgbench engine, metrics {','.join(names)} (no bootstrap, cache off)")
    line("  cold (first call: JVM start, model loads, imports)", t_cold)
    line("  warm full suite (other text)", t_warm, "target <= 2 s")
    line(f"  warm {','.join(light)} (the suite without bertscore)", t_light)
    for name, seconds in per_metric.items():
        line(f"    warm {name}", seconds)
    print("\n## bootstrap from sufficient statistics")
    line("  1,000 resamples, all NLG metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D)", t_boot_nlg, "target <= 3 s")
    line(f"  1,000 resamples, all metrics ({','.join(n for n in names if n not in unavailable)})", t_boot_all)
    print("\n## cache")
    line("  cached re-score, full suite with 1,000-resample CIs", t_cached, "target <= 0.2 s")
    for name, reason in unavailable.items():
        print(f"\n(unavailable: {name}: {reason})")


if __name__ == "__main__":
    main()
