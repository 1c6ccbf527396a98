"""Multi-view image batches with R2Gen's training augmentation (resize, random crop, horizontal flip)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from rrgbench_plugins.methods.common.batching import image_tensor

from rrgbench.api import Dataset, Sample


def study_images(samples: Sequence[Sample], data: Dataset, views: int, size: int, *, train: bool = False,
                 train_resize: int | None = None, hflip: bool = False,
                 gen: torch.Generator | None = None) -> torch.Tensor:
    """``[B, views, 3, size, size]`` ImageNet-normalised; a study with fewer views repeats its last one.

    At test time images are resized to ``size`` (R2Gen: ``Resize((224, 224))``). For training they are
    loaded at ``train_resize`` and randomly cropped to ``size`` and flipped with probability 1/2 when
    ``hflip`` (R2Gen: ``Resize(256) -> RandomCrop(224) -> RandomHorizontalFlip``), drawing from ``gen``.
    """
    load = int(train_resize or size) if train else size
    images = torch.stack([image_tensor(samples, data, load, view=v) for v in range(views)], 1)
    if not train or (load == size and not hflip):
        return images
    gen = gen if gen is not None else torch.Generator().manual_seed(0)
    out = torch.empty(*images.shape[:3], size, size)
    for i in range(images.size(0)):
        top, left = (int(torch.randint(0, load - size + 1, (1,), generator=gen)) for _ in range(2))
        crop = images[i, :, :, top:top + size, left:left + size]
        if hflip and float(torch.rand(1, generator=gen)) < 0.5:
            crop = crop.flip(-1)
        out[i] = crop
    return out


def config_study_images(samples: Sequence[Sample], data: Dataset, cfg: Mapping[str, Any], *, train: bool,
                        gen: torch.Generator | None = None) -> torch.Tensor:
    """:func:`study_images` with ``views``, ``image_size``, ``train_resize``, ``hflip`` from ``cfg``."""
    return study_images(samples, data, int(cfg["views"]), int(cfg["image_size"]), train=train,
                        train_resize=int(cfg["train_resize"]), hflip=bool(cfg["hflip"]), gen=gen)
