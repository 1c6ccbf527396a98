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

All three score their weight rows in blocks of :func:`block_rows` rows (bounded memory at 100k samples) that
give the same numbers, bit for bit, as one weight matrix (:data:`ROW_ALIGN`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..api import Metric


def resample_weights(n: int, b: int, seed: int) -> np.ndarray:
    """``[b, n]`` counts from an index matrix of ``b`` seeded bootstrap resamples of ``n`` samples."""
    return _counts(resample_indices(n, b, seed), n)


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """``[c, n]`` float counts of each sample in each row of a ``[c, n]`` index matrix."""
    c = len(idx)
    flat = (np.arange(c)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=c * n).reshape(c, n).astype(float)


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
                        progress: Callable[[int], Any] | None = None, max_cells: int = 4_000_000
                        ) -> tuple[dict[str, list[float]], dict[str, str]]:
    """95 % bootstrap interval per score key and its kind (:func:`choose_interval`).

    Every resample re-aggregates the statistics exactly as the point estimate does (pooled counts, sets,
    corpus n-grams); resamples are scored in blocks of :func:`block_rows` rows (the numbers of one ``[b, n]``
    matrix). ``progress(rows)`` is called after each block of resamples (then of jackknife groups, when BCa
    needs them).
    """
    n = len(stats)
    if b <= 0 or n < 2:
        return {}, {}
    scores = prepared_scores(metric, stats)
    estimate = scores(np.ones((1, n)))
    draws = _blocked_scores(scores, iter_resample_weights(n, b, seed, max_cells), progress)
    jack_cache: dict[str, np.ndarray] = {}

    def jack(key: str) -> Callable[[], np.ndarray]:
        def get() -> np.ndarray:
            if not jack_cache:
                jack_cache.update(_blocked_scores(scores, iter_jackknife_weights(n, max_cells), progress))
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
    """The rows of :func:`jackknife_weights` in blocks of :func:`block_rows` rows."""
    g = min(n, JACKKNIFE_GROUPS)
    group = np.arange(n) * g // n
    rows = block_rows(n, max_cells)
    for start in range(0, g, rows):
        ids = np.arange(start, min(g, start + rows))
        yield (group[None, :] != ids[:, None]).astype(float)


ROW_ALIGN = 16
"""Weight blocks hold a multiple of this many rows (but the last). BLAS kernels process rows in groups (4 at a
time in OpenBLAS's SkylakeX matrix-vector kernel; micro-kernels of other CPUs up to 16) and rows left over at
the end of a call in other kernels, whose float sums may differ in the last bit; a row at the same place
modulo 16 in a block as in one whole matrix takes the same path, so blocked resampling gives the numbers of
one ``[B, n]`` matrix bit for bit (``tests/test_compare_scale.py``: blocks of 1 or 2 rows do not)."""


