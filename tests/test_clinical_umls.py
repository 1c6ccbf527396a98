"""UMLS factuality: RadScribe's formula on hand-made CUI sets, the offline lexicon backend, missing linker files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rrgbench_plugins.metrics.umls.concepts import (
    LEXICON,
    LexiconBackend,
    ScispacyBackend,
    pair_stats,
    scores_from_counts,
)


def test_radscribe_formula_by_hand() -> None:
    s1 = pair_stats({"C1", "C2"}, {"C1"})
    s2 = pair_stats(set(), {"C3", "C4"})
    assert (s1["tp"], s1["fp"], s1["fn"]) == (1, 1, 0) and (s2["tp"], s2["fp"], s2["fn"]) == (0, 0, 2)
    pen1, pen2 = math.exp(2 * math.exp(-1 / 50)), math.exp(2 * math.exp(-4 / 50))
    assert s1["pen"] == pytest.approx(pen1) and s2["pen"] == pytest.approx(pen2)
    L = (pen1 + pen2) / 2
    got = scores_from_counts(1, 1, 2, L)
    raw = {"precision": 1 / 2, "recall": 1 / 3, "f1": 0.4, "accuracy": 1 / 4}
    for k, v in raw.items():
        assert got[f"umls_{k}_raw"] == pytest.approx(v)
        assert got[f"umls_{k}"] == pytest.approx(math.tanh(L * v))
    assert got["umls_length_factor"] == pytest.approx(L)
    assert pair_stats({"C1"}, {"C1"})["pen"] == pytest.approx(math.exp(2))  # equal sizes: the largest factor
    assert scores_from_counts(0, 3, 0, 5.0)["umls_f1"] == 0.0  # no reference CUI at all


def test_lexicon_cuis_are_well_formed_and_unique() -> None:
    cuis = [c for c, _, _ in LEXICON]
    assert len(cuis) == len(set(cuis)) and all(c[0] == "C" and len(c) == 8 and c[1:].isdigit() for c in cuis)


@pytest.fixture(scope="module")
def lexicon() -> LexiconBackend:
    return LexiconBackend()


def test_lexicon_matches_lemmas_and_drops_negated_mentions(lexicon: LexiconBackend) -> None:
    texts = ["Small bilateral pleural effusions. No pneumothorax. Calcified granulomas.",
             "Cardiomegaly without pulmonary edema. Possible pneumonia.",
             "The lungs are clear.", ""]
    got = lexicon.concepts(texts)
    assert got[0] == ["C0006663", "C0018188", "C0032227"]  # calcinosis, granuloma, pleural effusion
    assert got[1] == ["C0018800", "C0032285"]  # negated edema dropped, uncertain pneumonia kept
    assert got[2] == [] and got[3] == []


def test_lexicon_keeps_negated_when_asked() -> None:
    assert "C0032326" in LexiconBackend(negation="keep").concepts(["No pneumothorax."])[0]


def test_metric_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path))
    from rrgbench.scoring.engine import score

    res = score(["umls"], ["a", "b"], ["Small left effusion. No pneumothorax.", "Cardiomegaly."],
                ["Left pleural effusion and small pneumothorax.", "Enlarged heart. No edema."], bootstrap=20)["umls"]
    assert res["status"] == "ok" and res["signature"].startswith("backend:lexicon@")
    # pooled: TP 2 (effusion, cardiomegaly), FP 0, FN 1 (pneumothorax)
    assert res["scores"]["umls_precision_raw"] == 1.0
    assert res["scores"]["umls_recall_raw"] == pytest.approx(2 / 3)
    assert res["per_sample"][1]["umls_f1_raw"] == 1.0


def test_scispacy_backend_names_missing_files(tmp_path: Path) -> None:
    assert "linker_dir=" in (ScispacyBackend().availability() or "")
    (tmp_path / "nmslib_index.bin").write_bytes(b"")
    reason = ScispacyBackend(linker_dir=tmp_path).availability() or ""
    assert str(tmp_path / "tfidf_vectorizer.joblib") in reason and "nmslib_index.bin" not in reason


def _scispacy_standin(tmp: Path) -> tuple[Path, Path]:
    """A tiny UMLS KB (the lexicon's concepts) with a real nmslib linker index, plus a spaCy model whose
    entity ruler finds the lexicon phrases: the scispacy backend runs end to end on these files."""
    import json

    import joblib
    import nmslib
    import numpy as np
    import scipy.sparse
    import spacy
    from scispacy.linking_utils import KnowledgeBase
    from sklearn.feature_extraction.text import TfidfVectorizer

    kb = tmp / "umls_2022_ab_cat0129.jsonl"
    kb.write_text("".join(json.dumps({"concept_id": c, "canonical_name": n, "aliases": p, "types": ["T047"],
                                      "definition": ""}) + "\n" for c, n, p in LEXICON))
    (tmp / "umls_semantic_type_tree.tsv").write_text("Entity\tT071\t1\n  Disease or Syndrome\tT047\t2\n")
    aliases = list(KnowledgeBase(str(kb)).alias_to_cuis)
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), min_df=1, dtype=np.float32)
    vectors = vectorizer.fit_transform(aliases)
    joblib.dump(vectorizer, tmp / "tfidf_vectorizer.joblib")
    (tmp / "concept_aliases.json").write_text(json.dumps(aliases))
    scipy.sparse.save_npz(tmp / "tfidf_vectors_sparse.npz", vectors)
    index = nmslib.init(method="hnsw", space="cosinesimil_sparse", data_type=nmslib.DataType.SPARSE_VECTOR)
    index.addDataPointBatch(vectors)
    index.createIndex({"M": 16, "efConstruction": 100, "post": 0}, print_progress=False)
    index.saveIndex(str(tmp / "nmslib_index.bin"))
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{"label": "ENTITY", "pattern": p} for _, _, phrases in LEXICON for p in phrases])
    nlp.to_disk(tmp / "model")
    return tmp / "model", tmp


def test_scispacy_backend_with_a_local_standin_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("scispacy")
    pytest.importorskip("nmslib")
    model, linker_dir = _scispacy_standin(tmp_path)
    backend = ScispacyBackend(model=str(model), linker_dir=linker_dir)
    assert backend.availability() is None
    # RadScribe keeps negated entities: pneumothorax counts
    assert backend.concepts(["Small pleural effusion. No pneumothorax.", "Cardiomegaly."]) == [
        ["C0032227", "C0032326"], ["C0018800"]]
    assert ScispacyBackend(model=str(model), linker_dir=linker_dir, negation="exclude").concepts(
        ["No pneumothorax."]) == [[]]

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    from rrgbench.scoring.engine import score

    opts = {"umls": {"backend": "scispacy", "model": str(model), "linker_dir": str(linker_dir)}}
    res = score(["umls"], ["a"], ["Cardiomegaly."], ["Cardiomegaly. No pneumothorax."], options=opts,
                bootstrap=0)["umls"]
    assert res["status"] == "ok" and res["signature"].startswith("backend:scispacy:model")
    assert res["scores"]["umls_precision_raw"] == 1.0 and res["scores"]["umls_recall_raw"] == 0.5


def test_batch_aggregate_matches_resampled_lists() -> None:
    import numpy as np
    from rrgbench_plugins.metrics.umls.metric import UMLSFactuality

    metric = UMLSFactuality()
    stats = [pair_stats({"C1", "C2"}, {"C1"}), pair_stats(set(), {"C3"}), pair_stats({"C4"}, {"C4", "C5", "C6"})]
    weights = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0], [0.0, 3.0, 0.0]])
    batch = metric.batch_aggregate(stats, weights)
    for b, row in enumerate(weights):
        expanded = [s for s, k in zip(stats, row.astype(int)) for _ in range(k)]
        for key, value in metric.aggregate(expanded).items():
            assert batch[key][b] == pytest.approx(value), key
