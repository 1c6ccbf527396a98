"""Run records → pandas long table → leaderboard tables, one per evaluation set.

A board holds only runs evaluated on the same set (:class:`EvalSet`: dataset, manifest hash, section, split
and the hash of the evaluated sample ids), so a ``--limit`` run never competes with a full run.

The long table has one row per (run, metric, score key). Cells of the leaderboard are keyed by
``(metric, key, signature)``: results with different signatures become different columns, never one cell.
Seeds of the same method, preset and spec (``variant``) are pooled: mean, and a 95% CI that is a
t-interval over seeds when there are two or more, else the run's own bootstrap CI over samples.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import display
from .records import BoardRun

LONG_COLUMNS = ["dataset", "board", "method", "preset", "variant", "fidelity", "seed", "run", "metric", "key", "group",
                "signature", "status", "value", "ci_lo", "ci_hi", "n", "reason", "label", "higher_is_better",
                "headline", "per_label", "primary", "rank_priority", "order"]
_DISPLAY_COLUMNS = ("label", "higher_is_better", "headline", "per_label", "primary", "rank_priority", "order")

# two-sided 95% Student t quantiles, df = 1..30 (beyond: normal 1.96)
_T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788,
         2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639,
         2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423]


def t975(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


@dataclass(frozen=True)
class EvalSet:
    """What a run was evaluated on: runs share a board only when all of these are equal."""

    dataset: str
    manifest: str
    section: str
    split: str
    ids_hash: str  # sha256 over the evaluated sample ids, in order
    n: int
    limit: int | None
    ids_set_hash: str = ""  # sha256 over the sorted ids (order-free: compared with a published split)

    @property
    def key(self) -> str:
        return "|".join([self.dataset, self.manifest[:16], self.section, self.split, self.ids_hash[:16]])

    @property
    def subset(self) -> bool:
        return self.limit is not None

    @property
    def label(self) -> str:
        text = f"{self.split} split · {self.section} · {self.n} studies · data {self.manifest[:12] or '?'}"
        return text + (f" · SUBSET (--limit {self.limit})" if self.subset else "")


def eval_set(rec: BoardRun) -> EvalSet:
    """The evaluation set of one run: dataset, manifest hash, section, split and the evaluated ids' hash."""
    from ..io import iter_jsonl
    from ..rundir import GENERATIONS
    from ..scoring.cache import texts_hash

    spec = rec.run.get("spec") or {}
    ds = rec.run.get("dataset") or {}
    try:
        ids = [str(r.get("id")) for r in iter_jsonl(rec.path / GENERATIONS, tolerate_torn_tail=True)]
    except Exception:  # noqa: BLE001 - no generations: keyed by the spec alone
        ids = []
    limit = spec.get("limit")
    return EvalSet(dataset=rec.dataset, manifest=str(ds.get("manifest_hash") or ""),
                   section=str(spec.get("section") or "findings"), split=str(spec.get("split") or "test"),
                   ids_hash=texts_hash(ids) if ids else "none", n=len(ids), ids_set_hash=texts_hash(sorted(ids)),
                   limit=int(limit) if isinstance(limit, int) and not isinstance(limit, bool) else None)


