"""Local torch generators. Global seeding is :func:`rrgbench.seeding.seed_everything` (one function for all)."""

from __future__ import annotations

import torch


def generator(seed: int) -> torch.Generator:
    """A CPU torch generator seeded with ``seed`` (for shuffling and sampling that must not touch globals)."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
