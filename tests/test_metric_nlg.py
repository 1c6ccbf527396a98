"""The nlg metric equals pycocoevalcap called directly on the same token strings, to the last digit,
for all three tokenization protocols; its resampled aggregates equal pycocoevalcap re-run on the
resampled corpus; bad input is scored or refused clearly and never breaks the METEOR JVM."""

from __future__ import annotations

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge, my_lcs
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from rrgbench_plugins.metrics.nlg import meteor, ngram
from rrgbench_plugins.metrics.nlg.metric import NLG
from rrgbench_plugins.metrics.nlg.tokenize import tokenize

from rrgbench.api import RRGBenchError
from rrgbench.scoring import synthetic
from rrgbench.scoring.resample import resample_indices
from rrgbench.text import clean

ODD = [
    ("", "The heart is normal in size."),
    ("Heart size normal.\nLungs are clear.\n\nNo effusion.", "The heart is normal. The lungs are clear."),
    ("Élève café: naïve opacité — 5 mm nodule, µ ±", "Small nodule in the right upper lobe."),
    ("<p>No <b>acute</b> disease &amp; stable.</p>", "No acute cardiopulmonary disease."),
    ("a ||| b | c", "a b c"),
    ("1. Clear lungs. 2. Normal heart.", "1. The lungs are clear. 2. The heart is normal."),
]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    _, hyps, refs = synthetic.pairs(40, seed=11)
    return hyps + [h for h, _ in ODD], refs + [r for _, r in ODD]


@pytest.fixture(scope="module")
def coco_meteor():
    m = Meteor()
    yield m
    del m


def _coco(htok: list[str], rtok: list[str], coco_meteor) -> dict[str, float]:
    gts = {i: [r] for i, r in enumerate(rtok)}
    res = {i: [h] for i, h in enumerate(htok)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"bleu_{k + 1}": bleu[k] for k in range(4)}
    out["meteor"] = coco_meteor.compute_score(gts, res)[0]
    out["rouge_l"] = Rouge().compute_score(gts, res)[0]
    out["cider"] = Cider().compute_score(gts, res)[0]
    return {k: float(v) for k, v in out.items()}


@pytest.mark.parametrize("protocol", ["r2gen", "ptb", "raw"])
def test_equals_pycocoevalcap_to_the_last_digit(protocol, corpus, coco_meteor):
    hyps, refs = corpus
    metric = NLG(protocol=protocol)
    stats = metric.sample_stats(hyps, refs)
    htok, rtok = [s["hyp"] for s in stats], [s["ref"] for s in stats]
    if protocol == "ptb":  # the token strings are PTBTokenizer's own
        coco = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(hyps + refs)})
        assert htok + rtok == [coco[i][0] for i in range(len(hyps) + len(refs))]
    elif protocol == "r2gen":
        assert htok[40] == " ".join(clean("", "r2gen_iu").split())
        assert rtok == [" ".join(clean(r, "r2gen_iu").split()) for r in refs]
    else:
        assert htok == [" ".join(h.split()) for h in hyps]
    assert metric.aggregate(stats) == _coco(htok, rtok, coco_meteor)  # exact, no tolerance
    per = metric.sample_scores(stats)
    _, rouge_per = Rouge().compute_score({i: [r] for i, r in enumerate(rtok)}, {i: [h] for i, h in enumerate(htok)})
    assert [p["rouge_l"] for p in per] == list(rouge_per)


def test_bootstrap_from_stats_equals_recomputation(corpus, coco_meteor):
    hyps, refs = corpus
    metric = NLG()
    stats = metric.sample_stats(hyps, refs)
    n = len(stats)
    idx = resample_indices(n, 3, seed=5)
    weights = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(float)
    batch = metric.batch_aggregate(stats, weights)
    for b, row in enumerate(idx):
        expected = _coco([stats[i]["hyp"] for i in row], [stats[i]["ref"] for i in row], coco_meteor)
        for key, value in expected.items():
            assert batch[key][b] == pytest.approx(value, rel=1e-12, abs=1e-14), key
    # the identity weighting reproduces the point estimate
    full = metric.batch_aggregate(stats, np.ones((1, n)))
    point = metric.aggregate(stats)
    for key in point:
        assert full[key][0] == pytest.approx(point[key], rel=1e-13)


