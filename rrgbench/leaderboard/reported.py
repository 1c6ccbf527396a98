"""Numbers a method's paper reports, to show beside the reproduced ones under the same protocol.

A method declares them either as its class attribute :attr:`rrgbench.api.Method.reported` or in
``reported.json`` beside its module (the file wins: it is found through the registry entry and read without
importing the method). Format, per dataset, one entry or a list::

    {"iu_xray": [{"metric": "nlg", "signature_prefix": "nlg|protocol:r2gen",
                  "scores": {"bleu_4": 0.165}, "source": "R2Gen paper, Table 2"}]}

``signature_prefix`` (alias ``protocol``) must match the reproduced column's signature: either as a prefix
of it, or as ``key:value`` fields that all occur in it in any order (``protocol:r2gen|tok:r2gen-clean:r2gen_iu+split``).
Otherwise the reported number is listed but never put beside a reproduced one.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

from ..api import RRGBenchError
from .table import Board

log = logging.getLogger("rrgbench.leaderboard")


def _entries(raw: Any, where: str) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(raw, dict):
        raise RRGBenchError(f"{where}: reported numbers must be an object keyed by dataset")
    out: dict[str, list[dict[str, Any]]] = {}
    for dataset, items in raw.items():
        items = items if isinstance(items, list) else [items]
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("scores"), dict):
                raise RRGBenchError(f"{where}: entry for '{dataset}' needs a 'scores' object")
            prefix = item.get("signature_prefix", item.get("protocol", ""))
            out.setdefault(str(dataset), []).append({
                "metric": item.get("metric"), "prefix": str(prefix or ""), "source": str(item.get("source", "")),
                "scores": {str(k): float(v) for k, v in item["scores"].items() if isinstance(v, (int, float))},
            })
    return out


def signature_matches(prefix: str, signature: str) -> bool:
    """``prefix`` is a prefix of ``signature``, or each of its ``|``-separated fields is one of the signature's."""
    if signature.startswith(prefix):
        return True
    fields = set(signature.split("|"))
    wanted = [f for f in prefix.split("|") if f]
    return bool(wanted) and all(f in fields for f in wanted)


def _method_dir(method: str) -> Path | None:
    from ..plugins import get_host

    methods = get_host().methods
    if method not in methods:
        return None
    module = methods.entry(method).target_path.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def load_reported(method: str) -> dict[str, list[dict[str, Any]]]:
    """The reported numbers a method declares (empty when none)."""
    mdir = _method_dir(method)
    for d in [mdir, mdir.parent] if mdir else []:
        path = d / "reported.json"
        if path.is_file():
            try:
                return _entries(json.loads(path.read_text(encoding="utf-8")), str(path))
            except json.JSONDecodeError as exc:
                raise RRGBenchError(f"{path}: not valid JSON ({exc})") from None
    try:
        from ..plugins import get_host

        cls = get_host().methods.get(method)
    except Exception as exc:  # noqa: BLE001 - a method that cannot load here declares nothing
        log.info("method %s not loadable for reported numbers: %s", method, exc)
        return {}
    raw = cls.reported
    return _entries(raw, f"{method}.reported") if raw else {}


def _published_test_hash(dataset: str) -> str | None:
    """sha256 over the sorted ids of the test set papers report on ``dataset``, as the dataset declares it."""
    from ..plugins import get_host
    from ..scoring.cache import texts_hash

    host = get_host()
    if dataset not in host.datasets:
        return None
    ids = host.datasets.get(dataset).published_test_ids()
    return texts_hash(sorted(ids)) if ids else None


def not_comparable(board: Board, row: Any) -> str:
    """Why a paper's numbers cannot sit beside ``row`` of ``board`` ("" when they can): the run must use the
    ``paper`` preset, record no substitute, and be evaluated on the paper's test set (whole, same ids)."""
    why = []
    if row.preset != "paper":
        why.append(f"preset '{row.preset}', not 'paper'")
    if row.fidelity:
        why.append("substitutes recorded: " + ", ".join(sorted(row.fidelity)))
    ev = board.eval
    if ev is None:
        why.append("evaluation set unknown")
    else:
        if ev.subset:
            why.append(f"a subset (--limit {ev.limit})")
        if ev.split != "test":
            why.append(f"split '{ev.split}'")
        want = _published_test_hash(board.dataset)
        if want is not None and ev.ids_set_hash != want:
            why.append("not the published test set (the dataset's declared test ids)")
    return "; ".join(why)


def attach_reported(board: Board, reported: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Put reported numbers into matching cells — only where the run is comparable with the paper
    (:func:`not_comparable`) — and return every reported row for the "as reported" table, each with
    ``comparable`` and, when not, ``why``."""
    table: list[dict[str, Any]] = []
    for row in board.rows:
        why = not_comparable(board, row)
        for entry in reported.get(row.method, {}).get(board.dataset, []):
            matched: set[str] = set()
            for col, cell in zip(board.columns, row.cells):
                if col.key not in entry["scores"]:
                    continue
                if entry["metric"] and entry["metric"] != col.metric:
                    continue
                if not signature_matches(entry["prefix"], col.signature):
                    continue
                value = entry["scores"][col.key]
                if not why:
                    cell.reported = {"value": value, "source": entry["source"]}
                matched.add(col.key)
                table.append({"method": row.method, "preset": row.preset, "variant": row.variant,
                              "label": col.label, "sig_id": col.sig_id, "reported": value,
                              "reproduced": cell.mean if cell.status == "ok" else None,
                              "lo": cell.lo, "hi": cell.hi, "n": cell.n,
                              "within_ci": cell.status == "ok" and cell.lo <= value <= cell.hi,
                              "source": entry["source"], "prefix": entry["prefix"],
                              "comparable": not why, "why": why})
            for key in sorted(set(entry["scores"]) - matched):
                table.append({"method": row.method, "preset": row.preset, "variant": row.variant,
                              "label": key, "sig_id": "", "reported": entry["scores"][key], "reproduced": None,
                              "lo": None, "hi": None, "n": 0, "within_ci": False, "source": entry["source"],
                              "prefix": entry["prefix"], "unmatched": True, "comparable": not why,
                              "why": why or "no column under this protocol"})
    return table
