"""RadScribe's three image encoders, each giving ``num_image_embeds`` patch features (and maybe a CLS).

* ``vit``: transformers ``ViTModel`` (paper: ``google/vit-base-patch16-224-in21k`` at 512 px with
  interpolated position encodings); a ``Linear(num_patches -> num_image_embeds)`` over the patch axis, as in
  the original ``ImageEncoderViT``. Returns the ViT CLS token too.
* ``resnet101``: transformers ``ResNetModel`` (common toolkit) feature map.
* ``densenet121``: our own DenseNet-121 (:mod:`.densenet`) plus the original's ``1x1 conv -> 2048``.

The original samples 256 random patch positions of the CNN maps, at evaluation too; we pool the map to a
fixed ``sqrt(n) x sqrt(n)`` grid instead so that generation is deterministic (README: substitutions).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rrgbench_plugins.methods.common.backbones import ImageEncoder as ResNetEncoderBase
from torch import nn
from transformers import ViTConfig, ViTModel

from rrgbench.api import RRGBenchError

from .densenet import DenseNet, DenseNetConfig


def _grid(n: int) -> int:
    side = math.isqrt(n)
    if side * side != n:
        raise RRGBenchError(f"num_image_embeds={n} must be a square number for CNN encoders")
    return side


class ViTImageEncoder(nn.Module):
    has_cls = True

    def __init__(self, cfg: dict[str, Any], img_size: int, num_embeds: int, pretrained: Path | None,
                 vit_config: ViTConfig | None = None) -> None:
        super().__init__()
        if vit_config is not None:  # rebuilding a saved model: the architecture of the saved ViT
            self.vit = ViTModel(vit_config, add_pooling_layer=False)
        elif pretrained is not None:
            self.vit = ViTModel.from_pretrained(str(pretrained), add_pooling_layer=False, local_files_only=True)
        else:
            self.vit = ViTModel(ViTConfig(image_size=img_size, **cfg), add_pooling_layer=False)
        patch = self.vit.config.patch_size
        if img_size % patch:
            raise RRGBenchError(f"img_size {img_size} is not a multiple of the ViT patch size {patch}")
        self.num_patches = (img_size // patch) ** 2
        self.linear = nn.Linear(self.num_patches, num_embeds)
        self.out_dim = self.vit.config.hidden_size

    def freeze_lower(self, layers: int) -> None:
        """Freeze the patch embedding and the ``layers`` lowest blocks (an option of the original, off by
        default there and here); ``layers <= 0`` freezes nothing."""
        if layers <= 0:
            return
        for p in self.vit.embeddings.patch_embeddings.parameters():
            p.requires_grad = False
        for block in self.vit.encoder.layer[:layers]:
            for p in block.parameters():
                p.requires_grad = False

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        hidden = self.vit(pixel_values=images, interpolate_pos_encoding=True).last_hidden_state
        patches = self.linear(hidden[:, 1:].transpose(1, 2)).transpose(1, 2)
        return hidden[:, :1], patches


class ResNetImageEncoder(nn.Module):
    has_cls = False

    def __init__(self, arch: str, num_embeds: int, pretrained: Path | None) -> None:
        super().__init__()
        self.backbone = ResNetEncoderBase(arch, pretrained)
        self.side = _grid(num_embeds)
        self.out_dim = self.backbone.out_dim

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        fmap = self.backbone.resnet(pixel_values=images).last_hidden_state
        fmap = F.adaptive_avg_pool2d(fmap, self.side)
        return None, fmap.flatten(2).transpose(1, 2)


class DenseNetImageEncoder(nn.Module):
    has_cls = False

    def __init__(self, cfg: dict[str, Any], num_embeds: int, out_dim: int, pretrained: Path | None) -> None:
        super().__init__()
        dcfg = DenseNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
        self.densenet = DenseNet(dcfg)
        if pretrained is not None:
            load_densenet_weights(self.densenet, pretrained)
        self.proj = nn.Conv2d(self.densenet.out_channels, out_dim, kernel_size=1)
        self.side = _grid(num_embeds)
        self.out_dim = out_dim

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        fmap = self.proj(self.densenet(images))
        fmap = F.adaptive_avg_pool2d(fmap, self.side)
        return None, fmap.flatten(2).transpose(1, 2)


def load_densenet_weights(model: DenseNet, path: Path) -> None:
    """Load a CheXNet/torchvision DenseNet-121 **state dict** (``.pt``/``.pth``/``.safetensors``).

    The original loads a whole pickled model (``weights_only=False``); we accept tensors only.
    """
    path = Path(path)
    if not path.is_file():
        raise RRGBenchError(f"{path}: DenseNet-121 weights not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise RRGBenchError(f"{path}: not a tensor-only state dict ({type(exc).__name__}); save "
                                "model.state_dict() instead of the whole model") from exc
    state = state.get("state_dict", state)
    cleaned = {}
    for key, value in state.items():
        key = key.removeprefix("module.").removeprefix("densenet121.").removeprefix("model.")
        # old torchvision names: norm.1 -> norm1, conv.2 -> conv2
        key = key.replace("norm.1", "norm1").replace("norm.2", "norm2")
        key = key.replace("conv.1", "conv1").replace("conv.2", "conv2")
        if key.startswith("features."):
            cleaned[key] = value
    missing, _ = model.load_state_dict(cleaned, strict=False)
    if missing:
        raise RRGBenchError(f"{path}: DenseNet-121 weights miss {len(missing)} keys (e.g. {missing[0]})")


def build_image_encoder(config: dict[str, Any], pretrained: Path | None,
                        vit_config: ViTConfig | None = None) -> nn.Module:
    """The encoder named by ``config["img_encoder"]`` (``vit_config``: rebuild a saved ViT's shape)."""
    name = config["img_encoder"]
    n = int(config["num_image_embeds"])
    if name == "vit":
        return ViTImageEncoder(config["vit"], int(config["img_size"]), n, pretrained, vit_config)
    if name == "resnet101":
        return ResNetImageEncoder(config.get("resnet_arch", "resnet101"), n, pretrained)
    if name == "densenet121":
        return DenseNetImageEncoder(config["densenet"], n, int(config.get("cnn_feature_dim", 2048)), pretrained)
    raise RRGBenchError(f"unknown img_encoder {name!r}; choose vit, resnet101 or densenet121")
