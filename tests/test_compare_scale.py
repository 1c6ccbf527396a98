"""Paired tests at scale: paired bootstrap and approximate randomization score their weights in blocks
(bounded memory at 100k pairs) and give, bit for bit, what one weight matrix gave (the implementation
before blocking is kept below as the reference), for nlg, chexpert_rules and token."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from rrgbench.api import Metric
from rrgbench.scoring import engine, synthetic
from rrgbench.scoring.resample import (
    ROW_ALIGN,
    _recut,
    approximate_randomization,
    batch_scores,
    block_rows,
    bootstrap_intervals,
    choose_interval,
    iter_jackknife_weights,
    iter_resample_weights,
    iter_swap_masks,
    jackknife_weights,
    paired_bootstrap,
    percentile_ci,
    resample_weights,
)

pytestmark = pytest.mark.usefixtures("isolated_cache")

N = 300


# -- the unblocked implementation (one weight matrix), as it was before blocking ----------------------------
def reference_paired_bootstrap(metric: Metric, stats_a: Sequence[dict[str, Any]],
                               stats_b: Sequence[dict[str, Any]], b: int, seed: int) -> dict[str, dict[str, Any]]:
    n = len(stats_a)
    w = np.vstack([np.ones((1, n)), resample_weights(n, b, seed)])
    sa, sb = batch_scores(metric, stats_a, w), batch_scores(metric, stats_b, w)
    jw = jackknife_weights(n)
    ja, jb = batch_scores(metric, stats_a, jw), batch_scores(metric, stats_b, jw)
    out = {}
    for k in sa:
        delta = float(sa[k][0] - sb[k][0])
        draws = sa[k][1:] - sb[k][1:]
        centred = draws - np.nanmean(draws)
        p = (1 + int(np.sum(np.abs(centred) >= abs(delta) - 1e-12))) / (1 + b)
        jack: Callable[[], np.ndarray] = lambda k=k: ja[k] - jb[k]  # noqa: E731
        ci, kind = choose_interval(draws, delta, jack)
        out[k] = {"delta": delta, "ci95": ci, "ci_kind": kind, "p_value": min(1.0, p)}
    return out


def reference_randomization(metric: Metric, stats_a: Sequence[dict[str, Any]], stats_b: Sequence[dict[str, Any]],
                            trials: int, seed: int) -> dict[str, float]:
    n = len(stats_a)
    both = list(stats_a) + list(stats_b)
    swap = (np.random.default_rng(seed).random((trials, n)) < 0.5).astype(float)
    keep = 1.0 - swap
    obs_w = np.vstack([np.concatenate([np.ones(n), np.zeros(n)]), np.concatenate([np.zeros(n), np.ones(n)])])
    scores = batch_scores(metric, both, np.vstack([obs_w, np.hstack([keep, swap]), np.hstack([swap, keep])]))
    out = {}
    for k, v in scores.items():
        delta = abs(float(v[0] - v[1]))
        hits = int(np.sum(np.abs(v[2:2 + trials] - v[2 + trials:]) >= delta - 1e-12))
        out[k] = (1 + hits) / (1 + trials)
    return out


@pytest.fixture(scope="module")
def systems() -> dict[str, tuple[Metric, Sequence[dict[str, Any]], Sequence[dict[str, Any]]]]:
    """Per metric: the metric and the statistics of two systems on the same N references (engine tables)."""
    _, hyps_a, refs = synthetic.pairs(N, seed=3)
    _, hyps_b, _ = synthetic.pairs(N, seed=8)
    out = {}
    for name in ("nlg", "chexpert_rules", "token"):
        metric, stats_a = engine.sample_stats(name, hyps_a, refs, cache=False)
        _, stats_b = engine.sample_stats(name, hyps_b, refs, cache=False)
        out[name] = (metric, stats_a, stats_b)
    return out


@pytest.mark.parametrize("name", ["nlg", "chexpert_rules", "token"])
def test_paired_tests_in_blocks_equal_one_matrix(name: str, systems: dict) -> None:
    metric, stats_a, stats_b = systems[name]
    want_pb = reference_paired_bootstrap(metric, stats_a, stats_b, b=200, seed=4)
    want_ar = reference_randomization(metric, stats_a, stats_b, trials=150, seed=4)
    # one block (the default at this size); ROW_ALIGN-row blocks (the fewest rows a block holds); 128-row blocks
    for cells in (4_000_000, 1, N * 2 * 128):
        assert paired_bootstrap(metric, stats_a, stats_b, b=200, seed=4, max_cells=cells) == want_pb
        assert approximate_randomization(metric, stats_a, stats_b, trials=150, seed=4, max_cells=cells) == want_ar
    if name == "token":  # BCa needs the jackknife (blocked too): the comparison above covers it
        assert "bca" in {v["ci_kind"] for v in want_pb.values()}
    assert {v["p_value"] for v in want_pb.values()} != {1.0}  # the two systems differ: real p-values compared


def test_bootstrap_intervals_in_blocks_equal_one_matrix(systems: dict) -> None:
    metric, stats, _ = systems["chexpert_rules"]
    draws = batch_scores(metric, stats, resample_weights(N, 150, 2))
    est = metric.aggregate(stats)
    jack = batch_scores(metric, stats, jackknife_weights(N))
    want = {k: choose_interval(v, est[k], lambda k=k: jack[k]) for k, v in draws.items()}
    for cells in (4_000_000, 1):
        ci95, kinds = bootstrap_intervals(metric, stats, 150, 2, max_cells=cells)
        assert ci95 == {k: ci for k, (ci, _) in want.items()} and kinds == {k: kd for k, (_, kd) in want.items()}
    assert any(ci == percentile_ci(draws[k]) for k, ci in ci95.items())


def test_block_streams_equal_one_draw() -> None:
    """The generators draw the same stream in blocks: weights, swap masks and jackknife rows as one matrix."""
    for n, b, cells in ((7, 1000, 50), (1001, 150, 3000), (5000, 200, 400_000)):
        blocks = list(iter_resample_weights(n, b, 5, max_cells=cells))
        assert len(blocks) > 1 and all(len(x) % ROW_ALIGN == 0 for x in blocks[:-1])
        assert np.array_equal(np.concatenate(blocks), resample_weights(n, b, 5))
        masks = list(iter_swap_masks(n, b, 5, max_cells=cells))
        assert len(masks) > 1
        assert np.array_equal(np.concatenate(masks), (np.random.default_rng(5).random((b, n)) < 0.5).astype(float))
    jack = list(iter_jackknife_weights(1500, max_cells=1))
    assert [len(x) for x in jack] == [ROW_ALIGN] * (1000 // ROW_ALIGN) + [1000 % ROW_ALIGN] * (1000 % ROW_ALIGN > 0)
    assert np.array_equal(np.concatenate(jack), jackknife_weights(1500))


def test_recut_keeps_rows_and_alignment() -> None:
    rows = np.arange(23 * 3, dtype=float).reshape(23, 3)
    pieces = [rows[:1], rows[1:8], rows[8:9], rows[9:23]]
    got = list(_recut(iter(pieces), 5))
    assert [len(x) for x in got] == [5, 5, 5, 5, 3]
    assert np.array_equal(np.concatenate(got), rows)
    assert list(_recut(iter([]), 5)) == []
    assert block_rows(100_000, 4_000_000) == 40 // ROW_ALIGN * ROW_ALIGN and block_rows(10, 1) == ROW_ALIGN
    assert block_rows(300, 4_000_000) == 13333 // ROW_ALIGN * ROW_ALIGN


def test_no_resamples_and_one_sample() -> None:
    metric = engine.make_metric("token")
    stats = metric.sample_stats(["a b", "c"], ["a", "c d"])
    other = metric.sample_stats(["a", "d"], ["a", "c d"])
    assert approximate_randomization(metric, stats, other, trials=0) == \
        reference_randomization(metric, stats, other, trials=0, seed=0)
    one = paired_bootstrap(metric, stats[:1], other[:1], b=10)
    assert one["token_f1"]["ci_kind"] == "percentile" and one["token_f1"]["delta"] == pytest.approx(
        metric.aggregate(stats[:1])["token_f1"] - metric.aggregate(other[:1])["token_f1"])
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap(metric, stats, other[:1])
