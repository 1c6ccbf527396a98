"""CE core: every averaging mode and preset against hand-computed values (and sklearn as a cross-check)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rrgbench.api import CHEXPERT_LABELS, RRGBenchError
from rrgbench.clinical.ce import CEConfig, ce_scores, positive_mask

# 4 reports. Report 4's hypothesis says Atelectasis is uncertain (-1).
HYP = [{"Cardiomegaly": 1, "Edema": 1}, {"Pleural Effusion": 0}, {"No Finding": 1},
       {"Pleural Effusion": 1, "Atelectasis": -1}]
REF = [{"Cardiomegaly": 1}, {"Pleural Effusion": 1}, {"No Finding": 1},
       {"Pleural Effusion": 1, "Atelectasis": 1}]


def _scores(**options: object) -> dict[str, float]:
    cfg = CEConfig.from_options(**options)
    hyp = [positive_mask(h, cfg.uncertain) for h in HYP]
    ref = [positive_mask(r, cfg.uncertain) for r in REF]
    return ce_scores(hyp, ref, cfg)


# hand-computed: TP 3 (cardio r1, NF r3, PE r4), FP 1 (edema r1), FN 2 (PE r2, atel r4)
HAND_14_NEG = {
    "ce_precision_micro": 3 / 4, "ce_recall_micro": 3 / 5, "ce_f1_micro": 6 / 9,
    "ce_precision_macro": 3 / 14, "ce_recall_macro": 2.5 / 14, "ce_f1_macro": (1 + 2 / 3 + 1) / 14,
    "ce_precision_weighted": 4 / 5, "ce_recall_weighted": 3 / 5, "ce_f1_weighted": (1 + 2 * 2 / 3 + 1) / 5,
    "ce_precision_example": 2.5 / 4, "ce_recall_example": 2.5 / 4, "ce_f1_example": (2 / 3 + 1 + 2 / 3) / 4,
    "ce_accuracy": 53 / 56, "ce_accuracy_exact": 1 / 4,
}
HAND_5_NEG = {  # No Finding leaves; report 3 has no label at all (example scores 0)
    "ce5_precision_micro": 2 / 3, "ce5_recall_micro": 2 / 4, "ce5_f1_micro": 4 / 7,
    "ce5_precision_macro": 2 / 5, "ce5_recall_macro": 1.5 / 5, "ce5_f1_macro": (1 + 2 / 3) / 5,
    "ce5_precision_example": 1.5 / 4, "ce5_recall_example": 1.5 / 4, "ce5_f1_example": (4 / 3) / 4,
}
HAND_14_POS = {  # uncertain as positive: report 4 becomes exact
    "ce_precision_micro": 4 / 5, "ce_recall_micro": 4 / 5, "ce_f1_micro": 4 / 5,
    "ce_precision_example": 2.5 / 4, "ce_recall_example": 3 / 4, "ce_f1_example": (2 / 3 + 2) / 4,
}


def test_default_preset_every_averaging_mode() -> None:
    got = _scores()
    for key, want in {**HAND_14_NEG, **HAND_5_NEG}.items():
        assert got[key] == pytest.approx(want), key
    assert got["ce_f1/Pleural Effusion"] == pytest.approx(2 / 3)
    assert got["ce_recall/Atelectasis"] == 0.0
    assert {k.split("/")[1] for k in got if k.startswith("ce_f1/")} == set(CHEXPERT_LABELS)


def test_uncertain_as_positive() -> None:
    got = _scores(uncertain="positive")
    for key, want in HAND_14_POS.items():
        assert got[key] == pytest.approx(want), key


def test_r2gen_preset_is_micro_and_macro_on_14() -> None:
    got = _scores(preset="r2gen")
    summary = {k for k in got if "/" not in k}
    assert summary == {f"ce_{s}_{a}" for s in ("precision", "recall", "f1") for a in ("micro", "macro")} | {
        "ce_accuracy", "ce_accuracy_exact"}
    for key in summary:
        assert got[key] == pytest.approx(HAND_14_NEG[key]), key


def test_promptmrg_preset_is_example_based() -> None:
    got = _scores(preset="promptmrg")
    assert got["ce_f1_example"] == pytest.approx(HAND_14_NEG["ce_f1_example"])
    assert "ce_f1_micro" not in got


def test_radeval_preset_counts_uncertain_and_has_5_labels() -> None:
    got = _scores(preset="radeval")
    assert got["ce_f1_micro"] == pytest.approx(4 / 5)
    assert "ce5_f1_weighted" in got and "ce_f1_example" not in got
    # 5 labels, uncertain positive: TP cardio r1, PE r4, atel r4; FP edema; FN PE r2
    assert got["ce5_precision_micro"] == pytest.approx(3 / 4) and got["ce5_recall_micro"] == pytest.approx(3 / 4)


def test_options_override_preset_and_bad_values_fail_clearly() -> None:
    cfg = CEConfig.from_options(preset="r2gen", labels="5", averages="weighted")
    assert cfg.labels == ("5",) and cfg.averages == ("weighted",) and cfg.uncertain == "negative"
    assert "preset:r2gen" in cfg.signature() and "labels:5" in cfg.signature()
    with pytest.raises(RRGBenchError, match="unknown CE preset"):
        CEConfig.from_options(preset="nope")
    with pytest.raises(RRGBenchError, match="uncertain"):
        CEConfig.from_options(uncertain="maybe")
    with pytest.raises(RRGBenchError, match="averages"):
        CEConfig.from_options(averages="median")


def test_agrees_with_sklearn_on_random_labels() -> None:
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(0)
    H = rng.random((60, 14)) < 0.2
    R = rng.random((60, 14)) < 0.25
    to_mask = lambda M: [int(sum(1 << j for j in np.flatnonzero(row))) for row in M]  # noqa: E731
    got = ce_scores(to_mask(H), to_mask(R), CEConfig.from_options(labels="14"))
    for avg, sk in (("micro", "micro"), ("macro", "macro"), ("weighted", "weighted"), ("example", "samples")):
        p, r, f, _ = precision_recall_fscore_support(R, H, average=sk, zero_division=0)
        assert (got[f"ce_precision_{avg}"], got[f"ce_recall_{avg}"], got[f"ce_f1_{avg}"]) == pytest.approx((p, r, f))


def test_metric_end_to_end_through_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.scoring.engine import score

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path))

    hyps = ["No pneumothorax. Mild cardiomegaly.", "Small left effusion.", "No acute disease."]
    refs = ["Cardiomegaly. No effusion.", "Large left effusion and cardiomegaly.", "Normal chest."]
    res = score(["chexpert_rules"], ["a", "b", "c"], hyps, refs, options={"chexpert_rules": {"preset": "r2gen"}},
                bootstrap=50)["chexpert_rules"]
    assert res["status"] == "ok"
    assert res["signature"].startswith("labeler:chexpert_rules@")
    assert "preset:r2gen" in res["signature"] and "uncertain:negative" in res["signature"]
    # TP: cardio a, effusion b, No Finding c; FN: cardio b
    assert res["scores"]["ce_precision_micro"] == 1.0 and res["scores"]["ce_recall_micro"] == pytest.approx(3 / 4)
    assert res["per_sample"][1]["ce_recall"] == pytest.approx(1 / 2)
    assert res["per_sample"][0]["hyp_labels"]["Pneumothorax"] == 0
    assert res["per_sample"][1]["ref_labels"]["Cardiomegaly"] == 1 and len(res["per_sample"][1]["ref_labels"]) == 14
    lo, hi = res["ci95"]["ce_f1_micro"]
    assert 0 <= lo <= res["scores"]["ce_f1_micro"] <= hi <= 1


def test_batch_aggregate_equals_aggregate_on_resampled_lists() -> None:
    from rrgbench_plugins.metrics.chexpert_rules.metric import ChexpertRulesCE

    rng = np.random.default_rng(1)
    metric = ChexpertRulesCE()
    stats = [{"hyp_pos": int(h), "ref_pos": int(r)} for h, r in zip(rng.integers(0, 1 << 14, 30),
                                                                      rng.integers(0, 1 << 14, 30))]
    weights = np.stack([np.bincount(rng.integers(0, 30, 30), minlength=30) for _ in range(4)]).astype(float)
    batch = metric.batch_aggregate(stats, weights)
    for b, row in enumerate(weights):
        expanded = [s for s, k in zip(stats, row.astype(int)) for _ in range(k)]
        for key, value in metric.aggregate(expanded).items():
            assert batch[key][b] == pytest.approx(value), key


# ---- every published protocol by name: hand-computed on the 4-report fixture above ----------------------

def test_ifcc_preset_is_5_label_micro_with_uncertain_positive_and_per_class() -> None:
    got = _scores(preset="ifcc")
    # 5 labels, -1 -> 1: TP cardio r1, PE r4, atel r4; FP edema r1; FN PE r2
    assert (got["ce5_precision_micro"], got["ce5_recall_micro"], got["ce5_f1_micro"]) == pytest.approx((.75, .75, .75))
    assert {k.split("/")[1] for k in got if k.startswith("ce_f1/")} == {
        "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"}
    assert got["ce_f1/Pleural Effusion"] == pytest.approx(2 / 3) and got["ce_f1/Atelectasis"] == 1.0
    assert got["ce_f1/Edema"] == 0.0 and "ce_f1_micro" not in got and "ce5_f1_macro" not in got


def test_wcl_preset_is_macro_over_14_with_uncertain_positive() -> None:
    got = _scores(preset="wcl")
    # per-label F1: cardio 1, NF 1, PE 2/3, atel 1 (uncertain counts), edema 0, 9 others 0
    assert got["ce_f1_macro"] == pytest.approx((3 + 2 / 3) / 14)
    assert got["ce_precision_macro"] == pytest.approx(4 / 14) and got["ce_recall_macro"] == pytest.approx(3.5 / 14)
    assert "ce_f1_micro" not in got


def test_cvt_preset_is_macro_micro_example_with_only_state_1_positive() -> None:
    got = _scores(preset="cvt")
    for avg in ("macro", "micro", "example"):
        for stat in ("precision", "recall", "f1"):
            key = f"ce_{stat}_{avg}"
            assert got[key] == pytest.approx(HAND_14_NEG[key]), key
    assert "ce_f1_weighted" not in got and "ce5_f1_micro" not in got


def test_weighted14_preset_is_support_weighted_over_14() -> None:
    got = _scores(preset="weighted14")
    # support: cardio 1, NF 1, PE 2, atel 1 (5); F1 1, 1, 2/3, 1; recall 1, 1, 1/2, 1; precision all 1
    assert got["ce_f1_weighted"] == pytest.approx(13 / 15)
    assert got["ce_recall_weighted"] == pytest.approx(4 / 5) and got["ce_precision_weighted"] == 1.0
    assert {k for k in got if "/" not in k} == {"ce_precision_weighted", "ce_recall_weighted", "ce_f1_weighted",
                                                "ce_accuracy", "ce_accuracy_exact"}


def test_radeval_per_sample_is_label_accuracy() -> None:
    from rrgbench.clinical.ce import example_scores

    cfg = CEConfig.from_options(preset="radeval")
    rows = [example_scores(positive_mask(h, cfg.uncertain), positive_mask(r, cfg.uncertain), cfg)
            for h, r in zip(HYP, REF)]
    assert [r["ce_accuracy"] for r in rows] == pytest.approx([13 / 14, 13 / 14, 1.0, 1.0])


def test_every_preset_has_a_definition_with_its_source() -> None:
    from rrgbench.clinical.ce import PRESET_INFO, PRESETS

    assert {"r2gen", "ifcc", "wcl", "cvt", "radeval", "weighted14"} <= set(PRESETS) == set(PRESET_INFO)
    for name in PRESETS:
        d = CEConfig.from_options(preset=name).definition()
        assert d["source"] and d["protocol"] and d["labels"] == list(PRESETS[name]["labels"])


def test_cli_metric_opt_selects_a_preset_and_ce_presets_lists_them(tmp_path: Path) -> None:
    import json

    from conftest import run_cli

    preds, refs = tmp_path / "p.jsonl", tmp_path / "r.jsonl"
    preds.write_text('{"id": "a", "report": "Possible small effusion."}\n{"id": "b", "report": "Cardiomegaly."}\n')
    refs.write_text('{"id": "a", "report": "Small effusion."}\n{"id": "b", "report": "No cardiomegaly."}\n')
    env = {"RRGBENCH_CACHE": str(tmp_path / "cache")}
    res = run_cli("score", "-p", str(preds), "-r", str(refs), "-m", "chexpert_rules", "--bootstrap", "0",
                  "--metric-opt", "chexpert_rules.preset=ifcc", "--json", env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert "preset:ifcc" in out["signatures"]["chexpert_rules"] and "uncertain:positive" in out["signatures"]["chexpert_rules"]
    # uncertain effusion counts (TP a), cardiomegaly is a FP on b
    assert out["ce5_precision_micro"] == pytest.approx(0.5) and out["ce5_recall_micro"] == 1.0
    bad = run_cli("score", "-p", str(preds), "-r", str(refs), "-m", "chexpert_rules", "--metric-opt", "nlg.x=1", env=env)
    assert bad.returncode != 0 and "nlg" in bad.stderr and "not among" in bad.stderr
    listing = run_cli("ce-presets", env=env)
    assert listing.returncode == 0
    for name in ("r2gen", "ifcc", "wcl", "cvt", "radeval", "weighted14"):
        assert f"\n{name}\n" in f"\n{listing.stdout}"
