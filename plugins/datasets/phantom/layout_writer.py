"""Rendering phantom studies into an R2Gen layout (``annotation.json`` + ``images/<id>/{0,1}.png``).

Images are rendered into a staging folder beside the target (in worker processes for large builds), moved
into place, and ``annotation.json`` and ``prepared.json`` are written last, atomically, so an interrupted
build is never mistaken for a finished one (:func:`rrgbench.data.build.is_prepared`).
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from rrgbench.api import SPLITS
from rrgbench.data.build import png_bytes, replace_dir
from rrgbench.io import atomic_write_json

__all__ = ["write_phantom_layout"]


def _render_chunk(args: tuple[str, list[tuple[str, tuple[str, ...]]], int, int]) -> int:
    from .renderer import render_study, study_seed

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