def long_table(runs: list[BoardRun]) -> pd.DataFrame:
    """One row per (run, metric, key); unavailable metrics have one row with ``key == ""``.

    ``group``, ``label``, ``higher_is_better``, ``headline``, ``per_label``, ``primary`` and ``order`` (the key's
    place in the metric's own order) are the metric's display facts for that key (:meth:`rrgbench.rundir.ScoreFile.display_facts`).
    """
    rows: list[dict[str, Any]] = []
    for rec in runs:
        base = {"dataset": rec.dataset, "board": eval_set(rec).key, "method": rec.method, "preset": rec.preset, "variant": rec.variant,
                "fidelity": ",".join(sorted(rec.fidelity)), "seed": rec.seed, "run": rec.rel}
        for metric, sf in sorted(rec.scores.items()):
            facts = sf.display_facts()
            common = {**base, "metric": metric, "group": display.group_name(facts.group),
                      "signature": sf.signature, "status": sf.status, "n": sf.n, "reason": sf.reason}
            if sf.status != "ok":
                rows.append({**common, "key": "", "value": math.nan, "ci_lo": math.nan, "ci_hi": math.nan,
                             "label": f"{metric} (unavailable)", "higher_is_better": facts.default_higher_is_better,
                             "headline": True, "per_label": False, "primary": False, "rank_priority": 0,
                             "order": -1})
                continue
            order = {k: i for i, k in enumerate(sorted(sf.scores, key=facts.key_rank))}
            for key, value in sorted(sf.scores.items()):
                lo, hi = sf.ci95.get(key, [math.nan, math.nan])
                rows.append({**common, "key": key, "value": value, "ci_lo": lo, "ci_hi": hi,
                             "label": facts.label(key), "higher_is_better": facts.direction(key),
                             "headline": facts.is_headline(key), "per_label": facts.label_of(key) is not None,
                             "primary": key == facts.primary,
                             "rank_priority": facts.rank_priority if key == facts.primary else 0, "order": order[key]})
    df = pd.DataFrame(rows, columns=LONG_COLUMNS)
    if df.empty:
        return df
    return df.sort_values(["dataset", "board", "method", "preset", "variant", "run", "metric", "key"],
                          kind="mergesort").reset_index(drop=True)


@dataclass
class Column:
    id: str
    group: str
    metric: str
    key: str
    label: str
    signature: str
    sig_id: str
    headline: bool
    higher_is_better: bool = True
    primary: bool = False  # the key its metric asks to be ranked by
    rank_priority: int = 0  # the metric's declared priority for leading the ranking (primary keys only)


@dataclass
class Cell:
    status: str  # "ok" | "unavailable" | "missing"
    mean: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    n: int = 0
    ci_kind: str = ""
    values: list[float] = field(default_factory=list)
    reason: str = ""
    reported: dict[str, Any] | None = None
    best: bool = False

    @property
    def text(self) -> str:
        if self.status == "ok":
            return fmt(self.mean)
        return "unavailable" if self.status == "unavailable" else "–"

    @property
    def ci_text(self) -> str:
        if self.status != "ok" or math.isnan(self.lo):
            return ""
        return f"[{fmt(self.lo)}, {fmt(self.hi)}]"

    @property
    def title(self) -> str:
        if self.status == "unavailable":
            return f"unavailable: {self.reason}"
        if self.status != "ok":
            return "no result with this column's signature"
        parts = [f"mean {self.mean:.6g} over {self.n} seed(s)"]
        if not math.isnan(self.lo):
            parts.append(f"95% CI [{self.lo:.6g}, {self.hi:.6g}] ({self.ci_kind})")
        if len(self.values) > 1:
            parts.append("seeds: " + ", ".join(f"{v:.4g}" for v in self.values))
        return "; ".join(parts)


@dataclass
class Row:
    method: str
    preset: str
    variant: str
    fidelity: dict[str, str]
    runs: list[BoardRun]
    cells: list[Cell]

    spec_tags: list[tuple[str, str]] = field(default_factory=list)  # spec fields that tell rows apart

    @property
    def n_seeds(self) -> int:
        return len(self.runs)

    @property
    def manifest(self) -> str:
        """The dataset manifest hash of this row's runs (one per row: it is part of ``variant``)."""
        return str((self.runs[0].run.get("dataset") or {}).get("manifest_hash") or "") if self.runs else ""


