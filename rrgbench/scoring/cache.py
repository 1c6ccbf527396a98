"""Score cache: per-sample statistics and results keyed by (signature, hypotheses hash, references hash).

Layout under ``cache_root()/scores/``::

    <sha(signature)[:16]>/signature.txt                 the signature in clear
    <sha(signature)[:16]>/<hyps[:16]>-<refs[:16]>.stats.jsonl   one stats row per sample, in order
    <sha(signature)[:16]>/<hyps[:16]>-<refs[:16]>.pairs.json   the pair key of each stats row
    <sha(signature)[:16]>/<hyps[:16]>-<refs[:16]>.json         corpus scores, per-sample scores, CIs

For metrics whose statistics depend on one pair only (``pairwise = True``: nlg, bertscore, token), a
miss on the whole key still reuses every (hypothesis, reference) pair found in earlier entries of the
same signature (a subset, an intersection for ``compare``, a run sharing references and some outputs).

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
from .columns import StatsTable

PACK_ROWS = 10_000  # statistics rows read before they are packed into columns

log = logging.getLogger("rrgbench.scoring.cache")


def texts_hash(texts: Sequence[str]) -> str:
    """sha256 over an ordered list of texts (length-prefixed, so boundaries are unambiguous)."""
    h = hashlib.sha256()
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def pair_keys(hyps: Sequence[str], refs: Sequence[str]) -> list[str]:
    """One key per (hypothesis, reference) pair."""
    return [texts_hash([h, r])[:24] for h, r in zip(hyps, refs)]


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
        self.pairs_path = self.dir / f"{stem}.pairs.json"
        self.n = len(hyps)

    def load_stats(self) -> StatsTable | None:
        """The cached statistics, read line by line and packed by column (``None``: none, or unreadable)."""
        tables, rows = [], []
        try:
            with open(self.stats_path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        rows.append(json.loads(line))
                        if len(rows) == PACK_ROWS:
                            tables.append(StatsTable.from_rows(rows))
                            rows = []
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache file %s: %s", self.stats_path, exc)
            return None
        tables.append(StatsTable.from_rows(rows))
        stats = StatsTable.concat(tables)
        return stats if len(stats) == self.n else None

    def save_stats(self, stats: Sequence[dict[str, Any]], keys: Sequence[str] | None = None) -> None:
        try:
            if not (self.dir / "signature.txt").exists():
                atomic_write_text(self.dir / "signature.txt", self.signature + "\n")
            atomic_write_jsonl(self.stats_path, stats)
            if keys is not None:
                atomic_write_json(self.pairs_path, list(keys))
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is not an error
            log.warning("cannot write score cache %s: %s", self.stats_path, exc)

    def lookup_pairs(self, keys: Sequence[str]) -> dict[int, dict[str, Any]]:
        """``{position: stats}`` for the pairs of ``keys`` found in other entries of this signature."""
        wanted: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            wanted.setdefault(k, []).append(i)
        found: dict[int, dict[str, Any]] = {}
        if not self.dir.is_dir():
            return found
        sidecars = sorted(self.dir.glob("*.pairs.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for sidecar in sidecars:
            if not wanted:
                break
            try:
                with open(sidecar, encoding="utf-8") as fh:
                    their = json.load(fh)
                hits = [(j, k) for j, k in enumerate(their) if k in wanted]
                if not hits:
                    continue
                with open(sidecar.with_name(sidecar.name[:-len(".pairs.json")] + ".stats.jsonl"),
                          encoding="utf-8") as fh:
                    rows = [line for line in fh if line.strip()]
                if len(rows) != len(their):
                    continue
            except (OSError, ValueError):
                continue
            for j, k in hits:
                if k in wanted:
                    row = json.loads(rows[j])
                    for i in wanted.pop(k):
                        found[i] = row
        return found

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
