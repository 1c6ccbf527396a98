"""Image backbones built from transformers' ResNet classes (no torchvision).

``resnet101`` is the paper configuration (ImageNet ResNet-101 layout, 2048-d 7x7 map at 224 px);
``resnet50`` for OS-RRG's SBD branch; ``tiny`` is a 4-stage basic-block ResNet for CPU runs. Pretrained
weights load from a local path only: a ``from_pretrained`` directory (e.g. ``microsoft/resnet-101``
copied by hand) or a state-dict file (``.pt``/``.pth``/``.safetensors``) with ResNetModel keys.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import ResNetConfig, ResNetModel

from rrgbench.api import RRGBenchError

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


def load_backbone_weights(model: ResNetModel, path: Path) -> None:
    """Load local pretrained weights into ``model``; raise naming the file when they do not fit."""
    if path.is_dir():
        source = ResNetModel.from_pretrained(str(path), local_files_only=True)
        state = source.state_dict()
    elif path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    elif path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        raise RRGBenchError(f"{path}: backbone weights not found")
    state = {k.removeprefix("resnet."): v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise RRGBenchError(f"{path}: backbone weights miss {len(missing)} keys (e.g. {missing[0]})")
    del unexpected  # classifier heads of ResNetForImageClassification are fine to ignore
