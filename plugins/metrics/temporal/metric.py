"""``temporal``: do the hypothesis and reference make the same statements about change over time?

Per pair, :func:`.lexicon.temporal_terms` gives two sets of canonical change / comparison terms
(H from the hypothesis, R from the reference); TP = |H ∩ R|, FP = |H - R|, FN = |R - H|.

* per sample: P = TP / |H|, R = TP / |R|, F1 = 2 TP / (2 TP + FP + FN); a pair where neither side
  mentions any temporal term scores 1.0 on all three (they agree: no temporal claim), a pair where only
  one side does scores 0;
* corpus ``temporal_f1`` / ``temporal_precision`` / ``temporal_recall``: means of the per-sample values;
  ``temporal_f1_micro``: F1 of the summed TP / FP / FN; ``temporal_coverage``: share of references that
  mention any temporal term (how much of the score rests on the empty-pair rule).

Offline and deterministic; the lexicon version (and a hash of its source) is in the signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rrgbench import __version__
from rrgbench.api import Metric

from . import lexicon

KEYS = ("temporal_f1", "temporal_precision", "temporal_recall", "temporal_f1_micro", "temporal_coverage")


def pair_scores(hyp: Sequence[str], ref: Sequence[str]) -> dict[str, float]:
    """Per-sample P / R / F1 of two term sets (see the module docstring for the empty cases)."""
    h, r = set(hyp), set(ref)
    if not h and not r:
        return {"temporal_precision": 1.0, "temporal_recall": 1.0, "temporal_f1": 1.0}
    tp = len(h & r)
    return {"temporal_precision": tp / len(h) if h else 0.0, "temporal_recall": tp / len(r) if r else 0.0,
            "temporal_f1": 2 * tp / (len(h) + len(r))}


class TemporalMetric(Metric):
    """Set F1 of temporal (change / comparison) terms, hypothesis vs reference."""

    name = "temporal"
    version = "1.0"
    group = "Other"
    pairwise = True

    def signature(self) -> str:
        from rrgbench.clinical.cache import source_hash

        return "|".join([f"metric:{self.name}", f"rrgbench:{__version__}",
                         f"lexicon:temporal-v{lexicon.VERSION}+{source_hash(lexicon)}", "match:set",
                         "empty_pair:1", f"terms:{len(lexicon.TERMS)}"])

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        return [{"hyp": sorted(lexicon.temporal_terms(h)), "ref": sorted(lexicon.temporal_terms(r))}
                for h, r in zip(hyps, refs)]

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**pair_scores(s["hyp"], s["ref"]), "hyp_terms": s["hyp"], "ref_terms": s["ref"]} for s in stats]

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        out = self.batch_aggregate(stats, np.ones((1, len(stats))))
        return {k: float(v[0]) for k, v in out.items()}

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every key for each row of ``weights`` ``[B, n]`` (bootstrap resamples) at once."""
        rows = [pair_scores(s["hyp"], s["ref"]) for s in stats]
        per = {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]} if rows else {}
        tp = np.array([len(set(s["hyp"]) & set(s["ref"])) for s in stats], dtype=float)
        nh = np.array([len(s["hyp"]) for s in stats], dtype=float)
        nr = np.array([len(s["ref"]) for s in stats], dtype=float)
        W = np.asarray(weights, dtype=float)
        total = W.sum(1)
        safe = np.where(total > 0, total, 1.0)
        out = {k: (W @ v) / safe for k, v in per.items()}
        denom = W @ (nh + nr)
        out["temporal_f1_micro"] = np.divide(2 * (W @ tp), denom, out=np.zeros_like(denom), where=denom > 0)
        out["temporal_coverage"] = (W @ (nr > 0).astype(float)) / safe
        return {k: out[k] for k in KEYS}
