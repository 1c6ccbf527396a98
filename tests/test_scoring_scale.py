"""Scoring at scale: bootstrap resamples drawn in blocks give the same CIs, per-sample rows go to parquet
above a size threshold and read back the same, pair-local metrics run in chunks with the same result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rrgbench import rundir
from rrgbench.scoring import engine, synthetic
from rrgbench.scoring.resample import (
    batch_scores,
    choose_interval,
    iter_resample_weights,
    jackknife_weights,
    percentile_ci,
    resample_weights,
)

pytestmark = pytest.mark.usefixtures("isolated_cache")


def test_blocked_resamples_equal_the_full_matrix() -> None:
    for n, b, cells in ((7, 1000, 50), (1001, 150, 3000), (5000, 200, 400_000)):
        blocks = list(iter_resample_weights(n, b, 5, max_cells=cells))
        assert len(blocks) > 1
        assert np.array_equal(np.concatenate(blocks), resample_weights(n, b, 5))


def test_bootstrap_ci_unchanged_by_blocking() -> None:
    ids, hyps, refs = synthetic.pairs(300, seed=3)
    res = engine.score(["chexpert_rules", "token"], ids, hyps, refs, bootstrap=200, seed=4, cache=False)
    for name in ("chexpert_rules", "token"):
        metric, stats = engine.sample_stats(name, hyps, refs, cache=False)
        draws = batch_scores(metric, stats, resample_weights(len(stats), 200, 4))  # one matrix, the old way
        est = metric.aggregate(stats)
        jack = batch_scores(metric, stats, jackknife_weights(len(stats)))
        want = {k: choose_interval(v, est[k], lambda k=k, jack=jack: jack[k]) for k, v in draws.items()}
        assert res[name]["ci95"] == {k: ci for k, (ci, _) in want.items()}
        assert res[name]["ci_kind"] == {k: kind for k, (_, kind) in want.items()}
        assert all(res[name]["ci95"][k] == percentile_ci(v) for k, v in draws.items()
                   if res[name]["ci_kind"][k] == "percentile")


def test_chunked_stats_equal_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    ids, hyps, refs = synthetic.pairs(250, seed=1)
    whole = engine.score(["token"], ids, hyps, refs, bootstrap=50, cache=False)["token"]
    monkeypatch.setattr(engine, "STATS_CHUNK", 40)
    calls = []
    metric_cls = type(engine.make_metric("token"))
    original = metric_cls.sample_stats
    monkeypatch.setattr(metric_cls, "sample_stats", lambda self, h, r: calls.append(len(h)) or original(self, h, r))
    chunked = engine.score(["token"], ids, hyps, refs, bootstrap=50, cache=False)["token"]
    assert calls == [40] * 6 + [10]
    assert chunked["scores"] == whole["scores"] and chunked["ci95"] == whole["ci95"]
    assert chunked["per_sample"] == whole["per_sample"]


def test_large_per_sample_rows_are_parquet_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, hyps, refs = synthetic.pairs(60, seed=2)
    results = engine.score(["chexpert_rules", "token"], ids, hyps, refs, bootstrap=20, cache=False)
    scores = tmp_path / "scores"
    rundir.write_scores(results, scores)  # small: JSONL
    assert (scores / "token.samples.jsonl").is_file() and not list(scores.glob("*.parquet"))
    monkeypatch.setattr(rundir, "PARQUET_ROWS", 50)
    rundir.write_scores(results, scores)
    assert sorted(p.name for p in scores.iterdir()) == ["chexpert_rules.json", "chexpert_rules.samples.parquet",
                                                       "token.json", "token.samples.parquet"]
    for name, res in results.items():
        sf = rundir.read_score_file(scores / f"{name}.json")
        assert sf.samples_path is not None and sf.samples_path.suffix == ".parquet"
        rows = rundir.read_sample_rows(sf.samples_path)
        assert json.loads(json.dumps(rows)) == json.loads(json.dumps(res["per_sample"]))  # labels dicts included
        assert sf.sample_rows()[ids[7]] == res["per_sample"][7]
    (scores / "token.samples.parquet").write_bytes(b"not parquet")
    with pytest.raises(Exception, match="token.samples.parquet: not a readable parquet file"):
        rundir.read_sample_rows(scores / "token.samples.parquet")


def test_every_metric_shows_its_bars_on_big_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    bars: list[list] = []

    class Bar:
        def __init__(self, desc: str, total: int, unit: str) -> None:
            self.row = [desc, total, 0, False]
            bars.append(self.row)

        def update(self, n: int = 1) -> None:
            self.row[2] += n

        def close(self) -> None:
            self.row[3] = True

    monkeypatch.setattr(engine, "_progress", Bar)
    monkeypatch.setattr(engine, "PROGRESS_MIN", 50)
    ids, hyps, refs = synthetic.pairs(80, seed=6)
    quiet = engine.score(["chexpert_rules", "token"], ids[:40], hyps[:40], refs[:40], bootstrap=30, cache=False)
    assert bars == [] and quiet["token"]["ci95"]
    res = engine.score(["chexpert_rules", "token"], ids, hyps, refs, bootstrap=30, cache=False)
    got = {desc: (total, done, closed) for desc, total, done, closed in bars}
    assert set(got) == {"score chexpert_rules", "score token", "CI chexpert_rules", "CI token"}
    assert got["score chexpert_rules"] == (80, 80, True) and got["score token"] == (80, 80, True)
    assert all(closed and done >= 30 for _, done, closed in (got["CI chexpert_rules"], got["CI token"]))
    assert res["token"]["ci95"] == engine.score(["token"], ids, hyps, refs, bootstrap=30, cache=False)["token"]["ci95"]
