"""Score (id, hypothesis, reference) triples with registered metrics.

Every result carries the metric's signature. A metric that cannot run here is reported as
``unavailable`` with its reason, never as a number.

Flow per metric: cache lookup by (signature, hypotheses hash, references hash) → ``sample_stats``
(the expensive part; metrics run concurrently in threads, after each metric's optional ``load()``
— model loading and heavy imports — has run in the calling thread, one metric at a time) → ``aggregate`` (corpus scores) →
``sample_scores`` (per-sample display values, keyed by id) → bootstrap CI from the statistics
(:mod:`rrgbench.scoring.resample`, vectorised when the metric has ``batch_aggregate``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypedDict

from .. import __version__
from ..api import Metric, RRGBenchError, UnavailableError
from ..io import atomic_write_json, atomic_write_jsonl
from ..plugins import get_host
from . import cache as cache_mod
from .resample import bootstrap_ci

log = logging.getLogger("rrgbench.scoring")


class SampleError(RRGBenchError):
    """Raised by a metric about one input pair; the engine names the sample id in the message."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


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
    bootstrap_seed: int
    cached: bool
    per_sample: list[dict[str, Any]]


def make_metric(name: str, options: dict[str, Any] | None = None, cleaning: str | None = None) -> Metric:
    """Instantiate metric ``name``; ``cleaning`` is passed when its constructor names that parameter."""
    cls = get_host().metrics.get(name)
    opts = dict(options or {})
    if cleaning is not None and "cleaning" not in opts:
        try:
            params = inspect.signature(cls.__init__).parameters
        except (TypeError, ValueError):
            params = {}
        if "cleaning" in params:
            opts["cleaning"] = cleaning
    try:
        return cls(**opts)
    except TypeError as exc:
        raise RRGBenchError(f"metric '{name}': bad options {opts}: {exc}") from None


def check_inputs(ids: Sequence[str], hyps: Sequence[str], refs: Sequence[str]) -> None:
    """Equal lengths, unique ids, strings only; raise naming the offending samples."""
    if not (len(ids) == len(hyps) == len(refs)):
        raise RRGBenchError(f"ids ({len(ids)}), hypotheses ({len(hyps)}) and references ({len(refs)}) "
                            "differ in length")
    if not ids:
        raise RRGBenchError("nothing to score: no samples")
    seen: set[str] = set()
    dups = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if dups:
        raise RRGBenchError(f"duplicated sample ids: {', '.join(map(str, dups[:10]))}"
                            + (f" (+{len(dups) - 10} more)" if len(dups) > 10 else ""))
    for kind, texts in (("hypothesis", hyps), ("reference", refs)):
        bad = [str(i) for i, t in zip(ids, texts) if not isinstance(t, str)]
        if bad:
            raise RRGBenchError(f"{kind} of sample(s) {', '.join(bad[:10])} is not a string")


def score(metric_names: Sequence[str], ids: Sequence[str], hyps: Sequence[str], refs: Sequence[str], *,
          options: dict[str, dict[str, Any]] | None = None, bootstrap: int = 1000, seed: int = 0,
          cleaning: str = "r2gen_iu", cache: bool = True, max_workers: int | None = None
          ) -> dict[str, MetricResult]:
    """Score the pairs with each metric; returns ``{metric_name: MetricResult}`` in the given order.

    ``cleaning`` is the default cleaning protocol for metrics that take one (e.g. ``nlg``'s ``r2gen``
    protocol); ``options[name]`` overrides it. ``bootstrap`` resamples (0 = no CI) use ``seed``.
    """
    ids, hyps, refs = list(ids), list(hyps), list(refs)
    check_inputs(ids, hyps, refs)
    metrics = {name: make_metric(name, (options or {}).get(name), cleaning) for name in metric_names}
    use_cache = cache and cache_mod.enabled()
    for metric in metrics.values():  # model loads and heavy imports one at a time (imports are not thread-safe)
        load = getattr(metric, "load", None)
        if load is not None and metric.availability() is None:
            load()
    workers = max_workers or max(1, len(metrics))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rrgbench-metric") as pool:
        futures = {name: pool.submit(_score_one, name, m, ids, hyps, refs, bootstrap, seed, use_cache)
                   for name, m in metrics.items()}
        return {name: fut.result() for name, fut in futures.items()}


