"""Score (id, hypothesis, reference) triples with registered metrics.

Every result carries the metric's signature. A metric that cannot run here is reported as
``unavailable`` with its reason, never as a number.

Flow per metric:

1. cache lookup by (signature, hypotheses hash, references hash) (:mod:`rrgbench.scoring.cache`);
2. on a miss, the metric's optional ``load()`` (model loading, heavy imports) runs in the calling thread,
   one metric at a time, then ``sample_stats`` (the expensive part) runs for all metrics concurrently in
   threads, reusing cached pairs when the metric declares ``pairwise = True``;
3. ``aggregate`` (corpus scores) and ``sample_scores`` (per-sample display values, keyed by id);
4. bootstrap CI from the statistics (:mod:`rrgbench.scoring.resample`), its kind per key in ``ci_kind``
   (``percentile``, ``bca`` or ``bias-shifted``), vectorised when the metric has
   ``batch_aggregate(stats, weights[B, n]) -> {key: [B] array}``.

``load``, ``pairwise`` and ``batch_aggregate`` are optional parts of :class:`rrgbench.api.Metric` with
defaults there (no load step, whole-corpus statistics, ``aggregate`` once per resample).
"""

from __future__ import annotations

import inspect
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..api import Metric, RRGBenchError, UnavailableError
from ..plugins import get_host
from ..rundir import MetricResult
from ..version import __version__
from . import cache as cache_mod
from . import columns
from .columns import StatsTable
from .resample import JACKKNIFE_GROUPS, bootstrap_intervals

log = logging.getLogger("rrgbench.scoring")
CI_METHOD = "ci2"  # interval method version in cached CIs (ci2: percentile / BCa / bias-shifted, with ci_kind)


