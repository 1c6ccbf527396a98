"""Text handling: line breaks inside sentences, and the input rules of `label` and `score`."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from conftest import run_cli

from rrgbench.clinical import label_reports
from rrgbench.clinical.scope import normalise_whitespace, sentences
from rrgbench.scoring.synthetic import report


def _wrap(text: str, newline: str, seed: int) -> str:
    """``text`` with about half the spaces inside sentences (before a lower-case word) made line breaks."""
    rng = random.Random(seed)
    return re.sub(r" (?=[a-z])", lambda m: newline if rng.random() < 0.5 else " ", text)


@pytest.mark.parametrize("newline", ["\n", "\r\n", " \n  "])
def test_line_breaks_inside_sentences_do_not_change_labels(newline: str) -> None:
    rng = random.Random(3)
    refs = [report(rng) for _ in range(200)] + ["There is no pleural effusion or pneumothorax.",
                                                 "No focal consolidation to suggest pneumonia."]
    wrapped = [_wrap(t, newline, i) for i, t in enumerate(refs)]
    assert sum(a != b for a, b in zip(refs, wrapped)) > 100
    assert label_reports(wrapped, "chexpert_rules") == label_reports(refs, "chexpert_rules")
    states = label_reports(["There is no\r\npleural effusion."], "chexpert_rules")[0]
    assert states["Pleural Effusion"] == 0


def test_section_headers_and_list_items_still_end_sentences() -> None:
    text = "FINDINGS:\nNo pleural effusion.\nIMPRESSION:\nCardiomegaly."
    assert sentences(text) == ["findings", "no pleural effusion", "impression", "cardiomegaly"]
    labels = label_reports(["No pneumothorax\nMild cardiomegaly", "Comparison: none\nEffusion present",
                            "1) no effusion\n2) cardiomegaly", "no pneumothorax\n\nmild cardiomegaly"],
                           "chexpert_rules")
    assert [lab["Cardiomegaly"] for lab in (labels[0], labels[2], labels[3])] == [1, 1, 1]
    assert labels[1]["Pleural Effusion"] == 1
    assert normalise_whitespace("a\t b\r\n c\n\nD") == "a b c\nD"


def test_umls_lexicon_concepts_do_not_depend_on_line_breaks() -> None:
    from rrgbench_plugins.metrics.umls.concepts import LexiconBackend

    backend = LexiconBackend()
    if backend.availability():
        pytest.skip(backend.availability())
    texts = ["There is no pleural effusion. Mild cardiomegaly with pulmonary edema.",
             "Small left pleural effusion and basilar atelectasis."]
    wrapped = [_wrap(t, "\r\n", i) for i, t in enumerate(texts)]
    assert backend.concepts(wrapped) == backend.concepts(texts)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _error(res, needle: str) -> None:
    assert res.returncode == 2 and res.stderr.startswith("error: ") and needle in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_label_input_rules_match_score(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _error(run_cli("label", "--input", str(empty)), "no reports (empty file)")
    mixed = _jsonl(tmp_path / "mixed.jsonl", [{"id": "2", "report": "No effusion."}, {"report": "Cardiomegaly."}])
    _error(run_cli("label", "--input", str(mixed)), "row 2 has no \"id\" while other rows have one")
    dup = _jsonl(tmp_path / "dup.jsonl", [{"id": "a", "report": "x."}, {"id": "a", "report": "y."}])
    _error(run_cli("label", "--input", str(dup)), "duplicated ids: a")
    bare = _jsonl(tmp_path / "bare.jsonl", [{"report": "No effusion."}, {"report": "Cardiomegaly."}])
    res = run_cli("label", "--input", str(bare), "--json")
    assert res.returncode == 0 and [json.loads(ln)["id"] for ln in res.stdout.splitlines()] == ["1", "2"]


def test_score_warns_on_empty_texts_and_strict_refuses(tmp_path: Path) -> None:
    refs = [{"id": f"s{i:02d}", "report": "The heart is normal. No effusion."} for i in range(14)]
    preds = [{"id": r["id"], "report": "" if i < 12 else "Normal heart."} for i, r in enumerate(refs)]
    refs[13]["report"] = "  "
    p, r = _jsonl(tmp_path / "p.jsonl", preds), _jsonl(tmp_path / "r.jsonl", refs)
    res = run_cli("score", "-p", str(p), "-r", str(r), "-m", "token", "--bootstrap", "0")
    assert res.returncode == 0, res.stderr
    assert ("warning: 12 empty prediction(s): s00, s01, s02, s03, s04, s05, s06, s07, s08, s09 (+2 more); "
            "1 empty reference(s): s13") in res.stderr
    strict = run_cli("score", "-p", str(p), "-r", str(r), "-m", "token", "--bootstrap", "0", "--strict")
    _error(strict, "12 empty prediction(s)")
