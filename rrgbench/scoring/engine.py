"""Score (id, hypothesis, reference) triples with registered metrics.

Every result carries the metric's signature. A metric that cannot run here is reported as
``unavailable`` with its reason, never as a number.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

from .. import __version__
from ..api import Metric, RRGBenchError
from ..io import atomic_write_json, atomic_write_jsonl
from ..plugins import get_host

log = logging.getLogger("rrgbench.scoring")


class MetricResult(TypedDict, total=False):
    """The content of ``scores/<metric>.json`` (plus ``per_sample``, written to ``<metric>.samples.jsonl``)."""

    metric: str
    status: str  # "ok" | "unavailable"
    reason: str
    signature: str
    rrgbench_version: str
    n: int
    scores: dict[str, float]
    ci95: dict[str, list[float]]
    bootstrap: int
    per_sample: list[dict[str, Any]]


def make_metric(name: str, options: dict[str, Any] | None = None) -> Metric:
    cls = get_host().metrics.get(name)
    return cls(**(options or {}))


def score(metric_names: Sequence[str], ids: Sequence[str], hyps: Sequence[str], refs: Sequence[str], *,
          options: dict[str, dict[str, Any]] | None = None, bootstrap: int = 1000, seed: int = 0
          ) -> dict[str, MetricResult]:
    """Score the pairs with each metric; returns ``{metric_name: MetricResult}``."""
    if not (len(ids) == len(hyps) == len(refs)):
        raise RRGBenchError("ids, hypotheses and references differ in length")
    results: dict[str, MetricResult] = {}
    for name in metric_names:
        metric = make_metric(name, (options or {}).get(name))
        reason = metric.availability()
        if reason:
            results[name] = MetricResult(metric=name, status="unavailable", reason=reason,
                                         signature=metric.signature(), rrgbench_version=__version__, n=len(ids))
            log.warning("metric %s unavailable: %s", name, reason)
            continue
        stats = metric.sample_stats(list(hyps), list(refs))
        scores = metric.aggregate(stats)
        ci95: dict[str, list[float]] = {}
        if bootstrap and len(stats) > 1:
            rng = random.Random(seed)
            draws: dict[str, list[float]] = {k: [] for k in scores}
            n = len(stats)
            for _ in range(bootstrap):
                sample = [stats[rng.randrange(n)] for _ in range(n)]
                for k, v in metric.aggregate(sample).items():
                    draws.setdefault(k, []).append(v)
            for k, vals in draws.items():
                vals.sort()
                ci95[k] = [vals[int(0.025 * (len(vals) - 1))], vals[int(0.975 * (len(vals) - 1))]]
        per_sample = [{"id": i, **s} for i, s in zip(ids, metric.sample_scores(stats))]
        results[name] = MetricResult(metric=name, status="ok", signature=metric.signature(),
                                     rrgbench_version=__version__, n=len(ids), scores=scores, ci95=ci95,
                                     bootstrap=bootstrap, per_sample=per_sample)
    return results


def write_results(results: dict[str, MetricResult], scores_dir: Path) -> None:
    """``scores/<metric>.json`` (summary) and ``scores/<metric>.samples.jsonl`` (per-sample rows)."""
    for name, res in results.items():
        summary = {k: v for k, v in res.items() if k != "per_sample"}
        if res.get("per_sample") is not None:
            atomic_write_jsonl(scores_dir / f"{name}.samples.jsonl", res["per_sample"])
        atomic_write_json(scores_dir / f"{name}.json", summary)
