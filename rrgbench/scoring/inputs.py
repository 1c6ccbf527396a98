"""Reading and pairing (id, report) files for ``rrgbench score`` / ``compare``, with clear errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..api import RRGBenchError
from ..io import iter_jsonl

SHOW = 10


def format_ids(ids: Iterable[str]) -> str:
    """Sorted ids, the first ten named, then a count of the rest."""
    ids = sorted(map(str, ids))
    more = f" (+{len(ids) - SHOW} more)" if len(ids) > SHOW else ""
    return ", ".join(ids[:SHOW]) + more


def read_reports(path: Path, keys: tuple[str, ...] = ("report",), what: str = "predictions") -> dict[str, str]:
    """``{id: text}`` from JSONL rows ``{"id": ..., "<key>": ...}`` (the first key present wins)."""
    path = Path(path)
    out: dict[str, str] = {}
    dups: set[str] = set()
    for lineno, row in enumerate(iter_jsonl(path), 1):
        if "id" not in row:
            raise RRGBenchError(f"{path}: row {lineno} has no \"id\"")
        key = next((k for k in keys if k in row), None)
        if key is None:
            raise RRGBenchError(f"{path}: row {lineno} (id {row['id']}) has no {' or '.join(map(repr, keys))} field")
        text = row[key]
        if not isinstance(text, str):
            raise RRGBenchError(f"{path}: sample {row['id']}: {key!r} is {type(text).__name__}, not a string")
        sid = str(row["id"])
        if sid in out:
            dups.add(sid)
        out[sid] = text
    if not out:
        raise RRGBenchError(f"{path}: no {what} (empty file)")
    if dups:
        raise RRGBenchError(f"{path}: duplicated ids: {format_ids(dups)}")
    return out


def pair(preds: dict[str, str], refs: dict[str, str], allow_missing: bool = False,
         pred_name: str = "predictions", ref_name: str = "references"
         ) -> tuple[list[str], list[str], list[str], dict[str, Any]]:
    """``(ids, hyps, refs, info)`` in reference order. Ids on one side only are an error, unless
    ``allow_missing`` (then the intersection is scored and ``info`` counts what was left out)."""
    no_ref = set(preds) - set(refs)
    no_pred = set(refs) - set(preds)
    if (no_ref or no_pred) and not allow_missing:
        parts = []
        if no_pred:
            parts.append(f"{len(no_pred)} id(s) in {ref_name} have no prediction: {format_ids(no_pred)}")
        if no_ref:
            parts.append(f"{len(no_ref)} id(s) in {pred_name} have no reference: {format_ids(no_ref)}")
        raise RRGBenchError("; ".join(parts) + " (use --allow-missing to score the intersection)")
    ids = [i for i in refs if i in preds]
    if not ids:
        raise RRGBenchError(f"no id is in both {pred_name} and {ref_name}")
    info = {"n": len(ids), "missing_predictions": len(no_pred), "missing_references": len(no_ref)}
    return ids, [preds[i] for i in ids], [refs[i] for i in ids], info


def empty_texts(ids: list[str], hyps: list[str], refs: list[str]) -> str:
    """A one-line description of the pairs whose prediction or reference is empty (blank), or ``""``.

    Up to ten ids are named per side, then a count (``a, b (+12 more)``)."""
    parts = []
    for what, texts in (("prediction", hyps), ("reference", refs)):
        empty = [i for i, t in zip(ids, texts) if not t.strip()]
        if empty:
            parts.append(f"{len(empty)} empty {what}(s): {format_ids(empty)}")
    return "; ".join(parts)
