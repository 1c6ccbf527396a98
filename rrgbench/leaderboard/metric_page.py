"""The "How the metrics respond" page: sensitivity-suite heat maps (``<runs>/_sensitivity/*.json``, written by
``rrgbench sensitivity``) and the labeler's held-out agreement (``<runs>/_labeler/*.json``, written by
``benchmarks/labeler_vs_mesh.py --out``). Files that do not parse are skipped with a reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE = "metrics.html"


@dataclass
class Heatmap:
    dataset: str
    source: str
    result: dict[str, Any]
    columns: list[tuple[str, str]] = field(default_factory=list)  # (metric, key)
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per edit, with "cells"


def _cell(r: dict[str, Any] | None, scale: float) -> dict[str, Any]:
    if not r or "delta" not in r:
        return {"text": "–", "style": "", "title": "no eligible samples" if r else "not computed"}
    good = r["verdict"] in ("sensitive", "robust")
    bad = r["verdict"] in ("wrong-way", "not-robust")
    alpha = min(1.0, abs(r["delta"]) / scale) * 0.75 + 0.1 if scale > 0 else 0.1
    rgb = "46,160,67" if good else ("207,34,46" if bad else "140,140,140")
    lo, hi = r["ci95"]
    return {"text": f"{r['delta']:+.3f}", "ci": f"[{lo:+.3f}, {hi:+.3f}]", "verdict": r["verdict"],
            "right": f"{r['right_fraction']:.0%}", "style": f"background: rgba({rgb},{alpha:.2f})",
            "title": f"{r['verdict']}; 95% CI {lo:+.4f} to {hi:+.4f}; {r['right_fraction']:.0%} of samples moved "
                     f"the right way; identity {r['identity']:.4f} -> edited {r['edited']:.4f}"}


def heatmap(result: dict[str, Any], source: str) -> Heatmap:
    """Edits x (metric, key) cells; colour strength = |Δ| relative to the column's largest |Δ|."""
    hm = Heatmap(dataset=str(result.get("dataset", "")), source=source, result=result)
    hm.columns = [(m["metric"], k) for m in result.get("metrics", []) if m.get("status") == "ok"
                  for k in m.get("keys", [])]
    cells = {(r["edit"], r["metric"], r["key"]): r for r in result.get("rows", [])}
    scale = {c: max([abs(r.get("delta", 0.0)) for (e, m, k), r in cells.items() if (m, k) == c] or [0.0])
             for c in hm.columns}
    for e in result.get("edits", []):
        hm.rows.append({**e, "cells": [_cell(cells.get((e["name"], m, k)), scale[(m, k)]) for m, k in hm.columns]})
    return hm


def load(runs_dir: Path) -> tuple[list[Heatmap], list[dict[str, Any]], list[str]]:
    """(heat maps, labeler agreement reports, skipped-file reasons) found under ``runs_dir``."""
    maps: list[Heatmap] = []
    labeler: list[dict[str, Any]] = []
    skipped: list[str] = []
    for sub, sink in (("_sensitivity", maps), ("_labeler", labeler)):
        folder = Path(runs_dir) / sub
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if sub == "_sensitivity":
                    sink.append(heatmap(data, path.name))  # type: ignore[arg-type]
                else:
                    if not isinstance(data, dict) or "heldout" not in data:
                        raise ValueError("no 'heldout' section")
                    sink.append({**data, "source": path.name})  # type: ignore[arg-type]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                skipped.append(f"{sub}/{path.name}: {exc}")
    return maps, labeler, skipped
