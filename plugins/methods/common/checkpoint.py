"""Checkpoints as one file of named state dicts: ``torch.save`` out, ``torch.load(weights_only=True)`` in."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from rrgbench.api import RRGBenchError
from rrgbench.io import atomic_write_bytes


def save_checkpoint(path: Path, states: dict[str, Any]) -> None:
    """Atomically write ``states`` (state dicts, tensors, plain lists/numbers/strings) to ``path``."""
    buf = io.BytesIO()
    torch.save(states, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """Read what :func:`save_checkpoint` wrote; only tensors and plain containers are accepted."""
    path = Path(path)
    if not path.is_file():
        raise RRGBenchError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt / truncated / pickled code
        raise RRGBenchError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc})") from exc
