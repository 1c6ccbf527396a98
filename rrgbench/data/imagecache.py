"""Decoded, resized images on disk: memory-mapped shards written once per dataset fingerprint × image size.

Layout (``<cache_root>/images/<dataset>-<fingerprint16>-<size>/``)::

    index.json            {"version", "size", "splits": {split: {"ids", "views", "rows_per_shard",
                                                                   "n_shards", "max_views"}}}
    <split>-00000.npy     uint8 [rows, max_views, size, size], one file per shard (the last may be short)

The directory is named by the dataset fingerprint (:mod:`rrgbench.data.manifest`), not by where the data
sits, so a moved dataset keeps its cache and a changed one gets a new cache. Images are converted to
grayscale and resized (bilinear) to ``size x size``.

Flow: a split is built on its first use, shard by shard, under a file lock (concurrent processes build it
once). Each shard is decoded by a thread pool (Pillow releases the GIL while decoding), written to a temp
file, fsync'd and renamed into place, so a shard file exists only when complete. A build killed at any
moment (``kill -9``) keeps its finished shards; the next open removes the stray temp file and continues
at the first missing shard. Decoding is deterministic, so a resumed cache is byte-identical to one built
in one go. Peak memory while building is one shard (``shard_bytes``, 64 MiB by default); reading maps the
shard files, so a reader holds only the pages it touches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..api import RRGBenchError, Sample
from ..io import atomic_write_json, create_temp
from .build import build_lock

__all__ = ["SHARD_BYTES", "ImageCache", "cache_location", "decode_views"]

_VERSION = 2
SHARD_BYTES = 64 << 20


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


def cache_location(dataset: str, fingerprint: str, size: int) -> Path:
    """``<cache_root>/images/<dataset>-<fingerprint16>-<size>``."""
    from ..paths import cache_root

    return cache_root() / "images" / f"{dataset}-{fingerprint[:16]}-{size}"


def _threads() -> int:
    env = os.environ.get("RRGBENCH_DECODE_THREADS")
    return max(1, int(env)) if env else max(1, min(8, os.cpu_count() or 1))


def _write_shard(path: Path, arr: np.ndarray) -> None:
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
    """The cached images of one split at one size; :meth:`get` returns one sample's views."""

    def __init__(self, directory: Path, split: str, meta: dict[str, Any]) -> None:
        self.directory = directory
        self.split = split
        self.ids: list[str] = meta["ids"]
        self.views: list[int] = meta["views"]
        self.rows = int(meta["rows_per_shard"])
        self.index = {sid: i for i, sid in enumerate(self.ids)}
        self._shards: dict[int, np.ndarray] = {}

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def open(cls, directory: Path, split: str, size: int, samples: Sequence[Sample], *,
             shard_bytes: int | None = None, decode: Callable[[Sample, int], np.ndarray] | None = None,
             progress: bool = True) -> ImageCache:
        """The cache of ``split`` in ``directory``, building (or finishing) it first when needed."""
        directory = Path(directory)
        ids = [s.id for s in samples]
        views = [len(s.image_paths) for s in samples]
        max_views = max(views, default=1)
        rows = max(1, (shard_bytes or SHARD_BYTES) // (max_views * size * size))
        meta = {"ids": ids, "views": views, "rows_per_shard": rows, "max_views": max_views,
                "n_shards": (len(ids) + rows - 1) // rows}
        cache = cls(directory, split, meta)
        if cache._complete(meta, size):
            return cache
        try:
            with build_lock(directory, ".build.lock"):
                cache._build(samples, size, meta, decode or decode_views, progress)
        except OSError as exc:
            raise RRGBenchError(f"cannot write the image cache {directory}: {exc.strerror or exc}") from None
        return cache

    def _index_path(self) -> Path:
        return self.directory / "index.json"

    def _read_index(self) -> dict[str, Any]:
        try:
            data = json.loads(self._index_path().read_text(encoding="utf-8"))
            return data if data.get("version") == _VERSION else {}
        except (OSError, ValueError):
            return {}

    def shard_path(self, k: int) -> Path:
        return self.directory / f"{self.split}-{k:05d}.npy"

    def _complete(self, meta: dict[str, Any], size: int) -> bool:
        index = self._read_index()
        return (index.get("size") == size and index.get("splits", {}).get(self.split) == meta
                and all(self.shard_path(k).is_file() for k in range(meta["n_shards"])))

    def _build(self, samples: Sequence[Sample], size: int, meta: dict[str, Any],
               decode: Callable[[Sample, int], np.ndarray], progress: bool) -> None:
        index = self._read_index()
        if index.get("size") != size:
            index = {"version": _VERSION, "size": size, "splits": {}}
        if index["splits"].get(self.split) != meta:  # new or different: start this split afresh
            for old in self.directory.glob(f"{self.split}-*.npy"):
                old.unlink()
            index["splits"][self.split] = meta
            atomic_write_json(self._index_path(), index)
        for stray in self.directory.glob(f".{self.split}-*.tmp"):
            stray.unlink(missing_ok=True)
        todo = [k for k in range(meta["n_shards"]) if not self.shard_path(k).is_file()]
        if not todo:
            return
        from ..terminal import progress as progress_bar

        rows = meta["rows_per_shard"]
        bar = progress_bar(total=len(samples),
                           initial=len(samples) - sum(len(samples[k * rows:(k + 1) * rows]) for k in todo),
                           desc=f"image cache {self.split} {size}px", unit="study", disable=not progress, leave=False)
        with ThreadPoolExecutor(max_workers=_threads()) as pool:
            for k in todo:
                chunk = samples[k * rows:(k + 1) * rows]
                arr = np.zeros((len(chunk), meta["max_views"], size, size), dtype=np.uint8)
                for i, views in enumerate(pool.map(lambda s: decode(s, size), chunk)):
                    arr[i, : views.shape[0]] = views
                _write_shard(self.shard_path(k), arr)
                bar.update(len(chunk))
        bar.close()

    # -- reading ---------------------------------------------------------------------------------
    def _shard(self, k: int) -> np.ndarray:
        arr = self._shards.get(k)
        if arr is None:
            arr = self._shards[k] = np.load(self.shard_path(k), mmap_mode="r")
        return arr

    def __getstate__(self) -> dict[str, Any]:  # worker processes map the shards themselves
        state = dict(self.__dict__)
        state["_shards"] = {}
        return state

    def get(self, sample_id: str) -> Any:
        """``uint8 [views, size, size]`` of one sample, or ``None`` when it is not in this split."""
        i = self.index.get(sample_id)
        if i is None:
            return None
        k, row = divmod(i, self.rows)
        return np.asarray(self._shard(k)[row, : self.views[i]])
