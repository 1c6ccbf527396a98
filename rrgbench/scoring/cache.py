"""Score cache: per-sample statistics and results keyed by (signature, hypotheses hash, references hash).

Layout under ``cache_root()/scores/``::

    <sha(signature)[:16]>/signature.txt                 the signature in clear
    <sha(signature)[:16]>/<hyps[:16]>-<refs[:16]>.stats.jsonl   one stats row per sample, in order
    <sha(signature)[:16]>/<hyps[:16]>-<refs[:16]>.json         corpus scores, per-sample scores, CIs

Every file is written atomically (temp file + rename), so concurrent writers of the same key can only
replace a complete file with an identical complete file. No database, no locks. Set
``RRGBENCH_NO_CACHE=1`` to bypass it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import atomic_write_json, atomic_write_jsonl, atomic_write_text
from ..paths import cache_root

log = logging.getLogger("rrgbench.scoring.cache")


def texts_hash(texts: Sequence[str]) -> str:
    """sha256 over an ordered list of texts (length-prefixed, so boundaries are unambiguous)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def enabled() -> bool:
    return os.environ.get("RRGBENCH_NO_CACHE", "") not in ("1", "true", "yes")


class ScoreCache:
    """Entries of one (signature, hypotheses, references) key."""

    def __init__(self, signature: str, hyps: Sequence[str], refs: Sequence[str], root: Path | None = None) -> None:
        sig = hashlib.sha256(signature.encode()).hexdigest()[:16]
        self.dir = (root or cache_root() / "scores") / sig
        self.signature = signature
        stem = f"{texts_hash(hyps)[:16]}-{texts_hash(refs)[:16]}"
        self.stats_path = self.dir / f"{stem}.stats.jsonl"
        self.result_path = self.dir / f"{stem}.json"
        self.n = len(hyps)

    def load_stats(self) -> list[dict[str, Any]] | None:
        try:
            with open(self.stats_path, encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache file %s: %s", self.stats_path, exc)
            return None
        return rows if len(rows) == self.n else None

    def save_stats(self, stats: Sequence[dict[str, Any]]) -> None:
        try:
            if not (self.dir / "signature.txt").exists():
                atomic_write_text(self.dir / "signature.txt", self.signature + "\n")
            atomic_write_jsonl(self.stats_path, stats)
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is not an error
            log.warning("cannot write score cache %s: %s", self.stats_path, exc)

    def load_result(self) -> dict[str, Any]:
        try:
            with open(self.result_path, encoding="utf-8") as fh:
                data = json.load(fh)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def save_result(self, data: dict[str, Any]) -> None:
        try:
            atomic_write_json(self.result_path, data)
        except Exception as exc:  # noqa: BLE001
            log.warning("cannot write score cache %s: %s", self.result_path, exc)
