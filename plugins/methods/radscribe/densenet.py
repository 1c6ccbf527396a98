"""DenseNet-121 (Huang et al. 2017) written out in plain torch, because torchvision is not installed.

The layout follows the torchvision/CheXNet module names (``features.denseblock1.denselayer1.conv1`` ...)
so a CheXNet state dict with those keys loads directly. ``DenseNetConfig`` shrinks it for CPU runs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class DenseNetConfig:
    growth_rate: int = 32
    block_config: tuple[int, ...] = (6, 12, 24, 16)  # DenseNet-121
    num_init_features: int = 64
    bn_size: int = 4

    @property
    def out_channels(self) -> int:
        channels = self.num_init_features
        for i, layers in enumerate(self.block_config):
            channels += layers * self.growth_rate
            if i != len(self.block_config) - 1:
                channels //= 2
        return channels


class _DenseLayer(nn.Module):
    def __init__(self, in_ch: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_ch)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_ch, bn_size * growth, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, kernel_size=3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, in_ch: int, growth: int, bn_size: int) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(in_ch + i * growth, growth, bn_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """DenseNet feature extractor: ``forward`` returns the final ReLU'd map ``[B, out_channels, h, w]``."""

    def __init__(self, config: DenseNetConfig | None = None) -> None:
        super().__init__()
        cfg = config or DenseNetConfig()
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv0=nn.Conv2d(3, cfg.num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
            norm0=nn.BatchNorm2d(cfg.num_init_features),
            relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        channels = cfg.num_init_features
        for i, n in enumerate(cfg.block_config):
            layers[f"denseblock{i + 1}"] = _DenseBlock(n, channels, cfg.growth_rate, cfg.bn_size)
            channels += n * cfg.growth_rate
            if i != len(cfg.block_config) - 1:
                layers[f"transition{i + 1}"] = _Transition(channels, channels // 2)
                channels //= 2
        layers["norm5"] = nn.BatchNorm2d(channels)
        self.features = nn.Sequential(layers)
        self.out_channels = channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(x))
