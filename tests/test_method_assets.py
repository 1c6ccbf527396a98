"""Pretrained assets: torchvision-layout ResNet state dicts, suffixed file names, the spec carrying the
resolved assets' hashes, the dry-run listing and the WARNING per substitute."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from conftest import run_cli
from rrgbench_plugins.methods.common.assets import resolve_asset
from rrgbench_plugins.methods.common.backbones import ARCHS, ImageEncoder, torchvision_to_transformers

from rrgbench.api import RRGBenchError
from rrgbench.runner import Runner, build_spec

torch.set_num_threads(1)


def torchvision_resnet_state(arch: str = "resnet101", seed: int = 0) -> dict[str, torch.Tensor]:
    """A randomly initialised state dict with torchvision's ImageNet ResNet key names and shapes (bottleneck
    blocks, expansion 4, stride on the 3×3, downsample on each stage's first block, fc to 1000 classes,
    no ``num_batches_tracked``: the layout of the old ``resnet101-5d3b4d8f.pth``)."""
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}

    def bn(prefix: str, c: int) -> None:
        out[f"{prefix}.weight"] = torch.rand(c, generator=gen)
        out[f"{prefix}.bias"] = torch.randn(c, generator=gen)
        out[f"{prefix}.running_mean"] = torch.randn(c, generator=gen)
        out[f"{prefix}.running_var"] = torch.rand(c, generator=gen) + 0.5

    def conv(name: str, cout: int, cin: int, k: int) -> None:
        out[name] = torch.randn(cout, cin, k, k, generator=gen) * 0.01

    conv("conv1.weight", 64, 3, 7)
    bn("bn1", 64)
    cin = 64
    for s, (depth, width) in enumerate(zip(ARCHS[arch]["depths"], (64, 128, 256, 512)), start=1):
        for b in range(depth):
            p = f"layer{s}.{b}"
            conv(f"{p}.conv1.weight", width, cin, 1)
            bn(f"{p}.bn1", width)
            conv(f"{p}.conv2.weight", width, width, 3)
            bn(f"{p}.bn2", width)
            conv(f"{p}.conv3.weight", 4 * width, width, 1)
            bn(f"{p}.bn3", 4 * width)
            if b == 0:
                conv(f"{p}.downsample.0.weight", 4 * width, cin, 1)
                bn(f"{p}.downsample.1", 4 * width)
            cin = 4 * width
    out["fc.weight"], out["fc.bias"] = torch.randn(1000, 2048, generator=gen), torch.zeros(1000)
    return out


def test_torchvision_resnet101_loads_with_a_suffixed_name(tmp_path, monkeypatch):
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path))
    state = torchvision_resnet_state("resnet101")
    torch.save(state, tmp_path / "resnet-101-5d3b4d8f.pth")
    path = resolve_asset("resnet-101")
    assert path == tmp_path / "resnet-101-5d3b4d8f.pth"
    enc = ImageEncoder("resnet101", pretrained=path)  # the family's and r2gen's visual extractor
    own = enc.resnet.state_dict()
    assert torch.equal(own["embedder.embedder.convolution.weight"], state["conv1.weight"])
    assert torch.equal(own["encoder.stages.2.layers.22.layer.1.convolution.weight"], state["layer3.22.conv2.weight"])
    assert torch.equal(own["encoder.stages.3.layers.0.shortcut.normalization.running_mean"],
                       state["layer4.0.downsample.1.running_mean"])
    assert len(torchvision_to_transformers(state)) == len(state) - 2  # everything but fc
    patches, avg = enc.eval()(torch.randn(1, 3, 64, 64))
    assert patches.shape == (1, 4, 2048) and torch.isfinite(avg).all()


def test_plain_suffix_and_rejection_names_the_layouts(tmp_path, monkeypatch):
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path))
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "classifier.weight": torch.zeros(2, 2)},
               tmp_path / "resnet-50.pth")
    path = resolve_asset("resnet-50")
    assert path == tmp_path / "resnet-50.pth"
    with pytest.raises(RRGBenchError, match=r"resnet-50\.pth: backbone weights miss .*torchvision layout.*"
                                            r"accepted: .*torchvision ImageNet layout"):
        ImageEncoder("resnet50", pretrained=path)
    torch.save(torchvision_resnet_state("resnet50"), tmp_path / "wrong.pth")
    with pytest.raises(RRGBenchError, match="miss 255 of 624 keys"):
        ImageEncoder("resnet101", pretrained=tmp_path / "wrong.pth")  # ResNet-50 weights for a ResNet-101
    with pytest.raises(RRGBenchError, match="differ in shape"):
        ImageEncoder("resnet18", pretrained=tmp_path / "wrong.pth")  # bottleneck weights for basic blocks


def test_spec_carries_resolved_asset_hashes(tmp_path, monkeypatch):
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path))
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    before = build_spec("revtaf", "iu_xray_phantom", preset="paper")
    assert before.assets == {} and "assets" not in before.to_dict()
    (tmp_path / "resnet-101.pth").write_bytes(b"weights v1")
    added = build_spec("revtaf", "iu_xray_phantom", preset="paper")
    assert set(added.assets) == {"resnet-101"} and added.assets["resnet-101"].startswith("sha256:")
    assert added.spec_hash != before.spec_hash  # adding weights changes the run directory
    (tmp_path / "resnet-101.pth").write_bytes(b"weights v2")
    assert build_spec("revtaf", "iu_xray_phantom", preset="paper").spec_hash != added.spec_hash
    assert build_spec("revtaf", "iu_xray_phantom", preset="tiny").assets == {}  # tiny backbones: no ResNet


def test_dry_run_lists_assets_and_run_warns(tmp_path, monkeypatch, caplog):
    env = {"RRGBENCH_MODELS": str(tmp_path / "models"), "RRGBENCH_CACHE": str(tmp_path / "cache")}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet-50.pth").write_bytes(b"x")
    res = run_cli("run", "--method", "osrrg", "--dataset", "iu_xray_phantom", "--preset", "paper", "--dry-run",
                  env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    rows = {r["name"]: r for r in out["pretrained_assets"]}
    assert set(rows) == {"bert-base-uncased", "resnet-101", "resnet-50"}
    assert rows["resnet-101"]["missing"] and rows["resnet-101"]["put_at"] == str(tmp_path / "models" / "resnet-101")
    assert "resnet-101: MISSING → substitute: randomly initialised resnet101; put it at" in res.stderr
    assert rows["resnet-50"]["path"].endswith("resnet-50.pth") and rows["resnet-50"]["sha256"].startswith("sha256:")
    assert out["spec"]["assets"] == {"resnet-50": rows["resnet-50"]["sha256"]}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = Runner(build_spec("osrrg", "iu_xray_phantom", preset="paper"), tmp_path / "runs")
    with caplog.at_level(logging.WARNING, logger="rrgbench.runner"):
        runner._warn_missing_assets()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and all("MISSING → substitute" in w for w in warned)
