"""Bootstrap CIs and paired significance tests computed from per-sample sufficient statistics.

A resample is a row of a weight matrix ``W[B, n]``: how many times each sample is drawn. A metric
that implements ``batch_aggregate(stats, W) -> {key: [B] array}`` is re-aggregated for all rows at once
(vectorised); any other metric falls back to ``aggregate`` on each resampled list. The metric itself
(models, Java) never runs again.

* :func:`bootstrap_ci`: percentile 95 % interval over ``B`` seeded resamples.
* :func:`paired_bootstrap`: the same resamples applied to two systems paired by sample; CI of the delta
  and a two-sided p-value from the null-centred delta distribution (as sacreBLEU's paired bootstrap).
* :func:`approximate_randomization`: per sample, swap the two systems' outputs with probability 1/2;
  p = (1 + #{|Δ_r| ≥ |Δ|}) / (1 + R). Implemented as weights over the concatenated statistics
  ``[A; B]`` (``[1-M, M]`` and ``[M, 1-M]``), so corpus-level metrics (BLEU, CIDEr's document
  frequencies, micro-F1) are recomputed on each permuted corpus, not averaged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    """Corpus scores of ``metric`` for each weight row: vectorised if the metric supports it."""
    fn = getattr(metric, "batch_aggregate", None)
    if fn is not None:
        return {k: np.asarray(v, float) for k, v in fn(stats, weights).items()}
    out: dict[str, list[float]] = {}
    for row in np.asarray(weights):
        counts = np.rint(row).astype(int)
        sample = [stats[i] for i in np.repeat(np.arange(len(stats)), counts)]
        for k, v in metric.aggregate(sample).items():
            out.setdefault(k, []).append(v)
    return {k: np.asarray(v, float) for k, v in out.items()}


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> list[float]:
    a = (1.0 - level) / 2 * 100
    lo, hi = np.nanpercentile(draws, [a, 100 - a])
    return [float(lo), float(hi)]


def bootstrap_ci(metric: Metric, stats: Sequence[dict[str, Any]], b: int = 1000, seed: int = 0
                 ) -> dict[str, list[float]]:
    """95 % percentile bootstrap interval per score key."""
    if b <= 0 or len(stats) < 2:
        return {}
    draws: dict[str, list[np.ndarray]] = {}
    for weights in iter_resample_weights(len(stats), b, seed):
        for k, v in batch_scores(metric, stats, weights).items():
            draws.setdefault(k, []).append(v)
    return {k: percentile_ci(np.concatenate(v)) for k, v in draws.items()}


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
    """Per key: ``{"delta", "ci95", "p_value"}`` for A − B, same resamples for both systems."""
    if len(stats_a) != len(stats_b):
        raise ValueError("paired statistics must have the same length")
    # row 0: the observed corpus; rows 1..b: the resamples (one call per system: CIDEr's setup runs once)
    w = np.vstack([np.ones((1, len(stats_a))), resample_weights(len(stats_a), b, seed)])
    sa, sb = batch_scores(metric, stats_a, w), batch_scores(metric, stats_b, w)
    out = {}
    for k in sa:
        delta = float(sa[k][0] - sb[k][0])
        draws = sa[k][1:] - sb[k][1:]
        centred = draws - np.nanmean(draws)
        p = (1 + int(np.sum(np.abs(centred) >= abs(delta) - 1e-12))) / (1 + b)
        out[k] = {"delta": delta, "ci95": percentile_ci(draws), "p_value": min(1.0, p)}
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
