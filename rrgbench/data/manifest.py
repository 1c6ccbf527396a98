"""The dataset fingerprint: a sha256 over the annotation content and every image's content.

Flow: each image a split uses is keyed by its path *relative to the dataset root* as the annotation names
it (``images/<image_path>``; never a resolved symlink target or an absolute path), and its content digest
comes from :class:`StatCache`. The fingerprint ``hash`` is sha256 over the annotation's sha256, the sorted
``(relative path, digest)`` pairs and the split ids, so the same data in another folder, or reached through
a symlinked ``images/``, gives the same hash; it goes into each run record.

Modes (dataset option ``fingerprint``, named in the run record when not ``full``):

* ``full`` (default): the sha256 of each whole file; each image is also checked once with Pillow
  (``verify``) and files that do not decode are reported under ``bad`` (path -> reason).
* ``fast``: sha256 of the file size plus three 64 KiB blocks (start, middle, end). For very large image
  sets (MIMIC-CXR: ~570 GB) where reading every byte once takes hours; it catches replaced, truncated or
  re-encoded files but not a change confined to unread bytes. No Pillow check (a file that does not decode
  fails later, naming its sample). Its hash differs from the ``full`` one.

:class:`StatCache` (``<cache_root>/file_hashes.sqlite``) maps (device, inode, size, mtime_ns, mode) to the
digest, so a second call stats the files and reads none of them, and a dataset moved within a filesystem
(a rename keeps inodes and mtimes) is not read again either. Hashing shows a progress bar on a terminal.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..api import RRGBenchError, Sample
from ..io import sha256_file

__all__ = ["FINGERPRINT_MODES", "StatCache", "build_manifest", "check_image", "fast_digest", "fingerprint",
           "image_keys", "stat_cache_path"]

FINGERPRINT_MODES = ("full", "fast")
_BLOCK = 1 << 16
_PROGRESS_AFTER = 200  # files to hash before a progress bar is worth showing


def check_image(path: Path) -> str | None:
    """``None`` when Pillow can read ``path`` as an image, else the reason it cannot."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.verify()
        return None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"not a readable image ({type(exc).__name__}: {exc})"


