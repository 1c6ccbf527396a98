"""Bootstrap CIs and paired significance tests computed from per-sample sufficient statistics.

A resample is a row of a weight matrix ``W[B, n]``: how many times each sample is drawn. A metric
that implements ``batch_aggregate(stats, W) -> {key: [B] array}`` is re-aggregated for all rows at once
(vectorised); any other metric falls back to ``aggregate`` on each resampled list. The metric itself
(models, Java) never runs again.

* :func:`bootstrap_intervals`: 95 % interval over ``B`` seeded resamples, each re-aggregated exactly as
  the point estimate is; percentile when the bootstrap distribution is median-unbiased, else BCa
  (jackknife acceleration), else bias-shifted percentile; the kind is returned (``ci_kind``).
* :func:`paired_bootstrap`: the same resamples applied to two systems paired by sample; CI of the delta
  and a two-sided p-value from the null-centred delta distribution (as sacreBLEU's paired bootstrap).
* :func:`approximate_randomization`: per sample, swap the two systems' outputs with probability 1/2;
  p = (1 + #{|Δ_r| ≥ |Δ|}) / (1 + R). Implemented as weights over the concatenated statistics
  ``[A; B]`` (``[1-M, M]`` and ``[M, 1-M]``), so corpus-level metrics (BLEU, CIDEr's document
  frequencies, micro-F1) are recomputed on each permuted corpus, not averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..api import Metric


def resample_weights(n: int, b: int, seed: int) -> np.ndarray:
    """``[b, n]`` counts from an index matrix of ``b`` seeded bootstrap resamples of ``n`` samples."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(b, n))
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def resample_indices(n: int, b: int, seed: int) -> np.ndarray:
    """The ``[b, n]`` index matrix behind :func:`resample_weights` (same seed → same resamples)."""
    return np.random.default_rng(seed).integers(0, n, size=(b, n))


