"""RadGraph rewards on hand-built graphs; the missing-weights path."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rrgbench.clinical.radgraph_f1 import RadGraphAnnotator, rewards

OP, OA, A = "Observation::definitely present", "Observation::definitely absent", "Anatomy::definitely present"


def _ann(*ents: tuple[str, str, list[list[str]]]) -> dict:
    return {"text": "", "entities": {str(i + 1): {"tokens": t, "label": lab, "relations": rel, "start_ix": i,
                                                  "end_ix": i} for i, (t, lab, rel) in enumerate(ents)}}


HYP = _ann(("Effusion", OP, [["located_at", "2"]]), ("pleural", A, []), ("left", A, []), ("cardiomegaly", OA, []))
REF = _ann(("effusion", OP, [["located_at", "3"]]), ("pleural", A, []), ("left", A, []))


def test_hand_built_graph_rewards() -> None:
    simple, partial, complete = rewards(HYP, REF)
    assert simple == pytest.approx(6 / 7)  # P 3/4, R 3/3
    assert partial == pytest.approx(6 / 7)
    assert complete == pytest.approx(4 / 7)  # relation targets differ: P 2/4, R 2/3


def test_upstream_case_sensitive_mode_matches_the_package() -> None:
    assert rewards(HYP, REF, lowercase=False) == pytest.approx((4 / 7, 4 / 7, 4 / 7))


def test_lowercase_graphs_agree_with_radgraph_package() -> None:
    from rrgbench.clinical.radgraph_f1 import upstream_compute_reward

    compute_reward = upstream_compute_reward()

    rng = random.Random(0)
    words, labels = ["effusion", "left", "lung", "edema", "base", "opacity"], [OP, OA, A]
    for _ in range(50):
        graphs = []
        for _ in range(2):
            n = rng.randint(1, 5)
            ents = [(rng.choice(words), rng.choice(labels),
                     [["located_at", str(rng.randint(1, n))]] if rng.random() < 0.4 else []) for _ in range(n)]
            graphs.append(_ann(*ents))
        assert rewards(*graphs) == pytest.approx(compute_reward(*graphs, "all"))


def test_empty_sides_score_zero() -> None:
    assert rewards(None, REF) == (0.0, 0.0, 0.0)
    assert rewards(HYP, {"text": "", "entities": {}}) == (0.0, 0.0, 0.0)


def test_missing_weights_name_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRGBENCH_RADGRAPH_DIR", str(tmp_path))
    reason = RadGraphAnnotator("radgraph").availability() or ""
    assert str(tmp_path / "radgraph" / "weights.th") in reason and "radgraph.tar.gz" in reason

    from rrgbench.scoring.engine import score

    res = score(["radgraph"], ["a"], ["x"], ["y"], options={"radgraph": {"model_type": "radgraph"}})["radgraph"]
    assert res["status"] == "unavailable" and "scores" not in res
    assert "model:radgraph:missing" in res["signature"]


def test_encoder_must_be_local(tmp_path: Path) -> None:
    import json

    model_dir = tmp_path / "radgraph-xl"
    (model_dir / "vocabulary").mkdir(parents=True)
    (model_dir / "weights.th").write_bytes(b"")
    (model_dir / "config.json").write_text(json.dumps(
        {"dataset_reader": {"token_indexers": {"bert": {"model_name": "nobody/not-a-local-model"}}}}))
    reason = RadGraphAnnotator(model_dir=model_dir).availability() or ""
    assert "encoder 'nobody/not-a-local-model'" in reason and "encoder_dir" in reason