def _unavailable(name: str, metric: Metric, reason: str, n: int) -> MetricResult:
    log.warning("metric %s unavailable: %s", name, reason)
    return MetricResult(metric=name, status="unavailable", reason=reason, signature=metric.signature(),
                        rrgbench_version=__version__, n=n)


def _score_one(name: str, metric: Metric, ids: list[str], hyps: list[str], refs: list[str],
               bootstrap: int, seed: int, use_cache: bool) -> MetricResult:
    reason = metric.availability()
    if reason:
        return _unavailable(name, metric, reason, len(ids))
    signature = metric.signature()
    entry = cache_mod.ScoreCache(signature, hyps, refs) if use_cache else None
    cached = entry.load_result() if entry else {}
    ci_key = f"{bootstrap}:{seed}"
    if cached.get("signature") == signature and ci_key in cached.get("ci95", {}) and \
            len(cached.get("per_sample", [])) == len(ids):
        per_sample = [{"id": i, **row} for i, row in zip(ids, cached["per_sample"])]
        return MetricResult(metric=name, status="ok", signature=signature, rrgbench_version=__version__,
                            n=len(ids), scores=cached["scores"], ci95=cached["ci95"][ci_key],
                            bootstrap=bootstrap, bootstrap_seed=seed, cached=True, per_sample=per_sample)
    stats = entry.load_stats() if entry else None
    was_cached = stats is not None
    if stats is None:
        try:
            stats = metric.sample_stats(hyps, refs)
        except UnavailableError as exc:
            return _unavailable(name, metric, str(exc), len(ids))
        except SampleError as exc:
            raise RRGBenchError(f"metric '{name}', sample '{ids[exc.index]}': {exc.message}") from None
        if len(stats) != len(ids):
            raise RRGBenchError(f"metric '{name}' returned {len(stats)} statistics for {len(ids)} samples")
        if entry:
            entry.save_stats(stats)
    scores = {k: float(v) for k, v in metric.aggregate(stats).items()}
    if cached.get("signature") == signature and cached.get("scores") == scores:
        sample_rows = cached["per_sample"]
        cis = dict(cached.get("ci95", {}))
    else:
        sample_rows = metric.sample_scores(stats)
        cis = {}
    ci95 = bootstrap_ci(metric, stats, bootstrap, seed) if bootstrap else {}
    cis[ci_key] = ci95
    if entry:
        entry.save_result({"signature": signature, "scores": scores, "per_sample": sample_rows, "ci95": cis})
    per_sample = [{"id": i, **row} for i, row in zip(ids, sample_rows)]
    return MetricResult(metric=name, status="ok", signature=signature, rrgbench_version=__version__,
                        n=len(ids), scores=scores, ci95=ci95, bootstrap=bootstrap, bootstrap_seed=seed,
                        cached=was_cached, per_sample=per_sample)


def sample_stats(metric_name: str, hyps: Sequence[str], refs: Sequence[str], *,
                 options: dict[str, Any] | None = None, cleaning: str = "r2gen_iu", cache: bool = True
                 ) -> tuple[Metric, list[dict[str, Any]]]:
    """The metric instance and its per-sample statistics (from the cache when present), for paired tests."""
    metric = make_metric(metric_name, options, cleaning)
    reason = metric.availability()
    if reason:
        raise UnavailableError(f"metric '{metric_name}' is unavailable: {reason}")
    entry = cache_mod.ScoreCache(metric.signature(), hyps, refs) if cache and cache_mod.enabled() else None
    stats = entry.load_stats() if entry else None
    if stats is None:
        stats = metric.sample_stats(list(hyps), list(refs))
        if entry:
            entry.save_stats(stats)
    return metric, stats


def write_results(results: dict[str, MetricResult], scores_dir: Path) -> None:
    """``scores/<metric>.json`` (summary) and ``scores/<metric>.samples.jsonl`` (per-sample rows)."""
    for name, res in results.items():
        summary = {k: v for k, v in res.items() if k not in ("per_sample", "cached")}
        if res.get("per_sample") is not None:
            atomic_write_jsonl(scores_dir / f"{name}.samples.jsonl", res["per_sample"])
        atomic_write_json(scores_dir / f"{name}.json", summary)