def block_rows(width: int, max_cells: int) -> int:
    """Rows per weight block: as many as ``max_cells`` cells of ``width`` columns hold, rounded down to a
    multiple of :data:`ROW_ALIGN` (at least one multiple)."""
    return max(ROW_ALIGN, max(1, max_cells // max(1, width)) // ROW_ALIGN * ROW_ALIGN)


def _recut(pieces: Iterable[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """The rows of ``np.vstack(pieces)`` in blocks of ``rows`` rows (the last one shorter), without stacking
    more than a block and a piece at a time; each block starts where it would in the whole matrix."""
    buf: list[np.ndarray] = []
    have = 0
    for piece in pieces:
        buf.append(piece)
        have += len(piece)
        while have >= rows:
            whole = buf[0] if len(buf) == 1 else np.vstack(buf)
            yield whole[:rows]
            rest = whole[rows:]
            buf, have = ([rest] if len(rest) else []), len(rest)
            del whole
    if have:
        yield buf[0] if len(buf) == 1 else np.vstack(buf)


def bootstrap_ci(metric: Metric, stats: Sequence[dict[str, Any]], b: int = 1000, seed: int = 0
                 ) -> dict[str, list[float]]:
    """95 % bootstrap interval per score key (kinds: :func:`bootstrap_intervals`)."""
    return bootstrap_intervals(metric, stats, b, seed)[0]


def iter_resample_weights(n: int, b: int, seed: int, max_cells: int = 4_000_000) -> Iterator[np.ndarray]:
    """The rows of :func:`resample_weights` in blocks of :func:`block_rows` rows (same values: the generator
    yields the same stream drawn in blocks), so 1,000 resamples of 100k samples need ~26 MB at a time instead
    of gigabytes."""
    rng = np.random.default_rng(seed)
    rows = block_rows(n, max_cells)
    for start in range(0, b, rows):
        yield _counts(rng.integers(0, n, size=(min(rows, b - start), n)), n)


def paired_bootstrap(metric: Metric, stats_a: Sequence[dict[str, Any]], stats_b: Sequence[dict[str, Any]],
                     b: int = 1000, seed: int = 0, *, max_cells: int = 4_000_000) -> dict[str, dict[str, Any]]:
    """Per key: ``{"delta", "ci95", "ci_kind", "p_value"}`` for A − B, same resamples for both systems.

    Row 0 is the observed corpus, rows 1..b the resamples (:func:`iter_resample_weights`), scored in blocks
    of :func:`block_rows` rows (BCa's jackknife groups likewise); each system's
    :meth:`~rrgbench.api.Metric.batch_aggregator` is built once. Same numbers as one ``[1 + b, n]`` matrix.
    """
    if len(stats_a) != len(stats_b):
        raise ValueError("paired statistics must have the same length")
    n = len(stats_a)
    scores_a, scores_b = prepared_scores(metric, stats_a), prepared_scores(metric, stats_b)
    pieces = itertools.chain([np.ones((1, n))], iter_resample_weights(n, b, seed, max_cells))
    sa, sb = _paired_blocked_scores(scores_a, scores_b, _recut(pieces, block_rows(n, max_cells)))
    jack_cache: dict[str, np.ndarray] = {}

    def jack(key: str) -> Callable[[], np.ndarray]:
        def get() -> np.ndarray:
            if not jack_cache:
                ja, jb = _paired_blocked_scores(scores_a, scores_b, iter_jackknife_weights(n, max_cells))
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


def _paired_blocked_scores(scores_a: Callable[[np.ndarray], dict[str, np.ndarray]],
                           scores_b: Callable[[np.ndarray], dict[str, np.ndarray]], blocks: Iterator[np.ndarray]
                           ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Both systems' scores for each weight block (each block drawn once), concatenated per key."""
    out_a: dict[str, list[np.ndarray]] = {}
    out_b: dict[str, list[np.ndarray]] = {}
    for weights in blocks:
        for out, scores in ((out_a, scores_a), (out_b, scores_b)):
            for k, v in scores(weights).items():
                out.setdefault(k, []).append(v)
    return ({k: np.concatenate(v) for k, v in out_a.items()}, {k: np.concatenate(v) for k, v in out_b.items()})


def iter_swap_masks(n: int, trials: int, seed: int, max_cells: int = 4_000_000) -> Iterator[np.ndarray]:
    """The rows of ``rng.random((trials, n)) < 0.5`` as 0/1 floats (1: swap the two systems' outputs of that
    sample) in blocks of :func:`block_rows` rows: the same draws, taken from one stream in blocks."""
    rng = np.random.default_rng(seed)
    rows = block_rows(n, max_cells)
    for start in range(0, trials, rows):
        yield (rng.random((min(rows, trials - start), n)) < 0.5).astype(float)


def approximate_randomization(metric: Metric, stats_a: Sequence[dict[str, Any]],
                              stats_b: Sequence[dict[str, Any]], trials: int = 1000, seed: int = 0, *,
                              max_cells: int = 4_000_000) -> dict[str, float]:
    """Per key: the two-sided approximate-randomisation p-value for A ≠ B.

    Weights over ``[A; B]`` (both systems' statistics, concatenated by column once; the metric's batch
    aggregator is built once for them), rows: observed A, observed B, the ``trials`` permuted A's, then the
    permuted B's. The swap masks (:func:`iter_swap_masks`) are drawn twice from the seed (once per half),
    and the rows are scored in blocks of :func:`block_rows` rows: the numbers of one ``[2 + 2T, 2n]`` matrix.
    """
    from .columns import StatsTable, pack

    n = len(stats_a)
    if n != len(stats_b):
        raise ValueError("paired statistics must have the same length")
    scores = prepared_scores(metric, StatsTable.concat([pack(stats_a), pack(stats_b)]))
    observed = np.vstack([np.concatenate([np.ones(n), np.zeros(n)]), np.concatenate([np.zeros(n), np.ones(n)])])

    def rows() -> Iterator[np.ndarray]:
        yield observed
        for swap in iter_swap_masks(n, trials, seed, max_cells // 2):
            yield np.hstack([1.0 - swap, swap])  # permuted A: its own output where not swapped
        for swap in iter_swap_masks(n, trials, seed, max_cells // 2):
            yield np.hstack([swap, 1.0 - swap])

    v_all = _blocked_scores(scores, _recut(rows(), block_rows(2 * n, max_cells)))
    out = {}
    for k, v in v_all.items():
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
