"""Image backbones built from transformers' ResNet classes (no torchvision).

``resnet101`` is the paper configuration (ImageNet ResNet-101 layout, 2048-d 7x7 map at 224 px);
``resnet50`` for OS-RRG's SBD branch; ``tiny`` is a 4-stage basic-block ResNet for CPU runs. Pretrained
weights load from a local path only: a ``from_pretrained`` directory (e.g. ``microsoft/resnet-101``
copied by hand) or a state-dict file (``.pt``/``.pth``/``.bin``/``.safetensors``) in either the transformers
``ResNetModel`` layout (``embedder.*``, ``encoder.stages.*``, optionally under ``resnet.``) or torchvision's
ImageNet layout (``conv1``, ``bn1``, ``layer1..4``, ``fc``; e.g. ``resnet101-63fe2227.pth``), whose keys
are converted (:func:`torchvision_to_transformers`).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn
from transformers import ResNetConfig, ResNetModel

from rrgbench.api import RRGBenchError

BACKBONE_ASSETS = {"resnet101": "resnet-101", "resnet50": "resnet-50"}  # arch -> asset name
BACKBONE_LAYOUTS = ("a transformers from_pretrained dir there, or a state dict at that path plus .pth/.pt/.bin/"
                    ".safetensors (or <name>-*.pth), in the transformers ResNetModel or torchvision ImageNet layout")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ARCHS: dict[str, dict] = {
    "resnet101": dict(depths=[3, 4, 23, 3], hidden_sizes=[256, 512, 1024, 2048], layer_type="bottleneck",
                      embedding_size=64),
    "resnet50": dict(depths=[3, 4, 6, 3], hidden_sizes=[256, 512, 1024, 2048], layer_type="bottleneck",
                     embedding_size=64),
    "resnet18": dict(depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512], layer_type="basic",
                     embedding_size=64),
    "tiny": dict(depths=[1, 1, 1, 1], hidden_sizes=[16, 32, 64, 128], layer_type="basic", embedding_size=16),
}


def resnet_config(arch: str) -> ResNetConfig:
    if arch not in ARCHS:
        raise RRGBenchError(f"unknown backbone {arch!r}; choose one of {sorted(ARCHS)}")
    return ResNetConfig(num_channels=3, **ARCHS[arch])


class ImageEncoder(nn.Module):
    """ResNet feature map as ``patch_feats [B, HW, C]`` and ``avg_feats [B, C]`` (the BLIP-resnet outputs)."""

    def __init__(self, arch: str = "tiny", pretrained: Path | None = None) -> None:
        super().__init__()
        self.resnet = ResNetModel(resnet_config(arch))
        self.out_dim = self.resnet.config.hidden_sizes[-1]
        if pretrained is not None:
            load_backbone_weights(self.resnet, Path(pretrained))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.resnet(pixel_values=images).last_hidden_state  # [B, C, h, w]
        patches = fmap.flatten(2).transpose(1, 2)
        return patches, patches.mean(1)


_TV_LAYER = re.compile(r"^layer(\d+)\.(\d+)\.(conv|bn)(\d+)\.(.+)$")
_TV_DOWN = re.compile(r"^layer(\d+)\.(\d+)\.downsample\.([01])\.(.+)$")


def torchvision_to_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision ResNet keys to transformers ``ResNetModel`` keys; ``fc.*`` is dropped.

    ``conv1``/``bn1`` → ``embedder.embedder.convolution``/``normalization``; ``layer{s}.{i}.conv{j}`` /
    ``bn{j}`` → ``encoder.stages.{s-1}.layers.{i}.layer.{j-1}.convolution`` / ``normalization``;
    ``layer{s}.{i}.downsample.0`` / ``.1`` → ``...layers.{i}.shortcut.convolution`` / ``normalization``.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("fc."):
            continue
        if key.startswith("conv1."):
            out["embedder.embedder.convolution." + key[len("conv1."):]] = value
        elif key.startswith("bn1."):
            out["embedder.embedder.normalization." + key[len("bn1."):]] = value
        elif m := _TV_LAYER.match(key):
            stage, block, kind, j, rest = m.groups()
            part = "convolution" if kind == "conv" else "normalization"
            out[f"encoder.stages.{int(stage) - 1}.layers.{block}.layer.{int(j) - 1}.{part}.{rest}"] = value
        elif m := _TV_DOWN.match(key):
            stage, block, idx, rest = m.groups()
            part = "convolution" if idx == "0" else "normalization"
            out[f"encoder.stages.{int(stage) - 1}.layers.{block}.shortcut.{part}.{rest}"] = value
        else:
            out[key] = value  # unknown: reported as unexpected below
    return out


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if path.is_dir():
        return ResNetModel.from_pretrained(str(path), local_files_only=True).state_dict()
    if not path.is_file():
        raise RRGBenchError(f"{path}: backbone weights not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint wrapping the weights
    if not isinstance(state, dict):
        raise RRGBenchError(f"{path}: not a state dict ({type(state).__name__}); accepted: {BACKBONE_LAYOUTS}")
    return state


def load_backbone_weights(model: ResNetModel, path: Path) -> None:
    """Load local pretrained weights into ``model``; raise naming the file and the accepted layouts when
    they do not fit (missing ``num_batches_tracked`` buffers, absent from old torchvision files, are fine)."""
    state = _read_state(path)
    state = {k.removeprefix("module.").removeprefix("resnet."): v for k, v in state.items()}
    layout = "transformers"
    if "conv1.weight" in state or any(k.startswith("layer1.") for k in state):
        state, layout = torchvision_to_transformers(state), "torchvision"
    own = model.state_dict()
    shapes = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if shapes:
        k = shapes[0]
        raise RRGBenchError(f"{path}: {layout}-layout backbone weights do not fit this architecture: {len(shapes)} "
                            f"tensors differ in shape (e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing:
        raise RRGBenchError(f"{path}: backbone weights miss {len(missing)} of {len(own)} keys (e.g. {missing[0]}; "
                            f"file read as {layout} layout); accepted: {BACKBONE_LAYOUTS}")
    del unexpected  # classifier heads (fc, ResNetForImageClassification) are fine to ignore
