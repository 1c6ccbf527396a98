"""Bootstrap intervals that hold: each resample re-aggregates exactly as the point estimate; a biased
bootstrap distribution gets BCa (or a bias-shifted interval) and says so in ``ci_kind``; on real IU X-ray
report text every offline metric's interval contains its estimate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from rrgbench_plugins.metrics.token.metric import TokenMetric

from rrgbench.scoring import engine, synthetic
from rrgbench.scoring.resample import (
    bootstrap_intervals,
    choose_interval,
    is_biased,
    paired_bootstrap,
    percentile_ci,
    resample_weights,
)

REPO = Path(__file__).resolve().parent.parent


def test_unbiased_mean_keeps_the_percentile_interval() -> None:
    rng = np.random.default_rng(0)
    draws = rng.normal(0.5, 0.02, 2000)
    ci, kind = choose_interval(draws, float(np.median(draws)), None)
    assert kind == "percentile" and ci == percentile_ci(draws)


def test_biased_draws_get_bca_or_a_bias_shifted_interval_containing_the_estimate() -> None:
    rng = np.random.default_rng(1)
    draws = rng.normal(0.55, 0.02, 1000)  # the whole distribution sits above the estimate
    assert is_biased(draws, 0.5) and not 0.5 >= percentile_ci(draws)[0]
    ci, kind = choose_interval(draws, 0.5, lambda: rng.normal(0.5, 0.001, 50))
    assert kind in ("bca", "bias-shifted") and ci[0] <= 0.5 <= ci[1]
    ci, kind = choose_interval(np.full(100, 0.9), 0.9, None)  # all draws equal: nothing to correct
    assert kind == "percentile" and ci == [0.9, 0.9]


def test_pooled_token_statistics_resample_as_the_estimate_and_the_interval_contains_it() -> None:
    """RadScribe's pooled token sets: a resample holds ~63 % of the distinct reports, so its reference
    vocabulary shrinks and every draw of recall lies above the estimate (the reported bug)."""
    _, _, refs = synthetic.pairs(80, seed=3)
    hyps = [refs[0]] * len(refs)  # a majority-style system
    metric = TokenMetric(tokenizer="whitespace")
    stats = metric.sample_stats(hyps, refs)
    n = len(stats)
    w = np.vstack([np.ones((1, n)), resample_weights(n, 200, 0)])
    batch = metric.batch_aggregate(stats, w)
    est = metric.aggregate(stats)
    assert all(batch[k][0] == pytest.approx(v, abs=1e-12) for k, v in est.items())  # row 0 = the estimate
    assert percentile_ci(batch["token_recall"][1:])[0] > est["token_recall"]  # the old interval excluded it
    ci, kinds = bootstrap_intervals(metric, stats, 200, 0)
    for key, value in est.items():
        assert ci[key][0] <= value <= ci[key][1], (key, value, ci[key], kinds[key])
    assert kinds["token_recall"] in ("bca", "bias-shifted") and kinds["token_precision"] == "percentile"
    deltas = paired_bootstrap(metric, stats, metric.sample_stats(refs[1:] + refs[:1], refs), b=200)
    assert all(d["ci95"][0] <= d["delta"] <= d["ci95"][1] for d in deltas.values())


def test_engine_records_the_interval_kind() -> None:
    ids, hyps, refs = synthetic.pairs(40, seed=5)
    res = engine.score(["token"], ids, hyps, refs, options={"token": {"tokenizer": "whitespace"}},
                       bootstrap=100, cache=False)["token"]
    assert set(res["ci_kind"]) == set(res["scores"]) and set(res["ci_kind"].values()) <= {
        "percentile", "bca", "bias-shifted"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_ci_check", REPO / "benchmarks" / "bench_ci_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_every_offline_metric_interval_contains_its_estimate_on_real_iu_text() -> None:
    """nlg, bertscore, token, chexpert_rules and umls on 120 prepared iu_xray_phantom test studies, two
    systems and their paired delta (benchmarks/bench_ci_check.py prints the same check on all 590)."""
    from rrgbench.api import RRGBenchError
    from rrgbench.plugins import get_host

    ds = get_host().datasets.get("iu_xray_phantom")()
    if not (ds.root() / "annotation.json").is_file():
        pytest.skip(f"iu_xray_phantom is not prepared at {ds.root()} (rrgbench data prepare iu_xray_phantom)")
    bench = _bench()
    try:
        ids, refs, hyps = bench.systems(120)
    except RRGBenchError as exc:
        pytest.skip(f"iu_xray_phantom unreadable here: {exc}")
    rows = bench.check(ids, refs, hyps, bootstrap=200)
    assert {r[1] for r in rows} >= {"nlg", "bertscore", "token", "chexpert_rules", "umls"}
    bad = [r for r in rows if not r[-1]]
    assert not bad, bad[:5]


def test_intervals_do_not_depend_on_the_blas_thread_count() -> None:
    """A 2-thread audit must reproduce the CIs of a 1-thread run bit for bit: a threaded ``W @ stats`` over
    float statistics (UMLS's length factor) sums in another order and moved CI ends by ~1e-15."""
    from threadpoolctl import threadpool_limits

    from rrgbench.plugins import get_host
    from rrgbench.scoring.resample import bootstrap_intervals

    metric = get_host().metrics.get("umls")()
    rng = np.random.default_rng(0)
    stats = [{"tp": int(a), "fp": int(b), "fn": int(c), "pen": float(p)}
             for a, b, c, p in zip(rng.integers(0, 5, 590), rng.integers(0, 5, 590), rng.integers(0, 5, 590),
                                   rng.random(590) * 7)]
    with threadpool_limits(1, "blas"):
        one = bootstrap_intervals(metric, stats, b=1000, seed=0)
    with threadpool_limits(2, "blas"):
        two = bootstrap_intervals(metric, stats, b=1000, seed=0)
    assert one == two
