"""UMLS factuality metric; formula and backends in :mod:`rrgbench_plugins.metrics.umls.concepts`.

Options: ``backend`` (``lexicon`` default, ``scispacy``), ``negation`` (``exclude`` / ``keep``), and for scispaCy
``model`` and ``linker_dir``. Score keys: ``umls_precision``, ``umls_recall``, ``umls_f1``, ``umls_accuracy``
(RadScribe's tanh-scaled values), the same with ``_raw``, and ``umls_length_factor``. CUI sets are cached per
text hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rrgbench.api import Metric
from rrgbench.clinical.cache import shared_cache

from .concepts import (
    ALPHA,
    SIGMA,
    make_backend,
    pair_stats,
    scores_from_counts,
    scores_from_counts_batch,
)

_BACKENDS: dict[tuple[str, ...], Any] = {}


class UMLSFactuality(Metric):
    """CUI-set agreement of hypothesis and reference (RadScribe CLINICAL_*)."""

    name = "umls"
    group = "UMLS"
    labels = {f"umls_{k}{raw}": f"UMLS {name}{' raw' if raw else ''}"
              for k, name in (("f1", "F1"), ("precision", "P"), ("recall", "R"), ("accuracy", "Acc"))
              for raw in ("", "_raw")} | {"umls_length_factor": "UMLS length factor"}
    headline = ("umls_f1", "umls_f1_raw")
    default_suite = True
    version = "1"

    def __init__(self, backend: str = "lexicon", negation: str | None = None, model: str | None = None,
                 linker_dir: str | None = None, **options: Any) -> None:
        super().__init__(backend=backend, negation=negation, model=model, linker_dir=linker_dir, **options)
        key = (backend, str(negation), str(model), str(linker_dir))
        if key not in _BACKENDS:
            _BACKENDS[key] = make_backend(backend, negation=negation, model=model, linker_dir=linker_dir)
        self.backend = _BACKENDS[key]

    def availability(self) -> str | None:
        return self.backend.availability()

    def signature(self) -> str:
        import sys

        from rrgbench.clinical.cache import source_hash

        code = source_hash(sys.modules[__name__])
        return (f"backend:{self.backend.signature()}|formula:radscribe(alpha={ALPHA:g},sigma={SIGMA:g},tanh)|"
                f"pool:micro|umls:{self.version}+{code}")

    def _concepts(self, texts: list[str]) -> dict[str, list[str]]:
        sig = self.backend.signature()
        cache = shared_cache(f"umls@{sig}", persist=self.backend.name != "lexicon")
        uniq = sorted(set(texts))
        return dict(zip(uniq, cache.label(uniq, self.backend.concepts))) if uniq else {}

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        cuis = self._concepts(list(hyps) + list(refs))
        out = []
        for h, r in zip(hyps, refs):
            hs, rs = set(cuis[h]), set(cuis[r])
            out.append({**pair_stats(hs, rs), "hyp_cuis": sorted(hs), "ref_cuis": sorted(rs)})
        return out

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        if not stats:
            return scores_from_counts(0, 0, 0, 0.0)
        arr = np.array([(s["tp"], s["fp"], s["fn"], s["pen"]) for s in stats], dtype=float)
        tp, fp, fn = arr[:, :3].sum(0)
        return scores_from_counts(tp, fp, fn, float(arr[:, 3].mean()))

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Pooled counts and mean length factor for every weight row ``[B, n]`` at once."""
        W = np.asarray(weights, dtype=float)
        arr = np.array([(s["tp"], s["fp"], s["fn"], s["pen"]) for s in stats], dtype=float).reshape(-1, 4)
        sums = W @ arr
        total = W.sum(1)
        lf = np.divide(sums[:, 3], total, out=np.zeros_like(total), where=total != 0)
        return scores_from_counts_batch(sums[:, 0], sums[:, 1], sums[:, 2], lf)

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
        rows = []
        for s in stats:
            scores = scores_from_counts(s["tp"], s["fp"], s["fn"], s["pen"])
            rows.append({k: v for k, v in scores.items() if k.endswith("_raw") or k == "umls_f1"})
        return rows
