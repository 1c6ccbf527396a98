"""Columnar per-sample statistics give back exactly the dicts they were built from, and the metrics that
read the columns directly (nlg, token) give the same scores, CIs and per-sample rows as from the dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocoevalcap.cider.cider_scorer import CiderScorer
from rrgbench_plugins.metrics.nlg import ngram
from rrgbench_plugins.metrics.nlg.tokenize import tokenize

from rrgbench.scoring import columns, engine, synthetic
from rrgbench.scoring.columns import StatsTable
from rrgbench.scoring.resample import bootstrap_intervals, resample_weights

pytestmark = pytest.mark.usefixtures("isolated_cache")

ROWS = [
    {"i": 1, "f": 0.5, "s": "a b", "iv": [1, 2], "fv": [0.1, -0.0], "lab": [1, None], "toks": ["x", "y"],
     "cnt": {"x": 2, "z": 1}, "o": {"nested": [1]}},
    {"i": -2 ** 62, "f": float("inf"), "s": "", "iv": [0, 0], "fv": [1e-300, 2.0], "lab": [None, -1], "toks": [],
     "cnt": {}, "o": None},
    {"i": 0, "f": 3.0, "s": "é", "iv": [5, 6], "fv": [0.0, 0.0], "lab": [0, 0], "toks": ["y"], "cnt": {"y": 7},
     "o": "text"},
]


def _same(a: object, b: object) -> bool:
    """Equal values of the same JSON types (1 is not 1.0, NaN equals NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and type(a) is type(b)


def test_rows_come_back_with_their_types() -> None:
    table = StatsTable.from_rows(ROWS)
    kinds = {k: table.kind(k) for k in ROWS[0]}
    assert kinds == {"i": "int", "f": "float", "s": "str", "iv": "ivec", "fv": "fvec", "lab": "ivec?",
                     "toks": "strs", "cnt": "counts", "o": "obj"}
    assert len(table) == 3 and list(table) == ROWS and table[-1] == ROWS[2] and table[0:2] == ROWS[:2]
    for got, want in zip(table, ROWS):
        assert list(got) == list(want)  # key order kept
        for k in want:
            assert _same(got[k], want[k]), k
            if isinstance(want[k], list):
                assert all(type(x) is type(y) for x, y in zip(got[k], want[k])), k
    with pytest.raises(IndexError):
        table[3]


def test_chunks_of_different_kinds_concatenate_exactly() -> None:
    chunks = [ROWS[:1], ROWS[1:], [{**ROWS[0], "i": 1.5, "iv": [1], "lab": [3, 4], "cnt": {"q": 1}}]]
    table = StatsTable.concat(StatsTable.from_rows(c) for c in chunks)
    want = [r for c in chunks for r in c]
    assert len(table) == len(want) and all(_same(a, b) for a, b in zip(table, want))
    assert table.kind("i") == "obj" and table.kind("cnt") == "counts" and table.kind("lab") == "ivec?"
    ragged = StatsTable.from_rows([{"a": 1}, {"b": 2}])  # different keys: the dicts are kept
    assert list(ragged) == [{"a": 1}, {"b": 2}] and ragged.kind("a") is None
    assert np.array_equal(columns.array(table, "f"), [r["f"] for r in want])


def test_cider_in_chunks_is_pycocoevalcaps() -> None:
    _, hyps, refs = synthetic.pairs(300, seed=5)
    htok, rtok = tokenize(hyps + [""], "r2gen"), tokenize(refs + ["no acute disease"], "r2gen")
    scorer = CiderScorer(n=4, sigma=6.0)
    for h, r in zip(htok, rtok):
        scorer += (h, [r])
    want = scorer.compute_score()
    got = ngram.cider_d(htok, rtok, chunk=7)
    assert got[0] == want[0] and np.array_equal(got[1], want[1])


@pytest.mark.parametrize("name", ["nlg", "token", "chexpert_rules"])
def test_metrics_on_columns_equal_metrics_on_dicts(name: str) -> None:
    _, hyps, refs = synthetic.pairs(120, seed=9)
    metric, stats = engine.sample_stats(name, hyps, refs, cache=False)
    assert isinstance(stats, StatsTable)
    dicts = [dict(s) for s in stats]
    assert metric.aggregate(stats) == metric.aggregate(dicts)
    assert metric.sample_scores(stats) == metric.sample_scores(dicts)
    w = resample_weights(len(dicts), 30, seed=2)
    a, b = metric.batch_aggregate(stats, w), metric.batch_aggregate(dicts, w)
    assert all(np.array_equal(a[k], b[k]) for k in b)
    assert bootstrap_intervals(metric, stats, 60, 1) == bootstrap_intervals(metric, dicts, 60, 1)
