"""The R2Gen data layout: ``<root>/annotation.json`` plus ``<root>/images/<image_path>``.

``annotation.json`` is ``{"train": [...], "val": [...], "test": [...]}``; each entry has ``id``,
``report`` (the findings section in R2Gen), ``image_path`` (a list, relative to ``images/``) and ``split``.
Entries written by rrgbench may also carry ``findings``, ``impression`` and ``mesh`` (Open-i MeSH tags).

:func:`load_annotation` validates everything a run depends on and raises one :class:`RRGBenchError` per
problem, naming the sample and file: malformed JSON, non-UTF-8 text, a missing split, an entry without
``id``/``report``/``image_path``, an empty report, a duplicate id, an ``image_path`` that escapes the
root (``../`` or absolute), a missing image file. Corrupt images are caught by the manifest
(:mod:`rrgbench.data.manifest`) and by the image cache. With ``skip_bad=True`` bad samples are dropped and
listed in ``skipped`` instead.

:class:`LayoutDataset` is the :class:`rrgbench.api.Dataset` base class every built-in dataset uses.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from ..api import SPLITS, Dataset, RRGBenchError, Sample

__all__ = ["SECTIONS", "LayoutDataset", "Problem", "load_annotation", "section_text"]

SECTIONS = ("findings", "impression", "findings_impression")


class Problem(RRGBenchError):
    """A bad sample; ``--skip-bad`` turns it into a ``skipped`` entry."""


def section_text(entry: dict[str, Any], section: str) -> str:
    """The report text of ``section`` for one annotation entry (R2Gen ``report`` is the findings)."""
    findings = entry.get("findings", entry.get("report", ""))
    impression = entry.get("impression", "")
    if section == "findings":
        return findings or ""
    if section == "impression":
        return impression or ""
    if section == "findings_impression":
        return " ".join(t.strip() for t in (findings or "", impression or "") if t and t.strip())
    raise RRGBenchError(f"unknown report section '{section}'; choose one of {', '.join(SECTIONS)}")


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RRGBenchError(f"{path}: file not found") from None
    except OSError as exc:
        raise RRGBenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    # surrogateescape keeps undecodable bytes as lone surrogates, so we can name the sample that has them
    text = raw.decode("utf-8", errors="surrogateescape")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RRGBenchError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def _has_bad_text(value: Any) -> bool:
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(_has_bad_text(v) for v in value)
    if isinstance(value, dict):
        return any(_has_bad_text(k) or _has_bad_text(v) for k, v in value.items())
    return False


class _Resolver:
    """``Path.resolve()`` of image paths under one ``images/`` folder, with one ``lstat`` per new path
    component instead of a full ``realpath`` walk per file (40k files: seconds, not a minute).

    Real paths of directories are cached; a component that is a symbolic link is resolved with
    ``os.path.realpath``. ``.``/``..`` components take the plain ``Path.resolve`` route.
    """

    def __init__(self, images_dir: Path) -> None:
        self.images_dir = images_dir
        self.base = str(images_dir.resolve())
        self._real: dict[str, str] = {"": self.base}

    def _real_dir(self, rel_dir: str) -> str:
        hit = self._real.get(rel_dir)
        if hit is not None:
            return hit
        parent, _, name = rel_dir.rpartition("/")
        candidate = os.path.join(self._real_dir(parent), name)
        real = os.path.realpath(candidate) if os.path.islink(candidate) else candidate
        self._real[rel_dir] = real
        return real

    def resolve(self, rel: str) -> tuple[str, bool]:
        """``(resolved absolute path, is a regular file or a link to one)``."""
        parts = rel.replace("\\", "/").split("/")
        if any(p in (".", "..") for p in parts) or "" in parts[:-1]:
            path = (self.images_dir / rel).resolve()
            return str(path), path.is_file()
        candidate = os.path.join(self._real_dir("/".join(parts[:-1])), parts[-1])
        try:
            st = os.lstat(candidate)
        except OSError:
            return candidate, False
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(candidate)
            return real, os.path.isfile(real)
        return candidate, stat.S_ISREG(st.st_mode)


def _resolve_image(resolver: _Resolver, rel: Any, where: str) -> str:
    images_dir = resolver.images_dir
    if not isinstance(rel, str) or not rel.strip():
        raise Problem(f"{where}: image_path entries must be non-empty strings, got {rel!r}")
    if os.path.isabs(rel) or rel.startswith(("/", "\\")):
        raise Problem(f"{where}: image_path '{rel}' is absolute; paths must be relative to {images_dir}")
    path, is_file = resolver.resolve(rel)
    if path != resolver.base and not path.startswith(resolver.base.rstrip(os.sep) + os.sep):
        raise Problem(f"{where}: image_path '{rel}' escapes the data root {images_dir}")
    if not is_file:
        raise Problem(f"{where}: image file {path} not found")
    return path


def load_annotation(root: Path, section: str = "findings", skip_bad: bool = False,
                    annotation: str = "annotation.json", images: str = "images",
                    check_files: bool = True) -> tuple[dict[str, list[Sample]], list[str]]:
    """Read and validate ``root/annotation.json``; return ``({split: samples}, skipped)``."""
    root = Path(root)
    ann_path = root / annotation
    images_dir = root / images
    if section not in SECTIONS:
        raise RRGBenchError(f"unknown report section '{section}'; choose one of {', '.join(SECTIONS)}")
    data = _read_json(ann_path)
    if not isinstance(data, dict):
        raise RRGBenchError(f"{ann_path}: expected an object with keys train/val/test, got {type(data).__name__}")
    missing = [s for s in SPLITS if s not in data]
    if missing:
        found = ", ".join(repr(k) for k in data) or "none"
        raise RRGBenchError(f"{ann_path}: missing split(s) {', '.join(missing)} (keys found: {found})")
    out: dict[str, list[Sample]] = {}
    skipped: list[str] = []
    seen: dict[str, str] = {}
    resolver = _Resolver(images_dir)
    for split in SPLITS:
        entries = data[split]
        if not isinstance(entries, list):
            raise RRGBenchError(f"{ann_path}: '{split}' must be a list of entries, got {type(entries).__name__}")
        samples: list[Sample] = []
        for i, entry in enumerate(entries):
            sid = entry.get("id") if isinstance(entry, dict) else None
            where = f"{ann_path}: {split}[{i}]" + (f" (id {sid!r})" if isinstance(sid, str) else "")
            try:
                samples.append(_entry_sample(entry, split, where, resolver, section, seen, check_files))
            except Problem as exc:
                if not skip_bad:
                    raise RRGBenchError(str(exc)) from None
                skipped.append(str(exc))
        out[split] = samples
    return out, skipped


def _entry_sample(entry: Any, split: str, where: str, resolver: _Resolver, section: str,
                  seen: dict[str, str], check_files: bool) -> Sample:
    if not isinstance(entry, dict):
        raise Problem(f"{where}: entry must be an object, got {type(entry).__name__}")
    if _has_bad_text(entry):
        raise Problem(f"{where}: text is not valid UTF-8")
    sid = entry.get("id")
    if not isinstance(sid, str) or not sid.strip():
        raise Problem(f"{where}: missing or empty 'id'")
    if sid in seen:
        raise Problem(f"{where}: duplicate id {sid!r} (first seen in {seen[sid]})")
    for key in ("report", "findings", "impression"):
        if key in entry and entry[key] is not None and not isinstance(entry[key], str):
            raise Problem(f"{where}: '{key}' must be a string")
    if "report" not in entry and "findings" not in entry:
        raise Problem(f"{where}: missing 'report'")
    report = section_text(entry, section)
    if not report.strip():
        others = [s for s in SECTIONS if s != section]
        raise Problem(f"{where}: empty {section} report (leave such samples out with --skip-bad, or choose "
                      f"--section {' / '.join(others)})")
    paths = entry.get("image_path")
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths:
        raise Problem(f"{where}: 'image_path' must be a non-empty list")
    if check_files:
        resolved = tuple(_resolve_image(resolver, p, where) for p in paths)
    else:
        resolved = tuple(str((resolver.images_dir / p).resolve()) for p in paths)
    meta: dict[str, Any] = {"findings": entry.get("findings", entry.get("report")),
                            "image_rel": list(paths)}
    for key in ("impression", "mesh", "mesh_auto", "study_id", "subject_id", "view", "labels", "labels_negbio",
                "uid"):
        if key in entry:
            meta[key] = entry[key]
    seen[sid] = split
    return Sample(id=sid, report=report, image_paths=resolved, split=split, meta=meta)


class LayoutDataset(Dataset):
    """A dataset stored in the R2Gen layout under :meth:`root` (subclasses implement :meth:`prepare`).

    Options: ``fingerprint``: ``full`` (default) or ``fast`` (:mod:`rrgbench.data.manifest`);
    ``image_cache``: ``True`` (default: images are read from the on-disk decoded cache,
    :mod:`rrgbench.data.imagecache`) or ``False`` (decode each file on every read).
    """

    cleaning: ClassVar[str] = "r2gen_iu"
    sections: ClassVar[tuple[str, ...]] = SECTIONS

    def __init__(self, data_dir: Path | None = None, section: str = "findings", skip_bad: bool = False,
                 **options: Any) -> None:
        super().__init__(data_dir=data_dir, section=section, skip_bad=skip_bad, **options)
        if section not in SECTIONS:
            raise RRGBenchError(f"unknown report section '{section}'; choose one of {', '.join(SECTIONS)}")
        self.fingerprint_mode = str(options.get("fingerprint", "full"))
        from .manifest import FINGERPRINT_MODES

        if self.fingerprint_mode not in FINGERPRINT_MODES:
            raise RRGBenchError(f"unknown fingerprint mode '{self.fingerprint_mode}'; choose one of "
                                f"{', '.join(FINGERPRINT_MODES)}")
        self._splits: dict[str, list[Sample]] | None = None
        self._manifest: dict[str, Any] | None = None
        self._caches: dict[tuple[str, int], Any] = {}

    # -- locations --------------------------------------------------------------------------------
    def root(self) -> Path:
        """The data directory: ``data_dir`` if given, else ``$RRGBENCH_DATA/<name>``."""
        if self.data_dir is not None:
            return self.data_dir
        from ..paths import data_root

        return data_root(self.name)

    def _build_once(self, params: dict[str, Any], build: Callable[[Path], dict[str, int] | None]) -> None:
        """Run ``build(root)`` under the build lock unless ``root`` already holds a build made with ``params``.

        ``build`` returns split counts to record in ``prepared.json``, or ``None`` when it wrote that itself.
        """
        from .build import build_lock, is_prepared, mark_prepared

        root = self.root()
        with build_lock(root):
            if is_prepared(root, params):
                return
            counts = build(root)
            if counts is not None:
                mark_prepared(root, params, counts)
        self._splits = None

    # -- samples -----------------------------------------------------------------------------------
    def _load(self) -> dict[str, list[Sample]]:
        if self._splits is None:
            root = self.root()
            if not (root / "annotation.json").is_file():
                self.prepare()
            if not (root / "annotation.json").is_file():
                raise RRGBenchError(f"{root / 'annotation.json'}: file not found; "
                                    f"run `rrgbench data prepare {self.name}` or pass --data-dir")
            self._splits, skipped = load_annotation(root, self.section, self.skip_bad)
            self.skipped.extend(skipped)
            self._drop_corrupt()
        return self._splits

    def _drop_corrupt(self) -> None:
        """Validate every image once (via the manifest); drop or raise on corrupt files."""
        from .manifest import build_manifest, stat_cache_path

        assert self._splits is not None
        self._manifest = build_manifest(self.root(), self._splits, stat_cache_path(), mode=self.fingerprint_mode)
        bad = self._manifest.get("bad", {})
        if not bad:
            return
        for split, samples in self._splits.items():
            keep = []
            for s in samples:
                errs = [f"{p}: {bad[p]}" for p in s.image_paths if p in bad]
                if not errs:
                    keep.append(s)
                    continue
                msg = f"sample {s.id!r} ({split}): corrupt image {errs[0]}"
                if not self.skip_bad:
                    raise RRGBenchError(msg)
                self.skipped.append(msg)
            self._splits[split] = keep
        self._manifest = build_manifest(self.root(), self._splits, stat_cache_path(), mode=self.fingerprint_mode)

    def split(self, name: str) -> list[Sample]:
        if name not in SPLITS:
            raise RRGBenchError(f"unknown split '{name}'; choose one of {', '.join(SPLITS)}")
        return list(self._load()[name])

    def manifest(self) -> dict[str, Any]:
        """The manifest: sha256 of the annotation and of every image the samples use."""
        self._load()
        assert self._manifest is not None
        return self._manifest

    def manifest_hash(self) -> str:
        return str(self.manifest()["hash"])

    # -- images ------------------------------------------------------------------------------------
    def image_cache(self, split: str, size: int) -> Any:
        """The on-disk decoded cache of a split at ``size`` (:class:`~.imagecache.ImageCache`, built once)."""
        from .imagecache import ImageCache, cache_location

        key = (split, size)
        if key not in self._caches:
            directory = cache_location(self.name, self.manifest_hash(), size)
            self._caches[key] = ImageCache.open(directory, split, size, self.split(split))
        return self._caches[key]

    def load_images(self, sample: Sample, size: int) -> Any:
        """float32 ``[views, size, size]`` in [0, 1], read from the split's on-disk cache (decoded from the
        files when the dataset option ``image_cache`` is false or the sample is in no split)."""
        import numpy as np

        if sample.split in SPLITS and self.options.get("image_cache", True):
            arr = self.image_cache(sample.split, size).get(sample.id)
            if arr is not None:
                return arr.astype(np.float32) / 255.0
        from .imagecache import decode_views

        return decode_views(sample, size).astype(np.float32) / 255.0