@dataclass
class Board:
    dataset: str
    columns: list[Column]
    rows: list[Row]
    signatures: list[tuple[str, str, str]]  # (sig_id, metric, signature)
    credentialed: bool
    eval: EvalSet | None = None  # the evaluation set every row shares
    key: str = ""  # page key: the dataset name for its main board, "<dataset>/<slug>" for the others

    @property
    def eval_label(self) -> str:
        return self.eval.label if self.eval is not None else ""

    @property
    def subset(self) -> bool:
        return self.eval is not None and self.eval.subset

    @property
    def manifests(self) -> list[str]:
        """Distinct dataset manifest hashes behind the rows; more than one means different data versions."""
        return sorted({r.manifest for r in self.rows})

    rank_by: str = ""  # "KEY" or "METRIC.KEY" chosen by the user (rrgbench leaderboard --rank-by)
    ranks: dict[int, Any] = field(default_factory=dict)  # id(row) -> ranking.RankInfo (rank interval, tie group)

    def rank_of(self, row: Row) -> Any:
        """The row's :class:`rrgbench.leaderboard.ranking.RankInfo`, or ``None``."""
        return self.ranks.get(id(row))

    def main_column(self) -> int | None:
        """Index of the headline column that ranks the board: ``rank_by`` when set and present; else the primary
        key with the highest declared ``rank_priority`` (CE F1 micro of the offline labeler by default, so never
        an n-gram metric when a clinical one is there), then the most filled; else the most-filled headline
        column; ties go to the leftmost."""
        if self.rank_by:
            for i, col in enumerate(self.columns):
                if col.key and self.rank_by in (col.key, f"{col.metric}.{col.key}") and \
                        any(r.cells[i].status == "ok" for r in self.rows):
                    return i
        ranked = [((col.primary, col.rank_priority, sum(r.cells[i].status == "ok" for r in self.rows), -i), i)
                  for i, col in enumerate(self.columns) if col.headline and col.key]
        ranked = [x for x in ranked if x[0][2] > 0]
        return max(ranked)[1] if ranked else None

    def ranked(self, col: int | None) -> list[Row]:
        """Rows by column ``col`` (best first in the column's direction, unscored last), ties by method name."""
        if col is None:
            return list(self.rows)
        sign = -1.0 if self.columns[col].higher_is_better else 1.0
        return sorted(self.rows, key=lambda r: (r.cells[col].status != "ok",
                                                sign * r.cells[col].mean if r.cells[col].status == "ok" else 0.0,
                                                r.method, r.preset))

    def groups(self) -> list[tuple[str, int, int]]:
        """(group, total columns, headline columns) in display order."""
        out: list[tuple[str, int, int]] = []
        for col in self.columns:
            if out and out[-1][0] == col.group:
                g, n, h = out[-1]
                out[-1] = (g, n + 1, h + int(col.headline))
            else:
                out.append((col.group, 1, int(col.headline)))
        return out


def fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.3f}" if abs(x) < 1000 else f"{x:.4g}"


def _pool(sub: pd.DataFrame) -> Cell:
    vals = [float(v) for v in sub["value"]]
    n = len(vals)
    mean = sum(vals) / n
    if n >= 2:
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
        half = t975(n - 1) * sd / math.sqrt(n)
        return Cell("ok", mean, mean - half, mean + half, n, f"t-interval over {n} seeds", vals)
    row = sub.iloc[0]
    kind = f"bootstrap over {int(row['n'])} samples" if not pd.isna(row["n"]) else "bootstrap"
    return Cell("ok", mean, float(row["ci_lo"]), float(row["ci_hi"]), 1, kind, vals)