def test_meteor_python_aggregation_is_the_jars(corpus):
    hyps, refs = corpus
    htok, rtok = tokenize(hyps, "r2gen"), tokenize(refs, "r2gen")
    stats = meteor.segment_stats(htok, rtok)
    corpus_score, segment_scores = meteor.bridge().evaluate(stats)
    assert meteor.corpus_score(stats) == corpus_score
    assert [meteor.score_from_stats(s) for s in stats.tolist()] == segment_scores
    rows = resample_indices(len(stats), 1, seed=1)[0]
    assert meteor.corpus_score(stats[rows]) == meteor.bridge().evaluate(stats[rows])[0]
    # corpus METEOR is not the mean of segment scores
    assert corpus_score != pytest.approx(float(np.mean(segment_scores)), abs=1e-6)


def test_ptb_keeps_one_line_per_report_whatever_the_line_breaks():
    # pycocoevalcap only replaces "\n", so a "\r" shifts every later report onto the wrong line.
    assert tokenize(["Heart.\r\nLungs\u2028clear.", "Normal (stable)."], "ptb") == ["heart lungs clear",
                                                                                    "normal -lrb- stable -rrb-"]


def test_lcs_matches_pycocoevalcap():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = list(rng.choice(list("abcde"), rng.integers(0, 30)))
        b = list(rng.choice(list("abcdf"), rng.integers(0, 30)))
        assert ngram.lcs_length(a, b) == (my_lcs(a, b) if a and b else 0)


def test_bad_input_is_scored_and_the_jvm_survives():
    hyps = [h for h, _ in ODD] + ["x " * 40 + "\n" * 5 + "|||"]
    refs = [r for _, r in ODD] + ["x"]
    metric = NLG(protocol="raw")
    scores = metric.aggregate(metric.sample_stats(hyps, refs))
    assert all(np.isfinite(v) for v in scores.values())
    assert meteor.bridge().alive()
    # the same bridge keeps answering in sync afterwards
    again = meteor.segment_stats(["the heart is normal"], ["the heart is normal"])
    assert meteor.score_from_stats(again[0].tolist()) > 0.9


def test_megabyte_report_is_refused_clearly_or_scored_without_meteor():
    huge = "No acute disease. " * 60_000  # ~1 MB
    metric = NLG(protocol="raw")
    with pytest.raises(RRGBenchError, match="METEOR refuses reports over"):
        metric.sample_stats(["fine", huge], ["fine", "ref"])
    no_meteor = NLG(protocol="raw", meteor=False)
    scores = no_meteor.aggregate(no_meteor.sample_stats([huge, "ok"], ["No acute disease.", "ok"]))
    assert "meteor" not in scores and 0 <= scores["bleu_1"] <= 1
    assert meteor.bridge().alive()


def test_signature_names_protocol_and_versions():
    sig = NLG(protocol="r2gen", cleaning="r2gen_mimic").signature()
    assert "protocol:r2gen" in sig and "r2gen_mimic" in sig and "pycocoevalcap:1.2" in sig
    assert NLG(protocol="ptb").signature() != NLG(protocol="raw").signature()
    with pytest.raises(RRGBenchError, match="unknown protocol"):
        NLG(protocol="bpe")


def test_missing_java_is_a_clear_unavailability(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    reason = NLG().availability()
    assert reason and "java" in reason.lower() and "apt-get install default-jre-headless" in reason
    assert NLG(meteor=False).availability() is None


def test_a_stalled_jvm_is_stopped_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("RRGBENCH_METEOR_TIMEOUT", "1")
    stalled = meteor.MeteorBridge()  # its first answer needs the paraphrase table: > 1 s
    with pytest.raises(RRGBenchError, match="no answer for 1 s"):
        stalled.segment_stats(["a"], ["a"])
    assert not stalled.alive()
    stalled.close()
