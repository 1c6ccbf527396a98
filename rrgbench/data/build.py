"""Writing an R2Gen layout: the seeded split used when none is given, PNG encoding, build locks.

A build writes images into a staging folder beside the target, moves them into place, and writes
``annotation.json`` and ``prepared.json`` last (atomically), so an interrupted build is never mistaken
for a finished one: :func:`is_prepared` checks ``prepared.json`` against the build parameters.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_json

__all__ = ["build_lock", "is_prepared", "mark_prepared", "png_bytes", "replace_dir", "seeded_split"]


def seeded_split(ids: Sequence[str], seed: int = 0, ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)
                 ) -> dict[str, str]:
    """The documented 7:1:2 split by study: sort the ids, permute them with
    ``numpy.random.default_rng(seed)``, then the first ``round(0.7 n)`` are train, the next
    ``round(0.1 n)`` val and the rest test. Returns ``{id: split}``."""
    order = sorted(ids)
    perm = np.random.default_rng(seed).permutation(len(order))
    n_train = int(round(ratios[0] * len(order)))
    n_val = int(round(ratios[1] * len(order)))
    out = {}
    for rank, idx in enumerate(perm):
        out[order[idx]] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return out


def png_bytes(array: np.ndarray) -> bytes:
    """Encode a ``uint8`` grayscale array as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode="L").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def is_prepared(root: Path, params: dict[str, Any]) -> bool:
    """True when ``root`` holds a finished build made with exactly ``params``."""
    import json

    try:
        done = json.loads((root / "prepared.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return done.get("params") == params and (root / "annotation.json").is_file()


@contextmanager
def build_lock(root: Path, name: str = ".prepare.lock") -> Iterator[None]:
    """An exclusive lock (file ``name`` in ``root``) while ``root`` is built, so concurrent runs build it once."""
    import fcntl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / name, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def mark_prepared(root: Path, params: dict[str, Any], counts: dict[str, int] | None = None) -> None:
    """Record a finished build (written last, atomically)."""
    atomic_write_json(Path(root) / "prepared.json", {"params": params, "counts": counts or {}})


def replace_dir(staging: Path, dest: Path) -> None:
    """Move the finished folder ``staging`` to ``dest``, replacing (then deleting) whatever was there."""
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