def build_board(dataset: str, df: pd.DataFrame, runs: list[BoardRun], board: str | None = None) -> Board:
    """The leaderboard of one evaluation set (``board``, a :class:`EvalSet` key) of ``dataset``, from its
    slice of the long table; without ``board``, every run of the dataset."""
    df = df[df["dataset"] == dataset]
    if board is not None:
        df = df[df["board"] == board]
    ok = df[(df["status"] == "ok") & ~df["per_label"].astype(bool)]
    unavailable = df[df["status"] != "ok"]
    facts: dict[tuple[str, str, str], dict[str, Any]] = {}  # (metric, key, signature) -> display facts
    for row in df[["metric", "key", "signature", "group", *_DISPLAY_COLUMNS]].itertuples(index=False):
        facts.setdefault((row.metric, row.key, row.signature), row._asdict())

    # within a metric, the signature used by most runs comes first; its keys stay together
    sig_rank = {(m, s): (-n, s) for (m, s), n in df.groupby(["metric", "signature"])["run"].nunique().items()}
    col_keys = sorted({(display.group_rank(g), m, sig_rank[(m, s)], int(facts[(m, k, s)]["order"]), k, s)
                       for g, m, k, s in ok[["group", "metric", "key", "signature"]].itertuples(index=False)})
    have = {(m, s) for _, m, _, _, _, s in col_keys}
    for g, m, s in unavailable[["group", "metric", "signature"]].drop_duplicates().itertuples(index=False):
        if (m, s) not in have:
            col_keys.append((display.group_rank(g), m, sig_rank[(m, s)], -1, "", s))
            have.add((m, s))
    col_keys.sort()
    # signature ids S1, S2, ... in column order
    sig_ids: dict[tuple[str, str], str] = {}
    for _, m, _, _, _, s in col_keys:
        sig_ids.setdefault((m, s), f"S{len(sig_ids) + 1}")
    headline_metrics = {m for _, m, _, _, k, s in col_keys if k and facts[(m, k, s)]["headline"]}
    columns = [Column(id=f"c{i}", group=facts[(m, k, s)]["group"], metric=m, key=k,
                      label=facts[(m, k, s)]["label"] if k else f"{m} (unavailable)", signature=s,
                      sig_id=sig_ids[(m, s)],
                      headline=(not k) or bool(facts[(m, k, s)]["headline"]) or m not in headline_metrics,
                      higher_is_better=bool(facts[(m, k, s)]["higher_is_better"]),
                      primary=bool(facts[(m, k, s)]["primary"]),
                      rank_priority=int(facts[(m, k, s)]["rank_priority"] or 0))
               for i, (_, m, _, _, k, s) in enumerate(col_keys)]

    by_rel = {r.rel: r for r in runs}
    row_keys = df[["method", "preset", "variant", "fidelity"]].drop_duplicates().sort_values(
        ["method", "preset", "fidelity", "variant"], kind="mergesort")
    rows: list[Row] = []
    for method, preset, variant, fidelity in row_keys.itertuples(index=False):
        part = df[(df["method"] == method) & (df["preset"] == preset) & (df["variant"] == variant)
                  & (df["fidelity"] == fidelity)]
        row_runs = [by_rel[r] for r in sorted(part["run"].unique())]
        cells: list[Cell] = []
        for col in columns:
            hit = part[(part["metric"] == col.metric) & (part["signature"] == col.signature)]
            vals = hit[(hit["status"] == "ok") & (hit["key"] == col.key)] if col.key else hit.iloc[0:0]
            if len(vals):
                cells.append(_pool(vals))
            elif len(hit[hit["status"] != "ok"]):
                reasons = sorted(set(hit.loc[hit["status"] != "ok", "reason"]))
                cells.append(Cell("unavailable", reason="; ".join(r for r in reasons if r)))
            else:
                cells.append(Cell("missing"))
        fid: dict[str, str] = {}
        for r in row_runs:
            fid.update(r.fidelity)
        rows.append(Row(method, preset, variant, dict(sorted(fid.items())), row_runs, cells))
    for i, col in enumerate(columns):  # best mean per column, in the column's own direction
        ok_cells = [r.cells[i] for r in rows if r.cells[i].status == "ok"]
        if len(ok_cells) >= 2:
            top = (max if col.higher_is_better else min)(c.mean for c in ok_cells)
            for c in ok_cells:
                c.best = c.mean == top
    _tag_specs(rows)
    signatures = [(sid, m, s) for (m, s), sid in sig_ids.items()]
    credentialed = any(by_rel[r].credentialed for r in df["run"].unique())
    sets = {eval_set(by_rel[r]) for r in df["run"].unique()}
    return Board(dataset, columns, rows, signatures, credentialed, eval=next(iter(sets)) if len(sets) == 1 else None,
                 key=dataset)


def boards_of(dataset: str, df: pd.DataFrame, runs: list[BoardRun]) -> list[Board]:
    """One board per evaluation set of ``dataset``: the full set with the most runs first (its page key is the
    dataset name), then the others (``<dataset>/<split>-<section>-<ids hash>``; ``--limit`` subsets labelled)."""
    part = df[df["dataset"] == dataset]
    keys = list(part["board"].unique())
    boards = [build_board(dataset, df, runs, k) for k in keys]
    boards.sort(key=lambda b: (b.subset, -sum(r.n_seeds for r in b.rows), b.eval.key if b.eval else ""))
    for i, b in enumerate(boards):
        if i and b.eval is not None:
            b.key = f"{dataset}/{b.eval.split}-{b.eval.section}-{b.eval.ids_hash[:8]}" + ("-subset" if b.subset else "")
    return boards


