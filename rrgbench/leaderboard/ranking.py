"""Rank intervals for a board's headline column: paired bootstrap over the samples every row shares.

For the ranking column (``Board.main_column``), each row's first run is re-aggregated from its metric's
per-sample statistics (the score cache, else the metric recomputes them; nothing is scored when the
metric is unavailable here or its signature differs from the column's). The same ``B`` resamples of the
shared sample ids are applied to every row (paired), each resample ranks the rows (1 = best in the
column's direction), and a row's 95 % rank interval is the 2.5 / 97.5 percentiles of its ranks. Rows are
split into statistically tied groups down the ranking: a row starts a new group when the paired 95 %
interval of its difference to the previous row excludes 0.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .table import Board, Row

log = logging.getLogger("rrgbench.leaderboard.ranking")


@dataclass
class RankInfo:
    lo: int
    hi: int
    group: int  # 1 = the top tied group

    @property
    def text(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}–{self.hi}"


def _row_stats(row: Row, metric_name: str, signature: str) -> tuple[Any, dict[str, dict[str, Any]]] | None:
    """``(metric, {sample id: stats})`` of the row's first run, or ``None`` when it cannot be had here."""
    from ..io import iter_jsonl
    from ..rundir import GENERATIONS
    from ..scoring import engine

    rec = row.runs[0]
    try:
        gens = list(iter_jsonl(rec.path / GENERATIONS))
        options = ((rec.run.get("spec") or {}).get("metric_options") or {}).get(metric_name)
        cleaning = (rec.run.get("dataset") or {}).get("cleaning", "r2gen_iu")
        metric = engine.make_metric(metric_name, options, cleaning)
        if metric.availability() or metric.signature() != signature:
            return None
        _, stats = engine.sample_stats(metric_name, [g["report"] for g in gens], [g["reference"] for g in gens],
                                       options=options, cleaning=cleaning)
    except Exception as exc:  # noqa: BLE001 - a row without intervals, never a failed site build
        log.info("no rank interval for %s: %s", rec.rel, exc)
        return None
    return metric, {str(g["id"]): s for g, s in zip(gens, stats)}


def rank_intervals(board: Board, b: int = 1000, seed: int = 0) -> dict[int, RankInfo]:
    """``{id(row): RankInfo}`` for the rows of ``board`` scored in its ranking column (empty when < 2)."""
    from ..scoring.resample import batch_scores, resample_weights

    col = board.main_column()
    if col is None:
        return {}
    column = board.columns[col]
    ranked = [r for r in board.ranked(col) if r.cells[col].status == "ok"]
    got = {id(r): _row_stats(r, column.metric, column.signature) for r in ranked}
    rows = [r for r in ranked if got[id(r)] is not None]
    if len(rows) < 2:
        return {}
    shared = sorted(set.intersection(*(set(got[id(r)][1]) for r in rows)))  # type: ignore[index]
    if len(shared) < 2:
        return {}
    w = np.vstack([np.ones((1, len(shared))), resample_weights(len(shared), b, seed)])
    scores = np.empty((len(rows), w.shape[0]))
    for i, r in enumerate(rows):
        metric, by_id = got[id(r)]  # type: ignore[misc]
        scores[i] = batch_scores(metric, [by_id[s] for s in shared], w)[column.key]
    signed = scores if column.higher_is_better else -scores
    signed = np.nan_to_num(signed, nan=-math.inf)
    order = np.argsort(np.argsort(-signed[:, 1:], axis=0, kind="stable"), axis=0, kind="stable") + 1  # [R, B]
    point = np.argsort(-signed[:, 0], kind="stable")  # rows by their estimate on the shared samples
    out: dict[int, RankInfo] = {}
    group = 1
    for pos, i in enumerate(point):
        if pos:
            prev = point[pos - 1]
            diff = signed[prev, 1:] - signed[i, 1:]
            lo = float(np.nanpercentile(diff, 2.5))
            if lo > 0:  # the previous row is better in 97.5 % of resamples: a new group starts here
                group += 1
        lo_r, hi_r = np.percentile(order[i], [2.5, 97.5])
        out[id(rows[i])] = RankInfo(int(math.floor(lo_r)), int(math.ceil(hi_r)), group)
    return out
