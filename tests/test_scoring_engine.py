"""The scoring engine: results, signatures, cache, bootstrap, paired tests, input checks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from rrgbench.api import Metric, RRGBenchError
from rrgbench.rundir import write_scores
from rrgbench.scoring import engine, resample, synthetic

NO_METEOR = {"nlg": {"meteor": False}}


pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture(scope="module")
def data():
    return synthetic.pairs(60, seed=4)


class LengthRatio(Metric):
    """A tiny corpus metric (sum of hyp words / sum of ref words) without batch_aggregate."""

    name = "length_ratio"

    def signature(self) -> str:
        return "metric:length_ratio"

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        return [{"h": len(h.split()), "r": len(r.split())} for h, r in zip(hyps, refs)]

    def aggregate(self, stats):
        return {"ratio": sum(s["h"] for s in stats) / sum(s["r"] for s in stats)}


def test_score_result_shape_signature_and_ids(data, tmp_path):
    ids, hyps, refs = data
    res = engine.score(["nlg"], ids, hyps, refs, options=NO_METEOR, bootstrap=200, seed=1)["nlg"]
    assert res["status"] == "ok" and res["n"] == 60 and res["bootstrap"] == 200
    assert set(res["scores"]) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider"}
    for key, (lo, hi) in res["ci95"].items():
        assert lo <= res["scores"][key] <= hi
    assert [row["id"] for row in res["per_sample"]] == ids
    assert "protocol:r2gen" in res["signature"] and "r2gen_iu" in res["signature"]
    write_scores({"nlg": res}, tmp_path / "scores")
    summary = json.loads((tmp_path / "scores" / "nlg.json").read_text())
    assert "per_sample" not in summary and summary["scores"] == res["scores"]
    rows = (tmp_path / "scores" / "nlg.samples.jsonl").read_text().splitlines()
    assert json.loads(rows[0])["id"] == ids[0] and len(rows) == 60


def test_cleaning_reaches_the_metric(data):
    ids, hyps, refs = data
    res = engine.score(["nlg"], ids, hyps, refs, options=NO_METEOR, bootstrap=0, cleaning="r2gen_mimic")
    assert "r2gen_mimic" in res["nlg"]["signature"] and res["nlg"]["ci95"] == {}


def test_cache_reuses_statistics_and_results(data, tmp_path):
    ids, hyps, refs = data
    first = engine.score(["nlg"], ids, hyps, refs, options=NO_METEOR, bootstrap=100)["nlg"]
    again = engine.score(["nlg"], ids, hyps, refs, options=NO_METEOR, bootstrap=100)["nlg"]
    assert not first["cached"] and again["cached"]
    assert again["scores"] == first["scores"] and again["ci95"] == first["ci95"]
    assert again["per_sample"] == first["per_sample"]
    other_seed = engine.score(["nlg"], ids, hyps, refs, options=NO_METEOR, bootstrap=100, seed=7)["nlg"]
    assert other_seed["cached"] and other_seed["scores"] == first["scores"]  # stats reused, new CI
    assert list((tmp_path / "cache" / "scores").glob("*/*.stats.jsonl"))
    changed = engine.score(["nlg"], ids, hyps[:-1] + ["different"], refs, options=NO_METEOR, bootstrap=0)["nlg"]
    assert not changed["cached"]


@pytest.mark.parametrize("ids,hyps,refs,match", [
    (["a", "a"], ["x", "y"], ["x", "y"], "duplicated sample ids: a"),
    (["a", "b"], ["x"], ["x", "y"], "differ in length"),
    ([], [], [], "nothing to score"),
    (["a", "b"], ["x", None], ["x", "y"], "hypothesis of sample.* b is not a string"),
])
def test_bad_inputs_are_refused(ids, hyps, refs, match):
    with pytest.raises(RRGBenchError, match=match):
        engine.score(["nlg"], ids, hyps, refs, options=NO_METEOR)


def test_unknown_metric_and_bad_options_are_clear(data):
    ids, hyps, refs = data
    with pytest.raises(RRGBenchError, match="unknown metric 'nlgg'"):
        engine.score(["nlgg"], ids, hyps, refs)
    with pytest.raises(RRGBenchError, match="unknown protocol"):
        engine.score(["nlg"], ids, hyps, refs, options={"nlg": {"protocol": "bpe"}})


def test_unavailable_metric_is_reported_not_scored(data, monkeypatch, tmp_path):
    ids, hyps, refs = data
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    res = engine.score(["nlg"], ids, hyps, refs)["nlg"]
    assert res["status"] == "unavailable" and "java" in res["reason"] and "scores" not in res


def test_fallback_bootstrap_equals_explicit_resamples(data):
    ids, hyps, refs = data
    metric = LengthRatio()
    stats = metric.sample_stats(hyps, refs)
    idx = resample.resample_indices(len(stats), 50, seed=3)
    weights = resample.resample_weights(len(stats), 50, seed=3)
    got = resample.batch_scores(metric, stats, weights)["ratio"]
    want = [metric.aggregate([stats[i] for i in row])["ratio"] for row in idx]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(weights.sum(axis=1) == len(stats))


def test_paired_tests_detect_difference_and_identity(data):
    ids, hyps, refs = data
    metric = engine.make_metric("nlg", {"meteor": False})
    good = metric.sample_stats(refs, refs)
    bad = metric.sample_stats(hyps, refs)
    same = resample.paired_bootstrap(metric, bad, bad, b=200)
    assert same["bleu_4"]["delta"] == 0 and same["bleu_4"]["p_value"] == 1.0
    diff = resample.paired_bootstrap(metric, good, bad, b=200)
    assert diff["bleu_4"]["delta"] > 0 and diff["bleu_4"]["ci95"][0] > 0 and diff["bleu_4"]["p_value"] < 0.01
    ar = resample.approximate_randomization(metric, good, bad, trials=200)
    assert ar["cider"] < 0.01 and resample.approximate_randomization(metric, bad, bad, trials=50)["cider"] == 1.0


class CountingRatio(LengthRatio):
    pairwise = True
    calls: list[int] = []

    def sample_stats(self, hyps, refs):
        self.calls.append(len(hyps))
        return super().sample_stats(hyps, refs)


def test_pairs_are_reused_across_inputs(data, tmp_path):
    from rrgbench.scoring.cache import ScoreCache

    ids, hyps, refs = data
    metric = CountingRatio()
    full = engine.compute_stats("c", metric, ids, hyps, refs, ScoreCache("sig", hyps, refs))
    sub_ids = ids[5:20] + ["new"]
    sub_h, sub_r = hyps[5:20] + ["a new report"], refs[5:20] + ["its reference"]
    sub = engine.compute_stats("c", metric, sub_ids, sub_h, sub_r, ScoreCache("sig", sub_h, sub_r))
    assert CountingRatio.calls == [60, 1] and sub[:15] == full[5:20]
    # a refused sample is named by its id even when earlier pairs came from the cache
    nlg = engine.make_metric("nlg", {"protocol": "raw"})
    engine.compute_stats("nlg", nlg, ids[:2], hyps[:2], refs[:2], ScoreCache(nlg.signature(), hyps[:2], refs[:2]))
    big = ["word " * 3000]
    with pytest.raises(RRGBenchError, match=f"sample '{ids[2]}': the hypothesis has 3,000 tokens"):
        engine.compute_stats("nlg", nlg, ids[:3], hyps[:2] + big, refs[:3],
                             ScoreCache(nlg.signature(), hyps[:2] + big, refs[:3]))


def test_each_metric_is_handed_over_as_it_finishes(data, monkeypatch, tmp_path):
    """``on_result`` sees every metric once (computed, cached or unavailable) with the returned result."""
    monkeypatch.setenv("RRGBENCH_CHEXBERT", str(tmp_path / "absent" / "chexbert.pth"))
    ids, hyps, refs = data
    seen: dict[str, Any] = {}

    def on_result(name: str, result: Any) -> None:
        assert name not in seen
        seen[name] = result

    names = ["nlg", "chexpert_rules", "chexbert"]
    results = engine.score(names, ids, hyps, refs, options=NO_METEOR, bootstrap=20, on_result=on_result)
    assert seen == results and list(results) == names
    assert results["nlg"]["status"] == results["chexpert_rules"]["status"] == "ok"
    assert results["chexbert"]["status"] == "unavailable"  # weights pointed at a missing file
    seen.clear()
    again = engine.score(names[:2], ids, hyps, refs, options=NO_METEOR, bootstrap=20, on_result=on_result)
    assert seen == again and all(r["cached"] for r in again.values())


def test_a_cached_result_keeps_the_metrics_key_order(tmp_path):
    ids, hyps, refs = synthetic.pairs(30, seed=8)
    fresh = engine.score(["token", "chexpert_rules"], ids, hyps, refs, bootstrap=20)
    again = engine.score(["token", "chexpert_rules"], ids, hyps, refs, bootstrap=20)
    for name in fresh:
        assert again[name]["cached"] and not fresh[name]["cached"]
        assert list(again[name]["scores"]) == list(fresh[name]["scores"]) != sorted(fresh[name]["scores"])
        assert again[name]["display"] == fresh[name]["display"]
