"""Per-text-hash cache of labeler outputs: in memory, optionally persisted as JSONL under the cache root."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..api import RRGBenchError
from ..io import append_jsonl, iter_jsonl
from ..paths import cache_root

log = logging.getLogger("rrgbench.clinical")

Labels = Any  # a label dict, a CUI list, an annotation: any JSON value with .copy()


def file_id(path: Path) -> str:
    """A cheap identity of a large weights file: sha256 of its size, first and last MiB (12 hex digits)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        h.update(fh.read(1 << 20))
    return h.hexdigest()[:12]


def source_hash(*modules: Any) -> str:
    """8 hex digits over the source files of ``modules``: goes into signatures of rule-based components, so
    that any change of a rule or phrase list changes the signature (and invalidates cached scores)."""
    h = hashlib.sha256()
    for module in modules:
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:8]


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class LabelCache:
    """Labels by sha1 of the text for one labeler signature.

    With ``persist=True`` new entries are appended to ``<cache_root>/labels/<signature>.jsonl`` (fsynced,
    a torn last line from a crash is ignored on the next read), so model labels survive the process.
    """

    def __init__(self, signature: str, persist: bool = False, max_entries: int = 500_000) -> None:
        self.signature = signature
        self.persist = persist
        self.max_entries = max_entries
        self._mem: dict[str, Labels] = {}
        self._loaded = False
        self._lock = threading.Lock()  # the scoring engine runs metrics in threads

    @property
    def path(self) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in self.signature)
        return cache_root() / "labels" / f"{safe}.jsonl"

    def _load(self) -> None:
        self._loaded = True
        if not self.persist or not self.path.exists():
            return
        try:
            for row in iter_jsonl(self.path, tolerate_torn_tail=True):
                self._mem[row["key"]] = row["labels"]
        except (RRGBenchError, KeyError) as exc:
            log.warning("ignoring unreadable label cache %s: %s", self.path, exc)

    def label(self, texts: Sequence[str], compute: Callable[[list[str]], list[Labels]]) -> list[Labels]:
        """Labels of ``texts``: cached ones looked up, the rest computed in one ``compute`` call."""
        with self._lock:
            return self._label(texts, compute)

    def _label(self, texts: Sequence[str], compute: Callable[[list[str]], list[Labels]]) -> list[Labels]:
        if not self._loaded:
            self._load()
        keys = [text_key(t) for t in texts]
        found: dict[str, Labels] = {}
        todo: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k in self._mem:
                found[k] = self._mem[k]
            elif k not in todo:
                todo[k] = t
        if todo:
            new = compute(list(todo.values()))
            if len(new) != len(todo):
                raise RRGBenchError(f"labeler {self.signature} returned {len(new)} rows for {len(todo)} texts")
            rows = dict(zip(todo, new))
            if len(self._mem) + len(rows) > self.max_entries:
                self._mem.clear()
            self._mem.update(rows)
            found.update(rows)
            if self.persist:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    append_jsonl(self.path, ({"key": k, "labels": v} for k, v in rows.items()))
                except OSError as exc:
                    log.warning("cannot persist labels to %s: %s", self.path, exc)
        return [found[k].copy() for k in keys]


_SHARED: dict[str, LabelCache] = {}
_SHARED_LOCK = threading.Lock()  # the scoring engine runs metrics in threads


def shared_cache(signature: str, persist: bool = False) -> LabelCache:
    """The process-wide :class:`LabelCache` of ``signature`` (created on first use)."""
    with _SHARED_LOCK:
        cache = _SHARED.get(signature)
        if cache is None:
            cache = _SHARED[signature] = LabelCache(signature, persist=persist)
        return cache
