"""The CE metric over any labeler: :class:`CEMetric` (labels -> positive masks -> :func:`.ce.ce_scores`).

``sample_stats`` labels each hypothesis and reference once (reference labels come from the per-text-hash
cache after the first time) and keeps, per pair, the 14 label states and the two positive bitmasks;
``aggregate`` only unpacks bitmasks with numpy, so bootstrap resamples are cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..api import CHEXPERT_LABELS, Display, Metric
from . import DEFAULT_LABELER, get_labeler, label_reports
from .ce import CEConfig, ce_scores, ce_scores_weighted, example_scores, positive_mask


class CEMetric(Metric):
    """Clinical efficacy with the labeler named by ``labeler_name`` (options: preset, labels, uncertain,
    averages; any other option goes to the labeler)."""

    labeler_name: ClassVar[str] = DEFAULT_LABELER  # any registered labeler; the ``labeler`` option chooses another
    group: ClassVar[str] = "CE"
    label_prefix: ClassVar[str] = "CE"  # display names: "<prefix> F1 (micro)", "<prefix> F1 · Edema"
    version: ClassVar[str] = "2"  # bump whenever stats or per-sample rows change (the score cache keys on it)

    def __init__(self, preset: str | None = None, labels: Any = None, uncertain: str | None = None,
                 averages: Any = None, labeler: str | None = None, **labeler_options: Any) -> None:
        super().__init__(preset=preset, labels=labels, uncertain=uncertain, averages=averages, **labeler_options)
        if labeler:
            from ..plugins import get_host

            self.labeler_name = get_host().labelers.resolve(labeler)
        self.config = CEConfig.from_options(preset, labels, uncertain, averages)
        self.labeler_options = labeler_options

    def _labeler(self) -> Any:
        return get_labeler(self.labeler_name, **self.labeler_options)

    def availability(self) -> str | None:
        return self._labeler().availability()

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

    @classmethod
    def per_label(cls, key: str) -> str | None:
        """The CheXpert observation a key such as ``ce_f1/Pleural Effusion`` is about."""
        return _observation(key)

    @classmethod
    def describe(cls, scores: Any) -> Display:
        """CE display facts: F1 (micro / macro / example, 5-label micro) as headline, every key named from its
        tokens (``ce5_f1_micro`` -> "CE-5 F1 (micro)"), per-observation keys for the per-label chart."""
        base = super().describe(scores)
        keys = list(base.order)
        headline = [k for k in keys if k not in base.per_label and _ce_headline(k)]
        return replace(base, labels={k: _ce_label(cls.label_prefix, k) for k in keys}, headline=headline,
                       order=sorted(keys, key=_ce_rank))

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


_WORDS = {"f1": "F1", "precision": "P", "recall": "R", "accuracy": "Acc", "micro": "(micro)", "macro": "(macro)",
          "example": "(example)", "weighted": "(weighted)", "exact": "exact"}
_RANK = {"ce": 0, "ce5": 1, "f1": 0, "precision": 1, "recall": 2, "accuracy": 3, "micro": 0, "macro": 1,
         "weighted": 2, "example": 3, "exact": 4}


def _flat(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _observation(key: str) -> str | None:
    flat = _flat(key)
    return next((lab for lab in CHEXPERT_LABELS if _flat(lab) in flat), None)


def _ce_headline(key: str) -> bool:
    low = key.lower()
    if low.startswith("ce5_"):
        return low == "ce5_f1_micro"
    if low.startswith("ce_"):
        return low in ("ce_f1_micro", "ce_f1_macro", "ce_f1_example")
    return "f1" in low


def _ce_label(prefix: str, key: str) -> str:
    label = _observation(key)
    rest = key.replace(label, " ") if label and label in key else key
    words = [w for w in re.split(r"[_/\s]+", rest) if w]
    if words and words[0].lower() in ("ce", "ce5"):
        if words.pop(0).lower() == "ce5":
            prefix = f"{prefix}-5"
    out = " ".join([prefix] + [_WORDS.get(w.lower(), w) for w in words])
    return f"{out} · {label}" if label else out


def _ce_rank(key: str) -> tuple:
    label = _observation(key)
    tokens = re.split(r"[_/\s]+", key.replace(label, "") if label else key.lower())
    return (bool(label), tuple((_RANK.get(t.lower(), 9), t) for t in tokens if t), label or "")
