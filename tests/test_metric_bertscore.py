"""BERTScore: the offline MiniLM default equals bert-score called directly (within its declared float
tolerance); each text is embedded alone, so scores do not depend on batch neighbours and cached
re-scoring is bit-identical; standard settings load from a local directory (tested with a tiny random
model built here) or report the exact missing path."""

from __future__ import annotations

import numpy as np
import pytest
from rrgbench_plugins.metrics.bertscore.metric import BERTScore
from rrgbench_plugins.metrics.bertscore.settings import baseline_file, minilm_dir

from rrgbench.scoring.resample import resample_indices, resample_weights

HYPS = ["The heart is normal in size. The lungs are clear.", "", "<b>Small</b> left effusion &amp; café"]
REFS = ["Heart size normal. Lungs clear.", "No acute disease.", "Small left pleural effusion."]


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty HF cache: nothing found there
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))


def test_minilm_default_equals_bert_score_directly():
    import bert_score

    metric = BERTScore()
    assert metric.availability() is None
    sig = metric.signature()
    assert "all-MiniLM-L6-v2" in sig and "layer:6" in sig and "not-with-roberta-large" in sig
    stats = metric.sample_stats(HYPS, REFS)
    p, r, f = bert_score.score(HYPS, REFS, model_type=str(minilm_dir()), num_layers=6)
    tol = BERTScore.reproducibility_tolerance()
    assert BERTScore.reproducibility == "float" and tol == 1e-6
    assert [s["f"] for s in stats] == pytest.approx(f.tolist(), abs=tol)
    assert [s["p"] for s in stats] == pytest.approx(p.tolist(), abs=tol)
    assert stats[1] == {"p": 0.0, "r": 0.0, "f": 0.0}  # empty hypothesis: bert-score's own rule
    scores = metric.aggregate(stats)
    assert scores["bertscore_f1"] == pytest.approx(float(np.mean(f.tolist())), abs=tol)
    rows = resample_indices(3, 4, seed=2)
    batch = metric.batch_aggregate(stats, resample_weights(3, 4, seed=2))
    for b, row in enumerate(rows):
        assert batch["bertscore_f1"][b] == pytest.approx(np.mean([stats[i]["f"] for i in row]), abs=1e-12)


def test_standard_setting_reports_the_exact_missing_path(tmp_path):
    reason = BERTScore(setting="rexrank").availability()
    expected = tmp_path / "models" / "bertscore" / "distilroberta-base" / "config.json"
    assert reason is not None and str(expected) in reason and "never downloads" in reason


def _tiny_distilbert(path):
    """A randomly initialised 6-layer DistilBERT with the MiniLM (bert-base-uncased) vocabulary."""
    from transformers import BertTokenizer, DistilBertConfig, DistilBertModel

    tok = BertTokenizer(str(minilm_dir() / "vocab.txt"))
    config = DistilBertConfig(vocab_size=tok.vocab_size, dim=32, hidden_dim=64, n_layers=6, n_heads=2)
    DistilBertModel(config).save_pretrained(path)
    tok.save_pretrained(path)


def test_radeval_setting_loads_a_local_directory_and_rescales(tmp_path):
    import bert_score

    local = tmp_path / "models" / "bertscore" / "distilbert-base-uncased"
    _tiny_distilbert(local)
    metric = BERTScore(setting="radeval")
    assert metric.availability() is None and "rescaled:yes" in metric.signature()
    stats = metric.sample_stats(HYPS[:1] + HYPS[2:], REFS[:1] + REFS[2:])
    raw = bert_score.score(HYPS[:1] + HYPS[2:], REFS[:1] + REFS[2:], model_type=str(local), num_layers=5)[2]
    base = bert_score.score(HYPS[:1] + HYPS[2:], REFS[:1] + REFS[2:], model_type=str(local), num_layers=5,
                            lang="en", rescale_with_baseline=True,
                            baseline_path=str(baseline_file("distilbert-base-uncased")))[2]
    assert [s["f"] for s in stats] == pytest.approx(base.tolist(), abs=1e-6) and base.tolist() != raw.tolist()


def test_scores_do_not_depend_on_batch_neighbours_and_rescoring_is_bit_identical(tmp_path):
    from rrgbench_plugins.metrics.bertscore import metric as metric_mod

    metric = BERTScore()
    together = metric.sample_stats(HYPS, REFS)
    alone = [metric.sample_stats([h], [r])[0] for h, r in zip(HYPS, REFS)]
    assert together == alone  # bit-identical, whatever else is scored beside a pair
    files = sorted((tmp_path / "cache" / "bertscore").rglob("*.npz"))
    assert len(files) == len(set(HYPS + REFS))  # each unique text embedded once, cached on disk
    metric_mod._STORES.clear()  # a fresh process: embeddings come from disk
    assert BERTScore().sample_stats(HYPS, REFS) == together
    fresh = BERTScore()
    fresh.disk_cache = False  # cache-free recompute (as the audit does) gives the same bits here
    assert fresh.sample_stats(HYPS, REFS) == together


def test_unknown_setting_is_refused():
    from rrgbench.api import RRGBenchError

    with pytest.raises(RRGBenchError, match="unknown setting"):
        BERTScore(setting="biobert")
