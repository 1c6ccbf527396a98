"""The CE metric over any labeler: :class:`CEMetric` (labels -> positive masks -> :func:`.ce.ce_scores`).

``sample_stats`` labels each hypothesis and reference once (reference labels come from the per-text-hash
cache after the first time) and keeps, per pair, the 14 label states and the two positive bitmasks;
``aggregate`` only unpacks bitmasks with numpy, so bootstrap resamples are cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..api import CHEXPERT_LABELS, Metric
from . import get_labeler, label_reports
from .ce import CEConfig, ce_scores, ce_scores_weighted, example_scores, positive_mask


class CEMetric(Metric):
    """Clinical efficacy with the labeler named by ``labeler_name`` (options: preset, labels, uncertain,
    averages; any other option goes to the labeler)."""

    labeler_name: ClassVar[str] = "chexpert_rules"
    group: ClassVar[str] = "CE"
    version: ClassVar[str] = "2"  # bump whenever stats or per-sample rows change (the score cache keys on it)

    def __init__(self, preset: str | None = None, labels: Any = None, uncertain: str | None = None,
                 averages: Any = None, **labeler_options: Any) -> None:
        super().__init__(preset=preset, labels=labels, uncertain=uncertain, averages=averages, **labeler_options)
        self.config = CEConfig.from_options(preset, labels, uncertain, averages)
        self.labeler_options = labeler_options

    def _labeler(self) -> Any:
        return get_labeler(self.labeler_name, **self.labeler_options)

    def availability(self) -> str | None:
        check = getattr(self._labeler(), "availability", None)
        return check() if check else None

    def signature(self) -> str:
        import sys

        from . import ce
        from .cache import source_hash

        code = source_hash(ce, sys.modules[__name__])
        return f"labeler:{self._labeler().signature()}|{self.config.signature()}|ce:{self.version}+{code}"

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        hyp_labels = label_reports(hyps, self.labeler_name, **self.labeler_options)
        ref_labels = label_reports(refs, self.labeler_name, **self.labeler_options)
        unc = self.config.uncertain
        return [{"hyp_pos": positive_mask(h, unc), "ref_pos": positive_mask(r, unc),
                 "hyp_labels": [h[k] for k in CHEXPERT_LABELS], "ref_labels": [r[k] for k in CHEXPERT_LABELS]}
                for h, r in zip(hyp_labels, ref_labels)]

    @staticmethod
    def _masks(stats: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        n = len(stats)
        return (np.fromiter((s["hyp_pos"] for s in stats), dtype=np.int64, count=n),
                np.fromiter((s["ref_pos"] for s in stats), dtype=np.int64, count=n))

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        return ce_scores(*self._masks(stats), self.config)

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Scores for every weight row at once (the engine's vectorised bootstrap / randomization)."""
        return ce_scores_weighted(*self._masks(stats), self.config, weights)

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Per report: example-based P / R / F1 / accuracy, plus both label dicts (1 / 0 / -1 / null) so that
        readers (leaderboard sample pages, analyses) see the states this labeler gave."""
        rows: list[dict[str, Any]] = []
        for s in stats:
            row: dict[str, Any] = dict(example_scores(s["hyp_pos"], s["ref_pos"], self.config))
            if "hyp_labels" in s:
                row["hyp_labels"] = dict(zip(CHEXPERT_LABELS, s["hyp_labels"]))
                row["ref_labels"] = dict(zip(CHEXPERT_LABELS, s["ref_labels"]))
            rows.append(row)
        return rows
