"""The dataset manifest: sha256 of ``annotation.json`` and of every image a split uses.

Its ``hash`` goes into each run record. Hashes are cached per file keyed by (size, mtime), so only new or
changed files are read again; each image is also checked once with Pillow (``verify``), and files that
do not decode are reported under ``bad`` (path -> reason) for the dataset to raise or skip.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..api import Sample
from ..io import atomic_write_json, sha256_file

__all__ = ["build_manifest", "check_image"]

_CACHE_VERSION = 1


def check_image(path: Path) -> str | None:
    """``None`` when Pillow can read ``path`` as an image, else the reason it cannot."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.verify()
        return None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"not a readable image ({type(exc).__name__}: {exc})"


def _file_facts(path: Path, cache: dict[str, Any]) -> tuple[str, str | None]:
    st = path.stat()
    key = str(path)
    hit = cache.get(key)
    if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2], hit[3]
    digest = sha256_file(path)
    problem = check_image(path)
    cache[key] = [st.st_size, st.st_mtime_ns, digest, problem]
    return digest, problem


def build_manifest(root: Path, splits: dict[str, list[Sample]], cache_dir: Path) -> dict[str, Any]:
    """Hash the annotation and every image of ``splits``; cache per-file facts in ``cache_dir``."""
    root = Path(root)
    facts_path = cache_dir / "file_facts.json"
    try:
        stored = json.loads(facts_path.read_text(encoding="utf-8"))
        cache = stored["files"] if stored.get("version") == _CACHE_VERSION else {}
    except (OSError, ValueError, KeyError, TypeError):
        cache = {}
    before = len(cache)
    changed = False
    images: dict[str, str] = {}
    bad: dict[str, str] = {}
    for samples in splits.values():
        for sample in samples:
            for p in sample.image_paths:
                path = Path(p)
                old = cache.get(str(path))
                digest, problem = _file_facts(path, cache)
                changed |= old is None or old != cache[str(path)]
                images[os.path.relpath(path, root)] = digest
                if problem:
                    bad[p] = problem
    ann = sha256_file(root / "annotation.json")
    ids = {split: [s.id for s in samples] for split, samples in splits.items()}
    payload = json.dumps({"annotation": ann, "images": sorted(images.items()), "ids": ids},
                         sort_keys=True).encode("utf-8")
    if changed or len(cache) != before:
        try:
            atomic_write_json(facts_path, {"version": _CACHE_VERSION, "files": cache})
        except Exception:  # noqa: BLE001 - a read-only cache only costs speed
            pass
    return {"annotation_sha256": ann, "images": images, "n_images": len(images), "bad": bad,
            "hash": hashlib.sha256(payload).hexdigest()}
