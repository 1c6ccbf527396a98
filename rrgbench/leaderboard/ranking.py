"""Rank intervals for a board's headline column: paired bootstrap over the samples every row shares.

For the ranking column (``Board.main_column``), every run of each row is re-aggregated from its metric's
per-sample statistics (the score cache, else the metric recomputes them; nothing is scored when the
metric is unavailable here or its signature differs from the column's). The same ``B`` resamples of the
sample ids shared by every run are applied to every run (paired); a row of several seeds scores the mean
of its runs' scores on each resample, as its cell shows the mean over seeds. Each resample ranks the rows
(1 = best in the column's direction), and a row's 95 % rank interval is the 2.5 / 97.5 percentiles of
its ranks. Rows are
split into statistically tied groups down the ranking: a row starts a new group when the paired 95 %
interval of its difference to the previous row excludes 0.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .records import BoardRun
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


def _row_stats(row: Row, metric_name: str, signature: str) -> list[tuple[Any, dict[str, dict[str, Any]]]] | None:
    """``[(metric, {sample id: stats})]`` for every run (seed) of the row, or ``None`` when one of them cannot
    be had here (a mean over some of the seeds would not be the row's score)."""
    runs = [_run_stats(rec, metric_name, signature) for rec in row.runs]
    return None if any(r is None for r in runs) else runs  # type: ignore[return-value]


def _run_stats(rec: BoardRun, metric_name: str, signature: str) -> tuple[Any, dict[str, dict[str, Any]]] | None:
    from ..io import iter_jsonl
    from ..rundir import GENERATIONS
    from ..scoring import engine

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


def resampled_scores(board: Board, b: int = 1000, seed: int = 0) -> tuple[list[Row], np.ndarray] | None:
    """``(rows, scores[R, 1 + b])`` of the ranking column: column 0 each row's score on the shared samples
    (the mean over its seeds), then ``b`` paired resamples; ``None`` when fewer than two rows can be had."""
    from ..scoring.resample import batch_scores, resample_weights

    col = board.main_column()
    if col is None:
        return None
    column = board.columns[col]
    ranked = [r for r in board.ranked(col) if r.cells[col].status == "ok"]
    got = {id(r): _row_stats(r, column.metric, column.signature) for r in ranked}
    rows = [r for r in ranked if got[id(r)] is not None]
    if len(rows) < 2:
        return None
    shared = sorted(set.intersection(*(set(by_id) for r in rows for _, by_id in got[id(r)])))  # type: ignore[union-attr]
    if len(shared) < 2:
        return None
    w = np.vstack([np.ones((1, len(shared))), resample_weights(len(shared), b, seed)])
    scores = np.empty((len(rows), w.shape[0]))
    for i, r in enumerate(rows):
        scores[i] = np.mean([batch_scores(metric, [by_id[s] for s in shared], w)[column.key]
                             for metric, by_id in got[id(r)]], axis=0)  # type: ignore[union-attr]
    return rows, scores


def rank_intervals(board: Board, b: int = 1000, seed: int = 0) -> dict[int, RankInfo]:
    """``{id(row): RankInfo}`` for the rows of ``board`` scored in its ranking column (empty when < 2)."""
    got = resampled_scores(board, b, seed)
    if got is None:
        return {}
    rows, scores = got
    column = board.columns[board.main_column()]  # type: ignore[index]
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
