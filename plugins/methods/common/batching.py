"""Turn samples into normalised image tensors through ``Dataset.load_images``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rrgbench.api import Dataset, RRGBenchError, Sample

from .backbones import IMAGENET_MEAN, IMAGENET_STD


def grey_views(samples: Sequence[Sample], data: Dataset, size: int, view: int = 0) -> np.ndarray:
    """``[B, size, size]`` float32 in [0, 1]: view ``view`` (clamped) of each sample, shape-checked."""
    out = np.empty((len(samples), size, size), dtype=np.float32)
    for i, sample in enumerate(samples):
        views = np.asarray(data.load_images(sample, size), dtype=np.float32)
        if views.ndim != 3 or views.shape[1:] != (size, size) or views.shape[0] == 0:
            raise RRGBenchError(f"sample {sample.id}: load_images returned shape {views.shape}, "
                                f"expected [views, {size}, {size}]")
        out[i] = views[min(view, views.shape[0] - 1)]
    return out


def image_tensor(samples: Sequence[Sample], data: Dataset, size: int, view: int = 0) -> torch.Tensor:
    """``[B, 3, size, size]`` float32, ImageNet-normalised, of view ``view`` (clamped) of each sample.

    The grey image is repeated on the three channels as torchvision's ``Grayscale(3)`` would.
    """
    return normalise_grey(torch.from_numpy(grey_views(samples, data, size, view)))


def normalise_grey(grey: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
                   std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """``[B, S, S]`` grey images -> ``[B, 3, S, S]`` normalised per channel (ImageNet statistics unless given),
    the grey repeated on 3 channels."""
    images = grey.unsqueeze(1).expand(-1, 3, -1, -1)
    return ((images - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)).contiguous()


def batches(n: int, batch_size: int, shuffle: bool, seed: int = 0) -> list[list[int]]:
    """Index batches over ``range(n)``; shuffled deterministically from ``seed`` when asked."""
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    return [order[i:i + batch_size].tolist() for i in range(0, n, batch_size)]
