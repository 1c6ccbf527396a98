"""Reproducible seeding for python, numpy and torch."""

from __future__ import annotations

import torch

from rrgbench.seeding import seed_everything as _seed_everything


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """The harness's seeding (python, numpy, torch), with deterministic torch kernels by default."""
    _seed_everything(seed, deterministic=deterministic)


def generator(seed: int) -> torch.Generator:
    """A CPU torch generator seeded with ``seed`` (for shuffling and sampling that must not touch globals)."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