def batch_scores(metric: Metric, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Corpus scores of ``metric`` for each weight row (:meth:`rrgbench.api.Metric.batch_aggregate`).

    BLAS runs on one thread here: a threaded matrix product sums in an order that depends on the thread
    count, so ``W @ stats`` over float statistics (UMLS's length factor) moved CI ends by 1e-15 between a
    1-thread run and a 2-thread audit. With one thread a re-score reproduces the stored CIs bit for bit.
    """
    with _one_blas_thread():
        return {k: np.asarray(v, float) for k, v in metric.batch_aggregate(stats, weights).items()}


def prepared_scores(metric: Metric, stats: Sequence[dict[str, Any]]) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """:func:`batch_scores` for many weight blocks of the same statistics: what the metric builds from them
    (:meth:`rrgbench.api.Metric.batch_aggregator`) is built once, on first use."""
    made: list[Callable[[np.ndarray], Any]] = []

    def scores(weights: np.ndarray) -> dict[str, np.ndarray]:
        with _one_blas_thread():
            if not made:
                prepare = getattr(metric, "batch_aggregator", None)
                made.append(prepare(stats) if prepare is not None else
                            (lambda w: metric.batch_aggregate(stats, w)))
            return {k: np.asarray(v, float) for k, v in made[0](weights).items()}
    return scores


_BLAS: Any = None


def _one_blas_thread() -> Any:
    """A context that limits every loaded BLAS to one thread (threadpoolctl; the controller is made once)."""
    global _BLAS
    from threadpoolctl import ThreadpoolController

    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> list[float]:
    a = (1.0 - level) / 2 * 100
    lo, hi = np.nanpercentile(draws, [a, 100 - a])
    return [float(lo), float(hi)]


JACKKNIFE_GROUPS = 1000  # above this many samples the jackknife deletes groups, not single samples


def jackknife_weights(n: int) -> np.ndarray:
    """``[g, n]`` delete-one (n ≤ :data:`JACKKNIFE_GROUPS`) or delete-group weights (contiguous, near-equal
    groups) for BCa's acceleration."""
    return np.vstack(list(iter_jackknife_weights(n)))


def median_bias(draws: np.ndarray, estimate: float) -> float:
    """BCa's bias constant z0 = Φ⁻¹(share of draws below the estimate, ties counted half), clipped."""
    from scipy.stats import norm

    d = draws[~np.isnan(draws)]
    if d.size == 0:
        return 0.0
    share = (np.sum(d < estimate) + 0.5 * np.sum(d == estimate)) / d.size
    share = min(max(share, 0.5 / d.size), 1 - 0.5 / d.size)
    return float(norm.ppf(share))


def is_biased(draws: np.ndarray, estimate: float) -> bool:
    """True when the bootstrap distribution's median is off the estimate beyond Monte Carlo error
    (the share of draws below it differs from 1/2 by more than two binomial standard errors)."""
    d = draws[~np.isnan(draws)]
    if d.size == 0 or np.all(d == d[0]):
        return False
    share = (np.sum(d < estimate) + 0.5 * np.sum(d == estimate)) / d.size
    return abs(share - 0.5) > 2 * np.sqrt(0.25 / d.size)


def bca_ci(draws: np.ndarray, estimate: float, jack: np.ndarray, level: float = 0.95) -> list[float]:
    """Bias-corrected and accelerated interval (Efron 1987) from bootstrap ``draws`` and jackknife values."""
    from scipy.stats import norm

    z0 = median_bias(draws, estimate)
    j = jack[~np.isnan(jack)]
    dev = j.mean() - j if j.size else np.zeros(1)
    denom = 6.0 * float(np.sum(dev ** 2)) ** 1.5
    a = float(np.sum(dev ** 3)) / denom if denom > 0 else 0.0
    z = norm.ppf([(1 - level) / 2, (1 + level) / 2])
    levels = norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    lo, hi = np.nanpercentile(draws, 100 * levels)
    return [float(lo), float(hi)]


def choose_interval(draws: np.ndarray, estimate: float, jack: Callable[[], np.ndarray] | None
                    ) -> tuple[list[float], str]:
    """``(ci95, kind)`` for one key: ``percentile`` when the bootstrap distribution is median-unbiased
    (:func:`is_biased`); else ``bca`` (bias-corrected, accelerated by the jackknife values ``jack()``).
    When even BCa cannot reach the estimate (every draw on one side of it, as with set statistics whose
    resamples hold ~63 % of the distinct samples), ``bias-shifted``: the percentile interval moved by
    the bootstrap bias estimate mean(draws) − estimate, kept within the range of the draws and the estimate
    (so a score bounded by 1 never gets an interval above 1)."""
    ci = percentile_ci(draws)
    if np.isnan(estimate) or not is_biased(draws, estimate):
        return ci, "percentile"
    if jack is not None:
        ci = bca_ci(draws, estimate, jack())
        if ci[0] <= estimate <= ci[1]:
            return ci, "bca"
    shift = float(np.nanmean(draws)) - estimate
    lo, hi = percentile_ci(draws)
    floor, ceil = min(float(np.nanmin(draws)), estimate), max(float(np.nanmax(draws)), estimate)
    return [max(lo - shift, floor), min(hi - shift, ceil)], "bias-shifted"  # never beyond what was observed


def bootstrap_intervals(metric: Metric, stats: Sequence[dict[str, Any]], b: int = 1000, seed: int = 0, *,
                        progress: Callable[[int], Any] | None = None
                        ) -> tuple[dict[str, list[float]], dict[str, str]]:
    """95 % bootstrap interval per score key and its kind (:func:`choose_interval`).

    Every resample re-aggregates the statistics exactly as the point estimate does (pooled counts, sets,
    corpus n-grams), row 0 of one weight matrix being the observed corpus. ``progress(rows)`` is called
    after each block of resamples (then of jackknife groups, when BCa needs them).
    """
    n = len(stats)
    if b <= 0 or n < 2:
        return {}, {}
    scores = prepared_scores(metric, stats)
    estimate = scores(np.ones((1, n)))
    draws = _blocked_scores(scores, iter_resample_weights(n, b, seed), progress)
    jack_cache: dict[str, np.ndarray] = {}

    def jack(key: str) -> Callable[[], np.ndarray]:
        def get() -> np.ndarray:
            if not jack_cache:
                jack_cache.update(_blocked_scores(scores, iter_jackknife_weights(n), progress))
            return jack_cache[key]
        return get

    ci95, kinds = {}, {}
    for k, v in draws.items():
        ci95[k], kinds[k] = choose_interval(v, float(estimate[k][0]), jack(k))
    return ci95, kinds


def _blocked_scores(scores: Callable[[np.ndarray], dict[str, np.ndarray]], blocks: Iterator[np.ndarray],
                    progress: Callable[[int], Any] | None = None) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {}
    for weights in blocks:
        for k, v in scores(weights).items():
            out.setdefault(k, []).append(v)
        if progress is not None:
            progress(len(weights))
    return {k: np.concatenate(v) for k, v in out.items()}


def iter_jackknife_weights(n: int, max_cells: int = 4_000_000) -> Iterator[np.ndarray]:
    """The rows of :func:`jackknife_weights` in blocks of at most ``max_cells`` cells."""
    g = min(n, JACKKNIFE_GROUPS)
    group = np.arange(n) * g // n
    rows = max(1, max_cells // max(1, n))
    for start in range(0, g, rows):
        ids = np.arange(start, min(g, start + rows))
        yield (group[None, :] != ids[:, None]).astype(float)


def bootstrap_ci(metric: Metric, stats: Sequence[dict[str, Any]], b: int = 1000, seed: int = 0
                 ) -> dict[str, list[float]]:
    """95 % bootstrap interval per score key (kinds: :func:`bootstrap_intervals`)."""
    return bootstrap_intervals(metric, stats, b, seed)[0]


def iter_resample_weights(n: int, b: int, seed: int, max_cells: int = 4_000_000) -> Iterator[np.ndarray]:
    """The rows of :func:`resample_weights` in blocks of at most ``max_cells`` cells (same values: the
    generator yields the same stream drawn in blocks), so 1,000 resamples of 100k samples need ~32 MB at a
    time instead of gigabytes."""
    rng = np.random.default_rng(seed)
    rows = max(1, max_cells // max(1, n))
    for start in range(0, b, rows):
        c = min(rows, b - start)
        idx = rng.integers(0, n, size=(c, n))
        flat = (np.arange(c)[:, None] * n + idx).ravel()
        del idx
        yield np.bincount(flat, minlength=c * n).reshape(c, n).astype(float)


def paired_bootstrap(metric: Metric, stats_a: Sequence[dict[str, Any]], stats_b: Sequence[dict[str, Any]],
                     b: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per key: ``{"delta", "ci95", "ci_kind", "p_value"}`` for A − B, same resamples for both systems."""
    if len(stats_a) != len(stats_b):
        raise ValueError("paired statistics must have the same length")
    n = len(stats_a)
    # row 0: the observed corpus; rows 1..b: the resamples (one call per system: CIDEr's setup runs once)
    w = np.vstack([np.ones((1, n)), resample_weights(n, b, seed)])
    sa, sb = batch_scores(metric, stats_a, w), batch_scores(metric, stats_b, w)
    jack_cache: dict[str, np.ndarray] = {}

    def jack(key: str) -> Callable[[], np.ndarray]:
        def get() -> np.ndarray:
            if not jack_cache:
                jw = jackknife_weights(n)
                ja, jb = batch_scores(metric, stats_a, jw), batch_scores(metric, stats_b, jw)
                jack_cache.update({k: ja[k] - jb[k] for k in ja})
            return jack_cache[key]
        return get

    out = {}
    for k in sa:
        delta = float(sa[k][0] - sb[k][0])
        draws = sa[k][1:] - sb[k][1:]
        centred = draws - np.nanmean(draws)
        p = (1 + int(np.sum(np.abs(centred) >= abs(delta) - 1e-12))) / (1 + b)
        ci, kind = choose_interval(draws, delta, jack(k)) if n > 1 else (percentile_ci(draws), "percentile")
        out[k] = {"delta": delta, "ci95": ci, "ci_kind": kind, "p_value": min(1.0, p)}
    return out


def approximate_randomization(metric: Metric, stats_a: Sequence[dict[str, Any]],
                              stats_b: Sequence[dict[str, Any]], trials: int = 1000, seed: int = 0
                              ) -> dict[str, float]:
    """Per key: the two-sided approximate-randomisation p-value for A ≠ B."""
    n = len(stats_a)
    if n != len(stats_b):
        raise ValueError("paired statistics must have the same length")
    both = list(stats_a) + list(stats_b)
    rng = np.random.default_rng(seed)
    swap = (rng.random((trials, n)) < 0.5).astype(float)
    keep = 1.0 - swap
    # rows: observed A, observed B, then the permuted A's and the permuted B's (one call: one setup)
    obs_w = np.vstack([np.concatenate([np.ones(n), np.zeros(n)]), np.concatenate([np.zeros(n), np.ones(n)])])
    scores = batch_scores(metric, both, np.vstack([obs_w, np.hstack([keep, swap]), np.hstack([swap, keep])]))
    out = {}
    for k, v in scores.items():
        delta = abs(float(v[0] - v[1]))
        sa, sb = v[2:2 + trials], v[2 + trials:]
        hits = int(np.sum(np.abs(sa - sb) >= delta - 1e-12))
        out[k] = (1 + hits) / (1 + trials)
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted
