"""Reproducible seeding for python, numpy and torch."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed every RNG we use; with ``deterministic`` ask torch for deterministic kernels where it can."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False


def generator(seed: int) -> torch.Generator:
    """A CPU torch generator seeded with ``seed`` (for shuffling and sampling that must not touch globals)."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