def fast_digest(path: Path, size: int) -> str:
    """sha256 of ``size`` and the first, middle and last 64 KiB of ``path`` (``fast:`` prefixed)."""
    h = hashlib.sha256(f"size:{size}".encode())
    with open(path, "rb") as fh:
        for offset in sorted({0, max(0, size // 2 - _BLOCK // 2), max(0, size - _BLOCK)}):
            fh.seek(offset)
            h.update(fh.read(_BLOCK))
    return "fast:" + h.hexdigest()


class StatCache:
    """Digests of files keyed by (device, inode, size, mtime_ns, mode) in one SQLite file.

    Unchanged files (same inode, size and mtime) are never read again; a read-only or broken cache file
    only costs speed. Several processes may share it (SQLite locking; writes are short transactions).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pending: list[tuple[Any, ...]] = []
        self._loaded: dict[str, dict[tuple[int, int], tuple[Any, ...]]] = {}
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), timeout=30)
            db.execute("CREATE TABLE IF NOT EXISTS files (dev INTEGER, ino INTEGER, size INTEGER, "
                       "mtime_ns INTEGER, mode TEXT, digest TEXT, problem TEXT, "
                       "PRIMARY KEY (dev, ino, mode))")
            self._db = db
        except (OSError, sqlite3.Error):
            self._db = None

    def _rows(self, mode: str) -> dict[tuple[int, int], tuple[Any, ...]]:
        """All rows of ``mode``, read once (one query beats one per file by far on 10^5 files)."""
        rows = self._loaded.get(mode)
        if rows is None:
            rows = {}
            if self._db is not None:
                try:
                    cur = self._db.execute("SELECT dev, ino, size, mtime_ns, digest, problem FROM files WHERE mode=?",
                                           (mode,))
                    rows = {(r[0], r[1]): r[2:] for r in cur}
                except sqlite3.Error:
                    rows = {}
            self._loaded[mode] = rows
        return rows

    def lookup(self, st: os.stat_result, mode: str) -> tuple[str, str | None] | None:
        """The cached ``(digest, problem)`` of a file with this stat, or ``None``."""
        row = self._rows(mode).get((st.st_dev, st.st_ino))
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2], row[3]
        return None

    def store(self, st: os.stat_result, mode: str, digest: str, problem: str | None) -> None:
        self._pending.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, mode, digest, problem))
        if len(self._pending) >= 2000:
            self.flush()

    def flush(self) -> None:
        if self._db is None or not self._pending:
            self._pending.clear()
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", self._pending)
        except sqlite3.Error:
            pass  # a read-only cache only costs speed
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


def stat_cache_path() -> Path:
    """The shared stat cache file: ``<cache_root>/file_hashes.sqlite``."""
    from ..paths import cache_root

    return cache_root() / "file_hashes.sqlite"


def image_keys(root: Path, sample: Sample) -> list[str]:
    """Each image of ``sample`` keyed by its path relative to ``root``, as the annotation names it.

    Uses ``meta["image_rel"]`` (the annotation's ``image_path``, relative to ``images/``) when present, else
    the un-resolved path relative to ``root``; never a symlink target.
    """
    rel = sample.meta.get("image_rel") if sample.meta else None
    if isinstance(rel, list) and len(rel) == len(sample.image_paths):
        return [_images_key(r) for r in rel]
    return [Path(os.path.relpath(os.path.abspath(p), os.path.abspath(root))).as_posix() for p in sample.image_paths]


def _images_key(rel: str) -> str:
    """``Path("images", rel).as_posix()``, without building a Path for the plain ``a/b.png`` form (the
    fingerprint of 40k images spent a second in pathlib)."""
    if rel and rel[0] != "/" and "//" not in rel and "/./" not in rel and not rel.startswith("./") \
            and not rel.endswith(("/", "/.")) and rel != ".":
        return "images/" + rel
    return Path("images", rel).as_posix()


def _file_digest(path: str, mode: str, cache: StatCache) -> tuple[str, str | None]:
    st = os.stat(path)
    hit = cache.lookup(st, mode)
    if hit is not None:
        return hit
    if mode == "fast":
        digest, problem = fast_digest(path, st.st_size), None
    else:
        digest, problem = sha256_file(path), check_image(path)
    cache.store(st, mode, digest, problem)
    return digest, problem


def _progress(total: int) -> Any:
    from ..terminal import progress

    return progress(total=total, desc="fingerprint", unit="img", leave=False)  # rich: total, ETA; terminals only


def build_manifest(root: Path, splits: dict[str, list[Sample]], cache_path: Path | None = None, *,
                   mode: str = "full") -> dict[str, Any]:
    """Fingerprint the annotation and every image of ``splits`` (see the module docstring).

    Returns ``{"hash", "mode", "annotation_sha256", "images": {relative path: digest}, "n_images",
    "bad": {absolute path: reason}}``.
    """
    if mode not in FINGERPRINT_MODES:
        raise RRGBenchError(f"unknown fingerprint mode '{mode}'; choose one of {', '.join(FINGERPRINT_MODES)}")
    root = Path(root)
    cache = StatCache(cache_path)
    todo: list[tuple[str, str]] = []  # (key, absolute path)
    for samples in splits.values():
        for sample in samples:
            todo.extend(zip(image_keys(root, sample), sample.image_paths, strict=True))
    images: dict[str, str] = {}
    bad: dict[str, str] = {}
    bar = _progress(len(todo)) if len(todo) >= _PROGRESS_AFTER else None
    try:
        for key, p in todo:
            digest, problem = _file_digest(p, mode, cache)
            images[key] = digest
            if problem:
                bad[p] = problem
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
        cache.close()
    ann = sha256_file(root / "annotation.json")
    return {"annotation_sha256": ann, "images": images, "n_images": len(images), "bad": bad, "mode": mode,
            "hash": fingerprint(ann, images.items(), splits, mode)}


def fingerprint(annotation_sha256: str, images: Iterable[tuple[str, str]], splits: dict[str, list[Sample]],
                mode: str = "full") -> str:
    """The dataset hash from its parts (the ``full`` payload is unchanged since rrgbench 0.1)."""
    ids = {split: [s.id for s in samples] for split, samples in splits.items()}
    body: dict[str, Any] = {"annotation": annotation_sha256, "images": sorted(images), "ids": ids}
    if mode != "full":
        body["mode"] = mode
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
