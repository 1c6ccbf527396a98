"""Flags as people expect them: -v/-q anywhere, --device, names matched case- and punctuation-insensitively."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from rrgbench.api import RRGBenchError
from rrgbench.devices import parse_device, run_device
from rrgbench.plugins import get_host
from rrgbench.registry import fold


def test_names_match_case_and_punctuation_insensitively() -> None:
    host = get_host()
    assert fold("OS-RRG") == fold("os_rrg") == "osrrg"
    for spelling in ("OS-RRG", "os_rrg", "OsRrg", "osrrg"):
        assert host.methods.resolve(spelling) == "osrrg"
    assert host.metrics.resolve("CheXpert-Rules") == "chexpert_rules"
    assert host.datasets.resolve("IU-XRay Phantom") == "iu_xray_phantom"
    with pytest.raises(RRGBenchError, match="Did you mean: osrrg"):
        host.methods.resolve("os-rgg")


def test_run_resolves_names_and_accepts_flags_anywhere(runs_dir: Path) -> None:
    res = run_cli("run", "-m", "OS-RRG", "-d", "IU_XRAY_PHANTOM", "--metrics", "NLG,Chexpert-Rules", "--dry-run",
                  "-v", "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["spec"]["method"] == "osrrg" and out["spec"]["dataset"] == "iu_xray_phantom"
    assert out["spec"]["metrics"] == ["nlg", "chexpert_rules"]
    assert run_cli("list", "datasets", "-q").returncode == 0
    assert run_cli("list", "datasets", "--quiet", "--verbose").returncode == 0


def test_device_flag(runs_dir: Path, tmp_path: Path) -> None:
    assert parse_device("CUDA:1") == "cuda:1"
    with pytest.raises(RRGBenchError, match="expected cpu, cuda or cuda:N"):
        parse_device("gpu")
    res = run_cli("run", "-m", "majority", "-d", "synthetic", "--dataset-opt", "n_studies=40", "--metrics",
                  "chexpert_rules", "--bootstrap", "10", "--device", "cpu", "--runs-dir", str(runs_dir), "--json")
    assert res.returncode == 0, res.stderr
    record = json.loads((Path(json.loads(res.stdout)["run_dir"]) / "run.json").read_text())
    assert record["device"] == "cpu"
    bad = run_cli("audit", "--all", "--runs-dir", str(runs_dir), "--device", "tpu")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --device: expected cpu, cuda or cuda:N, got 'tpu'"
    import torch

    if not torch.cuda.is_available():
        pair = tmp_path / "pair.jsonl"
        pair.write_text(json.dumps({"id": "a", "report": "no effusion ."}) + "\n")
        res = run_cli("score", "-p", str(pair), "-r", str(pair), "--metrics", "token", "--device", "cuda:3")
        assert res.returncode == 2 and "torch sees no CUDA device here" in res.stderr


def test_device_reaches_metrics_and_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.scoring.engine import make_metric

    monkeypatch.setenv("RRGBENCH_DEVICE", "cpu")
    assert run_device() == "cpu"
    assert make_metric("radgraph").annotator.device == "cpu"
    assert make_metric("radgraph", {"device": "cuda:1"}).annotator.device == "cuda:1"  # explicit option wins
    monkeypatch.delenv("RRGBENCH_DEVICE")
    assert make_metric("radgraph").annotator.device is None
