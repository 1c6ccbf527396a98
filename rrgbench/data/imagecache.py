"""Decoded images cached per split and size, so training epochs never decode a PNG again.

One ``<split>-<size>-<manifest12>.npy`` (``uint8 [n, views, size, size]``, memory-mapped when read) and a
``.json`` with the sample ids and view counts, in the dataset's cache directory. The manifest hash in the
name makes a changed image or annotation build a fresh cache. Images are converted to grayscale and
resized (bilinear) to ``size x size``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..api import RRGBenchError, Sample
from ..io import atomic_write_json, create_temp

__all__ = ["ImageCache", "decode_views"]


def decode_views(sample: Sample, size: int) -> np.ndarray:
    """All views of ``sample`` as ``uint8 [views, size, size]``; a bad file raises naming sample and file."""
    from PIL import Image

    out = np.empty((len(sample.image_paths), size, size), dtype=np.uint8)
    for i, path in enumerate(sample.image_paths):
        try:
            with Image.open(path) as im:
                im = im.convert("L")
                if im.size != (size, size):
                    im = im.resize((size, size), Image.BILINEAR)
                out[i] = np.asarray(im, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError) as exc:
            raise RRGBenchError(f"sample {sample.id!r}: cannot decode image {path} ({exc})") from None
    return out


def _atomic_save_npy(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(path)  # umask permissions, as every other file rrgbench writes
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class ImageCache:
    """The cached array of one split at one size; :meth:`get` returns one sample's views."""

    def __init__(self, array: np.ndarray, ids: list[str], views: list[int]) -> None:
        self.array = array
        self.ids = ids
        self.views = views
        self.index = {sid: i for i, sid in enumerate(ids)}

    @classmethod
    def open(cls, cache_dir: Path, split: str, size: int, samples: list[Sample], manifest_hash: str
             ) -> ImageCache:
        """Load the cache for ``split``/``size``, building it first if absent or stale."""
        stem = cache_dir / f"{split}-{size}-{manifest_hash[:12]}"
        npy, meta_path = stem.with_suffix(".npy"), stem.with_suffix(".json")
        ids = [s.id for s in samples]
        if npy.is_file() and meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                if meta.get("ids") == ids:
                    return cls(np.load(npy, mmap_mode="r"), ids, meta["views"])
            except (OSError, ValueError, KeyError):
                pass
        views = [len(s.image_paths) for s in samples]
        arr = np.zeros((len(samples), max(views, default=1), size, size), dtype=np.uint8)
        for i, s in enumerate(samples):
            arr[i, : views[i]] = decode_views(s, size)
        try:
            _atomic_save_npy(npy, arr)
            atomic_write_json(meta_path, {"ids": ids, "views": views, "size": size, "split": split})
            for old in cache_dir.glob(f"{split}-{size}-*.npy"):
                if old != npy:
                    old.unlink(missing_ok=True)
                    old.with_suffix(".json").unlink(missing_ok=True)
        except OSError:
            pass  # a read-only cache directory only costs speed
        return cls(arr, ids, views)

    def get(self, sample_id: str) -> Any:
        """``uint8 [views, size, size]`` of one sample, or ``None`` when it is not in this split."""
        i = self.index.get(sample_id)
        if i is None:
            return None
        return np.asarray(self.array[i, : self.views[i]])
