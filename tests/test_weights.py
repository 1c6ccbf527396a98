"""Weights in one place: $RRGBENCH_MODELS/<name> for every metric asset, specific variables override,
upstream caches still found; `rrgbench models` lists found/missing with paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from rrgbench.clinical.chexbert import default_checkpoint


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("RRGBENCH_CHEXBERT", "RRGBENCH_RADGRAPH_DIR", "RRGBENCH_RADGRAPH_ENCODER_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


def _radgraph(folder: Path) -> Path:
    (folder / "vocabulary").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "weights.th").write_bytes(b"w")
    return folder


def test_chexbert_lookup_order(roots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = roots / "models" / "chexbert" / "chexbert.pth"
    assert default_checkpoint() == home  # nothing anywhere: where to put it
    legacy = roots / "xdg" / "chexbert" / "chexbert.pth"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"x")
    assert default_checkpoint() == legacy  # f1chexbert's cache still works
    home.parent.mkdir(parents=True)
    home.write_bytes(b"x")
    assert default_checkpoint() == home  # the models root wins
    monkeypatch.setenv("RRGBENCH_CHEXBERT", str(roots / "mine.pth"))
    assert default_checkpoint() == roots / "mine.pth"  # the override wins over everything


def test_radgraph_model_and_encoder(roots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench_plugins.metrics.radgraph.reward import RadGraphAnnotator, default_model_dir

    assert default_model_dir("radgraph-xl") == roots / "models" / "radgraph" / "radgraph-xl"
    home = _radgraph(roots / "models" / "radgraph" / "radgraph-xl")
    encoder = roots / "models" / "radgraph-encoder" / "radgraph-xl"
    encoder.mkdir(parents=True)
    (encoder / "config.json").write_text("{}")
    ann = RadGraphAnnotator("radgraph-xl")
    assert ann.model_dir == home and ann.encoder_dir == encoder
    monkeypatch.setenv("RRGBENCH_RADGRAPH_ENCODER_DIR", str(roots / "enc"))
    assert RadGraphAnnotator("radgraph-xl").encoder_dir == roots / "enc" / "radgraph-xl"
    monkeypatch.setenv("RRGBENCH_RADGRAPH_DIR", str(roots / "rg"))
    assert RadGraphAnnotator("radgraph").model_dir == roots / "rg" / "radgraph"


def test_models_command_lists_found_and_missing(roots: Path) -> None:
    _radgraph(roots / "models" / "radgraph" / "radgraph-xl")
    env = {"RRGBENCH_MODELS": str(roots / "models"), "XDG_CACHE_HOME": str(roots / "xdg")}
    res = run_cli("models", "--json", env=env)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)["assets"]}
    assert rows["radgraph/radgraph-xl"]["status"] == "found"
    assert rows["chexbert/chexbert.pth"] == {**rows["chexbert/chexbert.pth"], "status": "missing",
                                             "path": str(roots / "models" / "chexbert" / "chexbert.pth"),
                                             "override": "RRGBENCH_CHEXBERT"}
    assert rows["tokenizers/t5-base"]["status"] == "missing" and "bertscore/roberta-large" in rows
    assert rows["resnet-101"]["kind"] == "method" and "r2gen (paper)" in rows["resnet-101"]["used_by"]
    text = run_cli("models", "--missing", env=env).stdout
    assert "chexbert/chexbert.pth" in text and "radgraph/radgraph-xl " not in text
