"""Writing an R2Gen layout: rendered phantom studies, and the seeded split used when none is given.

A build writes images into a staging folder beside the target, moves them into place, and writes
``annotation.json`` and ``prepared.json`` last (atomically), so an interrupted build is never mistaken
for a finished one: :func:`is_prepared` checks ``prepared.json`` against the build parameters.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..api import SPLITS
from ..io import atomic_write_json

__all__ = ["build_lock", "is_prepared", "mark_prepared", "png_bytes", "replace_dir", "seeded_split", "write_phantom_layout"]


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
def build_lock(root: Path) -> Iterator[None]:
    """An exclusive lock on ``root`` while it is built, so concurrent runs build it once."""
    import fcntl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".prepare.lock", "a+") as fh:
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


def _render_chunk(args: tuple[str, list[tuple[str, tuple[str, ...]]], int, int]) -> int:
    from .phantom import render_study, study_seed

    staging, items, seed, size = args
    for sid, mesh in items:
        views, _ = render_study(mesh, study_seed(sid, seed), size)
        folder = Path(staging) / sid
        folder.mkdir(parents=True, exist_ok=True)
        for i, view in enumerate(views):
            (folder / f"{i}.png").write_bytes(png_bytes(view))
    return len(items)


def _workers() -> int:
    env = os.environ.get("RRGBENCH_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(2, os.cpu_count() or 1))


def write_phantom_layout(root: Path, studies: list[dict[str, Any]], params: dict[str, Any], seed: int,
                         size: int = 256, workers: int | None = None, log: Any = None) -> None:
    """Render every study's two views and write the R2Gen layout under ``root``.

    ``studies`` are annotation entries with at least ``id``, ``split``, ``findings`` and ``mesh``;
    ``report`` (= findings) and ``image_path`` are filled in here.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".images.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    t0 = time.time()
    items = [(s["id"], tuple(s.get("mesh") or ("normal",))) for s in studies]
    n = workers or _workers()
    chunks = [items[i::max(1, n * 8)] for i in range(max(1, n * 8))]
    jobs = [(str(staging), c, seed, size) for c in chunks if c]
    if n == 1 or len(items) < 64:
        for job in jobs:
            _render_chunk(job)
    else:
        with ProcessPoolExecutor(max_workers=n) as pool:
            list(pool.map(_render_chunk, jobs))
    replace_dir(staging, root / "images")
    ann: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for s in studies:
        entry = dict(s)
        entry.setdefault("report", entry.get("findings", ""))
        entry["image_path"] = [f"{s['id']}/0.png", f"{s['id']}/1.png"]
        ann[s["split"]].append(entry)
    atomic_write_json(root / "annotation.json", ann)
    atomic_write_json(root / "prepared.json", {"params": params, "seconds": round(time.time() - t0, 2),
                                               "counts": {k: len(v) for k, v in ann.items()}})
    if log:
        log(f"rendered {len(items)} studies x 2 views in {time.time() - t0:.1f}s -> {root}")