_SPEC_SKIP = ("method", "preset", "seed", "metrics")


def _tag_specs(rows: list[Row]) -> None:
    """Label each row with the spec fields (config flattened to ``config.a.b``) whose values differ between
    rows of the same method and preset, and any ``limit``: a partial test set must always be visible."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.method, row.preset), []).append(row)
    for group in groups.values():
        specs = [_flat_spec(r.runs[0].spec if r.runs else {}) for r in group]
        keys = sorted({k for sp in specs for k in sp})
        differ = [k for k in keys if len({json.dumps(sp.get(k), sort_keys=True) for sp in specs}) > 1]
        for row, sp in zip(group, specs):
            tags = [(k, json.dumps(sp.get(k), sort_keys=True)) for k in differ if k != "limit"]
            if sp.get("limit") is not None:
                tags.insert(0, ("limit", str(sp["limit"])))
            row.spec_tags = tags


def _flat_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Spec fields that can tell two rows apart, nested dicts (``config``) flattened to dotted keys."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = value

    walk("", {k: v for k, v in spec.items() if k not in _SPEC_SKIP})
    return out


def board_frame(board: Board) -> pd.DataFrame:
    """The board as a wide table (what the HTML shows), for CSV."""
    records = []
    for row in board.rows:
        rec: dict[str, Any] = {"method": row.method, "preset": row.preset, "variant": row.variant,
                               "fidelity": ";".join(row.fidelity), "manifest_hash": row.manifest,
                               "spec": ";".join(f"{k}={v}" for k, v in row.spec_tags),
                               "n_seeds": row.n_seeds}
        for col, cell in zip(board.columns, row.cells):
            name = f"{col.metric}.{col.key or 'status'}[{col.sig_id}]"
            if cell.status == "ok":
                rec[name] = cell.mean
                rec[f"{name}.ci_lo"] = cell.lo
                rec[f"{name}.ci_hi"] = cell.hi
            else:
                rec[name] = cell.status
        records.append(rec)
    return pd.DataFrame(records)


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def board_json(board: Board) -> dict[str, Any]:
    """The board as structured JSON, with full signatures; ``rank`` orders the rows by the main column (1 = best
    in that column's direction)."""
    main = board.main_column()
    rank = {id(r): i + 1 for i, r in enumerate(board.ranked(main))} if main is not None else {}
    return {
        "dataset": board.dataset,
        "evaluation_set": ({"manifest": board.eval.manifest, "section": board.eval.section, "split": board.eval.split,
                            "ids_sha256": board.eval.ids_hash, "n": board.eval.n, "limit": board.eval.limit,
                            "subset": board.eval.subset} if board.eval is not None else None),
        "main_column": board.columns[main].id if main is not None else None,
        "credentialed": board.credentialed,
        "signatures": {sid: {"metric": m, "signature": s} for sid, m, s in board.signatures},
        "columns": [{"id": c.id, "group": c.group, "metric": c.metric, "key": c.key, "label": c.label,
                     "signature_id": c.sig_id, "signature": c.signature,
                     "higher_is_better": c.higher_is_better} for c in board.columns],
        "ranked_by": board.columns[main].id if main is not None else None,
        "rows": [{"rank_interval": ([board.rank_of(r).lo, board.rank_of(r).hi] if board.rank_of(r) else None),
                  "tie_group": board.rank_of(r).group if board.rank_of(r) else None,
                  "method": r.method, "preset": r.preset, "variant": r.variant, "fidelity": r.fidelity,
                  "manifest_hash": r.manifest, "spec": dict(r.spec_tags),
                  "n_seeds": r.n_seeds, "runs": [x.rel for x in r.runs], "rank": rank.get(id(r)),
                  "cells": [{"status": c.status, "mean": _num(c.mean), "ci95": [_num(c.lo), _num(c.hi)],
                             "n": c.n, "ci_kind": c.ci_kind, "values": c.values, "reason": c.reason or None,
                             "reported": c.reported, "best": c.best}
                            for c in r.cells]}
                 for r in board.rows],
    }
