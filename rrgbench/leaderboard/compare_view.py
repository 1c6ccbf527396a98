"""Comparison pages from ``rrgbench compare --json`` output (deltas, CIs, p-values).

Files come from ``--compare FILE`` and from ``<runs-dir>/_compare/*.json``. The reader is tolerant of the
exact layout: every object holding a numeric ``delta`` is one row; its metric/key come from its own
``metric``/``key`` fields or from the keys leading to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import Display, RRGBenchError
from ..io import read_json
from ..rundir import display_of
from . import display
from .records import BoardRun

_A_KEYS = ("a", "score_a", "value_a", "mean_a")
_B_KEYS = ("b", "score_b", "value_b", "mean_b")
_CI_KEYS = ("ci95", "delta_ci95", "ci")
_RUN_A = ("run_a", "a", "baseline")
_RUN_B = ("run_b", "b", "candidate")


@dataclass
class Comparison:
    source: str
    a: str  # run (relative path in the runs dir when known)
    b: str
    dataset: str
    page: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    p_keys: list[str] = field(default_factory=list)
    raw: Any = None
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (metric, reason)
    n: int | None = None

    @property
    def main_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if not r["per_label"]]

    @property
    def label_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["per_label"]]


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _walk(obj: Any, trail: tuple[str, ...], out: list[dict[str, Any]], facts_of: Callable[[str], Display],
          signature: str = "") -> None:
    if isinstance(obj, dict):
        signature = str(obj.get("signature") or signature)
        if _num(obj.get("delta")) is not None:
            metric = str(obj.get("metric") or (trail[0] if trail else ""))
            key = str(obj.get("key") or obj.get("score") or (trail[-1] if len(trail) > 1 else ""))
            ci = next((obj[k] for k in _CI_KEYS if isinstance(obj.get(k), list) and len(obj[k]) == 2), None)
            facts = facts_of(metric)
            row = {"metric": metric, "key": key, "label": facts.label(key), "signature": signature,
                   "per_label": facts.label_of(key) is not None, "group": display.group_name(facts.group),
                   "order": facts.key_rank(key), "higher_is_better": facts.direction(key),
                   "a": next((_num(obj[k]) for k in _A_KEYS if k in obj), None),
                   "b": next((_num(obj[k]) for k in _B_KEYS if k in obj), None),
                   "delta": float(obj["delta"]), "ci": [_num(ci[0]), _num(ci[1])] if ci else None,
                   "p": {k: _num(v) for k, v in sorted(obj.items()) if k.startswith("p") and _num(v) is not None
                         and k not in ("precision",)}}
            out.append(row)
            return
        for k in sorted(obj, key=str):
            if k in ("run_a", "run_b"):
                continue
            _walk(obj[k], (*trail, str(k)) if k not in ("metrics", "results", "scores") else trail, out, facts_of, signature)
    elif isinstance(obj, list):
        for item in obj:
            _walk(item, trail, out, facts_of, signature)


def _run_ref(raw: dict[str, Any], keys: tuple[str, ...]) -> str:
    for k in keys:
        v = raw.get(k)
        if isinstance(v, str):
            return v
        if isinstance(v, dict):
            for kk in ("run", "run_dir", "path", "name"):
                if isinstance(v.get(kk), str):
                    return v[kk]
    return ""


def _rel(ref: str, runs: list[BoardRun], runs_dir: Path) -> str:
    path = Path(ref)
    for rec in runs:
        if ref == rec.rel or (path.exists() and path.resolve() == rec.path.resolve()) \
                or ref.rstrip("/").endswith("/" + rec.rel) or Path(ref).name == rec.path.name:
            return rec.rel
    return ref


def load_comparisons(runs: list[BoardRun], files: list[Path], runs_dir: Path) -> list[Comparison]:
    """Every comparison file given or found under ``<runs-dir>/_compare/``."""
    found = sorted({*map(Path, files), *(Path(runs_dir) / "_compare").glob("*.json")})
    by_rel = {r.rel: r for r in runs}
    out: list[Comparison] = []
    for path in found:
        raw = read_json(path)
        if not isinstance(raw, dict):
            raise RRGBenchError(f"{path}: expected a JSON object from 'rrgbench compare --json'")
        rows: list[dict[str, Any]] = []
        stored = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
        facts: dict[str, Display] = {}

        def facts_of(metric: str, stored: dict[str, Any] = stored, facts: dict[str, Display] = facts) -> Display:
            if metric not in facts:
                entry = stored.get(metric) if isinstance(stored.get(metric), dict) else {}
                facts[metric] = display_of(metric, entry.get("display"))
            return facts[metric]

        _walk(raw, (), rows, facts_of)
        rows.sort(key=lambda r: (display.group_rank(r["group"]), r["metric"], r["order"]))
        metrics = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
        unavailable = [(str(m), str(v.get("reason", ""))) for m, v in sorted(metrics.items())
                       if isinstance(v, dict) and v.get("status") == "unavailable"]
        if not rows and not unavailable:
            raise RRGBenchError(f"{path}: no comparison rows (objects with a numeric 'delta') found")
        a = _rel(_run_ref(raw, _RUN_A), runs, runs_dir)
        b = _rel(_run_ref(raw, _RUN_B), runs, runs_dir)
        dataset = by_rel[a].dataset if a in by_rel else (by_rel[b].dataset if b in by_rel else str(raw.get("dataset", "")))
        digest = hashlib.sha256(f"{path.name}|{a}|{b}".encode()).hexdigest()[:10]
        p_keys = sorted({k for r in rows for k in r["p"]})
        out.append(Comparison(source=path.name, a=a, b=b, dataset=dataset, page=f"compare/{digest}.html",
                              rows=rows, p_keys=p_keys, raw=raw, unavailable=unavailable,
                              n=raw.get("n") if isinstance(raw.get("n"), int) else None))
    return out