class SampleError(RRGBenchError):
    """Raised by a metric about one input pair; the engine names the sample id in the message."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def make_metric(name: str, options: dict[str, Any] | None = None, cleaning: str | None = None) -> Metric:
    """Instantiate metric ``name``; ``cleaning`` (and the ``--device``) are passed when its constructor names
    that parameter."""
    from ..devices import requested

    cls = get_host().metrics.get(name)
    opts = dict(options or {})
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        params = {}
    if cleaning is not None and "cleaning" not in opts and "cleaning" in params:
        opts["cleaning"] = cleaning
    device = requested()  # --device: to every metric that takes one, unless its options say otherwise
    if device is not None and "device" not in opts and "device" in params:
        opts["device"] = device
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
    dups = sorted(i for i, count in Counter(ids).items() if count > 1)
    if dups:
        raise RRGBenchError(f"duplicated sample ids: {', '.join(map(str, dups[:10]))}"
                            + (f" (+{len(dups) - 10} more)" if len(dups) > 10 else ""))
    for kind, texts in (("hypothesis", hyps), ("reference", refs)):
        bad = [str(i) for i, t in zip(ids, texts) if not isinstance(t, str)]
        if bad:
            raise RRGBenchError(f"{kind} of sample(s) {', '.join(bad[:10])} is not a string")


def score(metric_names: Sequence[str], ids: Sequence[str], hyps: Sequence[str], refs: Sequence[str], *,
          options: dict[str, dict[str, Any]] | None = None, bootstrap: int = 1000, seed: int = 0,
          cleaning: str = "r2gen_iu", cache: bool = True, max_workers: int | None = None,
          on_result: Callable[[str, MetricResult], None] | None = None) -> dict[str, MetricResult]:
    """Score the pairs with each metric; returns ``{metric_name: MetricResult}`` in the given order.

    ``cleaning`` is the default cleaning protocol for metrics that take one (e.g. ``nlg``'s ``r2gen``
    protocol); ``options[name]`` overrides it. ``bootstrap`` resamples (0 = no CI) use ``seed``.
    Metrics run concurrently; ``on_result(name, result)`` is called as each one finishes (from its thread),
    so a caller can persist finished metrics before the slowest is done.
    """
    host = get_host()
    metric_names = list(dict.fromkeys(host.metrics.resolve(n) for n in metric_names))  # NLG, Chexpert-Rules ok
    options = {host.metrics.resolve(k): v for k, v in (options or {}).items()}
    ids, hyps, refs = list(ids), list(hyps), list(refs)
    check_inputs(ids, hyps, refs)
    metrics = {name: make_metric(name, (options or {}).get(name), cleaning) for name in metric_names}
    use_cache = cache and cache_mod.enabled()
    if not use_cache:  # a metric's own disk cache (BERTScore's embeddings) is bypassed too: recompute all
        for m in metrics.values():
            if hasattr(m, "disk_cache"):
                m.disk_cache = False
    world = scoring_world()
    if world is not None:  # every rank must reach the same collectives in the same order: no cache, no threads
        use_cache, max_workers = False, 1
    jobs = {name: _Job(name, m, ids, hyps, refs, bootstrap, seed, use_cache) for name, m in metrics.items()}
    for job in jobs.values():
        job.world = world
    for job in jobs.values():  # model loads and heavy imports one at a time (imports are not thread-safe)
        if job.result is None and job.stats is None:
            job.metric.load()
    todo = [job for job in jobs.values() if job.result is None]
    if on_result is not None:
        for job in jobs.values():
            if job.result is not None:  # unavailable, or fully cached
                on_result(job.name, job.result)

    def run(job: _Job) -> None:
        job.run()
        if on_result is not None:
            on_result(job.name, job.result)  # type: ignore[arg-type]

    if len(todo) == 1 or max_workers == 1 or len(ids) > SEQUENTIAL_ABOVE:
        for job in todo:  # big inputs: one metric's statistics in memory at a time
            run(job)
    elif todo:
        with ThreadPoolExecutor(max_workers=max_workers or len(todo), thread_name_prefix="rrgbench-metric") as pool:
            for fut in [pool.submit(run, job) for job in todo]:
                fut.result()
    return {name: job.result for name, job in jobs.items()}  # type: ignore[misc]


SEQUENTIAL_ABOVE = 20_000  # pairs above which metrics run one after another (bounded memory), not in threads


def _unavailable(name: str, metric: Metric, reason: str, n: int) -> MetricResult:
    log.info("metric %s unavailable: %s", name, reason)  # the caller's summary shows it once
    return MetricResult(metric=name, status="unavailable", reason=reason, signature=metric.signature(),
                        rrgbench_version=__version__, n=n, display=metric.describe({}).to_json())


class _Job:
    """One metric on one input: cache lookups at construction (cheap), :meth:`run` does the work."""

    def __init__(self, name: str, metric: Metric, ids: list[str], hyps: list[str], refs: list[str],
                 bootstrap: int, seed: int, use_cache: bool) -> None:
        self.name, self.metric, self.ids, self.hyps, self.refs = name, metric, ids, hyps, refs
        self.bootstrap, self.seed = bootstrap, seed
        self.world: Any = None  # set by score() when launched with several processes
        self.result: MetricResult | None = None
        self.stats: Sequence[dict[str, Any]] | None = None
        reason = metric.availability()
        if reason:
            self.result = _unavailable(name, metric, reason, len(ids))
            return
        self.signature = metric.signature()
        self.entry = cache_mod.ScoreCache(self.signature, hyps, refs) if use_cache else None
        self.cached = self.entry.load_result() if self.entry else {}
        self.ci_key = f"{bootstrap}:{seed}:{CI_METHOD}"
        if self.cached.get("signature") == self.signature and self.ci_key in self.cached.get("ci95", {}) and \
                len(self.cached.get("per_sample", [])) == len(ids):
            self.result = self._result(_in_order(self.cached), self.cached["ci95"][self.ci_key],
                                       self.cached["per_sample"], cached=True,
                                       ci_kind=self.cached.get("ci_kind", {}).get(self.ci_key, {}))
            return
        self.stats = self.entry.load_stats() if self.entry else None

    def _result(self, scores: dict[str, float], ci95: dict[str, list[float]], rows: list[dict[str, Any]],
                cached: bool, ci_kind: dict[str, str] | None = None) -> MetricResult:
        per_sample = [{"id": i, **row} for i, row in zip(self.ids, rows)]
        del rows
        self.cached = {}  # its per-sample rows are copied above: not kept twice
        return MetricResult(metric=self.name, status="ok", signature=self.signature, rrgbench_version=__version__,
                            n=len(self.ids), scores=scores, ci95=ci95, ci_kind=ci_kind or {}, bootstrap=self.bootstrap,
                            bootstrap_seed=self.seed, display=self.metric.describe(scores).to_json(), cached=cached,
                            per_sample=per_sample)

    def _intervals(self, stats: Sequence[dict[str, Any]]) -> tuple[dict[str, list[float]], dict[str, str]]:
        """Bootstrap CIs; on big inputs with a bar over the resamples (and the jackknife's groups, when BCa
        needs them: the bar then closes before it is full)."""
        n = len(stats)
        if n < PROGRESS_MIN:
            return bootstrap_intervals(self.metric, stats, self.bootstrap, self.seed)
        bar = _progress(f"CI {self.name}", self.bootstrap + min(n, JACKKNIFE_GROUPS), "resample")
        try:
            return bootstrap_intervals(self.metric, stats, self.bootstrap, self.seed, progress=bar.update)
        finally:
            bar.close()

    def run(self) -> None:
        was_cached = self.stats is not None
        stats = self.stats
        if stats is None:
            try:
                stats = compute_stats(self.name, self.metric, self.ids, self.hyps, self.refs, self.entry,
                                      self.world)
            except UnavailableError as exc:
                self.result = _unavailable(self.name, self.metric, str(exc), len(self.ids))
                return
        scores = {k: float(v) for k, v in self.metric.aggregate(stats).items()}
        if self.cached.get("signature") == self.signature and self.cached.get("scores") == scores:
            rows = self.cached["per_sample"]
            cis = dict(self.cached.get("ci95", {}))
            kinds = dict(self.cached.get("ci_kind", {}))
        else:
            rows = self.metric.sample_scores(stats)
            cis, kinds = {}, {}
        ci95, kind = self._intervals(stats) if self.bootstrap else ({}, {})
        cis[self.ci_key], kinds[self.ci_key] = ci95, kind
        self.stats = stats = None  # released before the per-sample rows are copied and written
        if self.entry:
            self.entry.save_result({"signature": self.signature, "scores": scores, "per_sample": rows, "ci95": cis,
                                    "ci_kind": kinds, "order": list(scores)})
        self.result = self._result(scores, ci95, rows, cached=was_cached, ci_kind=kind)


def _in_order(cached: dict[str, Any]) -> dict[str, float]:
    """The cached scores in the order the metric gave them (the cache file's JSON keys are sorted), so that
    a cached result lists its keys (tables, display order) as a computed one does."""
    scores = cached["scores"]
    order = cached.get("order")
    if isinstance(order, list) and sorted(order) == sorted(scores):
        return {k: scores[k] for k in order}
    return scores


def scoring_world() -> Any:
    """The :class:`~rrgbench.distributed.World` when launched with several processes (torchrun /
    accelerate launch), else ``None``: then pair-local metrics (BERTScore and the other neural ones) are
    spread over the processes."""
    from ..distributed import get_world, launched_world_size

    if launched_world_size() <= 1:
        return None
    world = get_world()
    return world if world.distributed else None


STATS_CHUNK = 10_000  # pairs per sample_stats call of a pair-local metric (progress, bounded temporaries)


PROGRESS_MIN = 5_000  # pairs from which each metric shows its bars (statistics, then bootstrap resamples)


def _progress(desc: str, total: int, unit: str) -> Any:
    from ..terminal import progress

    return progress(total=total, desc=desc, unit=unit, leave=False)  # rich: total, ETA; terminals only


def compute_stats(name: str, metric: Metric, ids: list[str], hyps: list[str], refs: list[str],
                  entry: cache_mod.ScoreCache | None, world: Any = None) -> StatsTable:
    """Per-sample statistics, reusing cached pairs for pair-local metrics (``pairwise = True``), packed by
    column (:class:`~rrgbench.scoring.columns.StatsTable`: a sequence of the same dicts).

    With ``world`` (a :class:`~rrgbench.distributed.World` of several processes) a pair-local metric's pairs
    are split across the ranks and gathered on every rank, so the statistics equal one process's.
    """
    known: dict[int, dict[str, Any]] = {}  # cached pairs, then (distributed) every pair
    keys = cache_mod.pair_keys(hyps, refs)
    if entry is not None and metric.pairwise:
        known = entry.lookup_pairs(keys)
    todo = [i for i in range(len(ids)) if i not in known]
    spread = world is not None and getattr(metric, "pairwise", False)
    if spread:  # each rank scores every world_size-th pair; the pieces are gathered below
        everyone, todo = todo, todo[world.rank::world.world_size]
    # pair-local metrics run in chunks; others see the whole corpus at once (their bar fills in one step)
    step = STATS_CHUNK if metric.pairwise else max(1, len(todo))
    bar = _progress(f"score {name}", len(todo), "pair") if len(todo) >= PROGRESS_MIN else None
    tables: list[StatsTable] = []  # each chunk packed into columns at once (its dicts are dropped)
    for start in range(0, len(todo), step):
        part = todo[start:start + step]
        try:
            new = metric.sample_stats([hyps[i] for i in part], [refs[i] for i in part])
        except SampleError as exc:
            raise RRGBenchError(f"metric '{name}', sample '{ids[part[exc.index]]}': {exc.message}") from None
        if len(new) != len(part):
            raise RRGBenchError(f"metric '{name}' returned {len(new)} statistics for {len(part)} samples")
        if spread:
            known.update(zip(part, new))
        else:
            tables.append(columns.pack(new))
        del new
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    if spread:
        import torch.distributed as dist

        pieces: list[Any] = [None] * world.world_size
        dist.all_gather_object(pieces, [known[i] for i in todo])
        log.info("metric %s: rank %d of %d scored %d of %d pairs", name, world.rank, world.world_size, len(todo),
                 len(everyone))
        for j, i in enumerate(everyone):
            known[i] = pieces[j % world.world_size][j // world.world_size]
        todo = everyone
    if todo and len(todo) < len(ids):
        log.info("metric %s: %d of %d pairs reused from the cache", name, len(ids) - len(todo), len(ids))
    if not known:  # every pair newly scored, in order
        stats = StatsTable.concat(tables)
    else:  # cached (or gathered) pairs and new ones interleaved: packed in order, chunk by chunk
        where = {i: (t, j) for t, table in enumerate(tables) for j, i in enumerate(todo[t * step:(t + 1) * step])} \
            if tables else {}
        stats = StatsTable.concat(
            StatsTable.from_rows([known[i] if i in known else tables[where[i][0]][where[i][1]]
                                  for i in range(s, min(len(ids), s + STATS_CHUNK))])
            for s in range(0, len(ids), STATS_CHUNK))
    del tables, known
    if entry is not None:
        entry.save_stats(stats, keys)
    return stats


def sample_stats(metric_name: str, hyps: Sequence[str], refs: Sequence[str], *,
                 options: dict[str, Any] | None = None, cleaning: str = "r2gen_iu", cache: bool = True
                 ) -> tuple[Metric, Sequence[dict[str, Any]]]:
    """The metric instance and its per-sample statistics (from the cache when present), for paired tests."""
    metric = make_metric(metric_name, options, cleaning)
    reason = metric.availability()
    if reason:
        raise UnavailableError(f"metric '{metric_name}' is unavailable: {reason}")
    entry = cache_mod.ScoreCache(metric.signature(), hyps, refs) if cache and cache_mod.enabled() else None
    stats = entry.load_stats() if entry else None
    if stats is None:
        ids = [str(i) for i in range(len(hyps))]
        stats = compute_stats(metric_name, metric, ids, list(hyps), list(refs), entry)
    return metric, stats
