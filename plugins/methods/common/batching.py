"""Turn samples into normalised image tensors through ``Dataset.load_images``.

Two ways: :func:`image_tensor` / :func:`grey_views` load a batch in the calling process;
:func:`crop_loader` streams planned batches of crops through a ``torch.utils.data.DataLoader`` (worker
processes, prefetch, pinned memory on CUDA) with crops fixed in advance by :func:`crop_offsets`, so the
images a step sees do not depend on the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


# ----------------------------------------------------------------------------------- streaming loader


def crop_offsets(n: int, load_size: int, size: int, train: bool, seed: int = 0) -> list[tuple[int, int]]:
    """``(top, left)`` of each of ``n`` crops: drawn from ``seed`` (top, then left, per item) when
    ``train``, centred otherwise. The same seed gives the same crops whichever process loads the images."""
    gen = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        top = int(gen.integers(0, load_size - size + 1)) if train else (load_size - size) // 2
        left = int(gen.integers(0, load_size - size + 1)) if train else (load_size - size) // 2
        out.append((top, left))
    return out


class StudyCrops(torch.utils.data.Dataset):
    """Map-style dataset over ``samples``: item ``(position, top, left)`` -> float16 ``[size, size]``, the
    crop of view ``view`` (clamped) loaded at ``load_size`` through ``Dataset.load_images`` (for the
    built-in datasets: the memory-mapped on-disk cache, so a worker holds only the studies it reads)."""

    def __init__(self, samples: Sequence[Sample], data: Dataset, load_size: int, size: int, view: int = 0) -> None:
        self.samples, self.data, self.load, self.size, self.view = list(samples), data, load_size, size, view

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, item: tuple[int, int, int]) -> torch.Tensor:
        i, top, left = item
        sample = self.samples[i]
        views = np.asarray(self.data.load_images(sample, self.load), dtype=np.float32)
        if views.ndim != 3 or views.shape[1:] != (self.load, self.load) or views.shape[0] == 0:
            raise RRGBenchError(f"sample {sample.id}: load_images returned shape {views.shape}, "
                                f"expected [views, {self.load}, {self.load}]")
        grey = views[min(self.view, views.shape[0] - 1), top:top + self.size, left:left + self.size]
        return torch.from_numpy(np.ascontiguousarray(grey)).to(torch.float16)


def _one_thread(_worker: int) -> None:
    torch.set_num_threads(1)  # workers decode and copy; the main process computes


def crop_loader(crops: StudyCrops, plan: Sequence[Sequence[tuple[int, int, int]]], *, workers: int = 0,
                pin_memory: bool = False, prefetch: int = 2) -> torch.utils.data.DataLoader:
    """A ``torch.utils.data.DataLoader`` yielding one float16 ``[B, size, size]`` batch per entry of ``plan``
    (lists of ``(position, top, left)``), in order. ``workers`` processes prefetch ``prefetch`` batches
    each, so at most ``workers x prefetch`` batches are in memory besides the one in use; ``pin_memory``
    (for CUDA) copies them to page-locked memory."""
    # a private generator: the loader's base-seed draw must not move the global RNG (dropout in training)
    kwargs: dict[str, Any] = {"num_workers": workers, "pin_memory": pin_memory, "collate_fn": torch.stack,
                              "generator": torch.Generator().manual_seed(0)}
    if workers > 0:
        kwargs.update(prefetch_factor=prefetch, worker_init_fn=_one_thread, persistent_workers=False)
    return torch.utils.data.DataLoader(crops, batch_sampler=[list(b) for b in plan], **kwargs)
