"""``temporal``: lexicon matching and F1 against hand-computed values; engine end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rrgbench_plugins.metrics.temporal import lexicon
from rrgbench_plugins.metrics.temporal.metric import TemporalMetric


def test_lexicon_groups_variants_and_respects_word_boundaries() -> None:
    assert lexicon.temporal_terms("Stable cardiomegaly. No change in the effusion since the prior study.") == {
        "unchanged", "comparison"}
    assert lexicon.temporal_terms("Increasing opacity, newly seen; it has increased.") == {"increase", "new"}
    assert lexicon.temporal_terms("The lungs are clear. Renewal of knowledge.") == set()  # no "new" inside words
    assert lexicon.temporal_terms("Effusion has resolved. Interval improvement.") == {"resolve", "interval", "improve"}


def test_scores_match_hand_computed_values() -> None:
    hyps = ["Stable small effusion. New opacity.", "Lungs are clear.", "Heart size is normal.",
            "Effusion has increased."]
    refs = ["Unchanged small effusion.", "Interval resolution of effusion.", "Normal heart.",
            "Effusion has decreased compared to prior."]
    m = TemporalMetric()
    stats = m.sample_stats(hyps, refs)
    # pair 1: H {unchanged, new}, R {unchanged}: P 1/2, R 1, F1 2/3
    # pair 2: H {}, R {interval, resolve}: 0 / 0 / 0
    # pair 3: neither mentions a temporal term: 1 / 1 / 1
    # pair 4: H {increase}, R {decrease, comparison}: 0 / 0 / 0
    rows = m.sample_scores(stats)
    assert [r["temporal_f1"] for r in rows] == pytest.approx([2 / 3, 0, 1, 0])
    agg = m.aggregate(stats)
    assert agg["temporal_f1"] == pytest.approx((2 / 3 + 1) / 4)
    assert agg["temporal_precision"] == pytest.approx(1.5 / 4) and agg["temporal_recall"] == pytest.approx(2 / 4)
    # micro: TP 1, |H| 3, |R| 5 -> 2 / 8
    assert agg["temporal_f1_micro"] == pytest.approx(2 / 8)
    assert agg["temporal_coverage"] == pytest.approx(3 / 4)
    w = np.array([[2, 0, 1, 1], [1, 1, 1, 1]], dtype=float)
    batch = m.batch_aggregate(stats, w)
    expanded = [stats[0], stats[0], stats[2], stats[3]]
    for key, value in m.aggregate(expanded).items():
        assert batch[key][0] == pytest.approx(value), key
    assert f"lexicon:temporal-v{lexicon.VERSION}+" in m.signature()


def test_through_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.scoring.engine import score

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path))
    res = score(["temporal"], ["a", "b"], ["New effusion.", "No change."], ["New effusion.", "Stable."],
                bootstrap=20)["temporal"]
    assert res["status"] == "ok" and res["scores"]["temporal_f1"] == 1.0
    assert res["per_sample"][1]["hyp_terms"] == ["unchanged"]
