"""RadGraph F1 metric (:mod:`rrgbench_plugins.metrics.radgraph.reward`).

Options: ``model_type`` (``radgraph-xl`` default, as the radgraph package; ``radgraph`` is ReXrank's v1),
``model_dir``, ``encoder_dir``, ``device``, ``lowercase`` (True: case-insensitive as upstream intends).
Score keys: ``radgraph_simple``, ``radgraph_partial``, ``radgraph_complete`` (means over pairs).
Annotations are cached per text hash under ``<cache_root>/labels/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rrgbench.api import Metric
from rrgbench.clinical.cache import shared_cache

from .reward import LEVELS, RadGraphAnnotator, rewards


def _truthy(value: Any) -> bool:
    return str(value).lower() not in ("0", "false", "no", "off")


class RadGraphF1(Metric):
    """Mean RadGraph reward per level over report pairs; unavailable (never 0) without the weights."""

    name = "radgraph"
    group = "RadGraph"
    labels = {"radgraph_simple": "RadGraph simple", "radgraph_partial": "RadGraph partial",
              "radgraph_complete": "RadGraph complete"}
    default_suite = True
    version = "1"

    @classmethod
    def model_assets(cls) -> list[tuple[Any, Any]]:
        """The RadGraph models and encoders (``rrgbench models``)."""
        from .reward import model_assets

        return model_assets()

    def __init__(self, model_type: str = "radgraph-xl", model_dir: str | None = None,
                 encoder_dir: str | None = None, device: str | None = None, lowercase: Any = True,
                 **options: Any) -> None:
        super().__init__(model_type=model_type, model_dir=model_dir, encoder_dir=encoder_dir, device=device,
                         lowercase=lowercase, **options)
        self.annotator = RadGraphAnnotator(model_type, model_dir, encoder_dir, device)
        self.lowercase = _truthy(lowercase)

    def availability(self) -> str | None:
        return self.annotator.availability()

    def signature(self) -> str:
        try:
            import importlib.metadata

            version = importlib.metadata.version("radgraph")
        except Exception:  # noqa: BLE001
            version = "missing"
        import sys

        from rrgbench.clinical.cache import source_hash

        from . import reward as radgraph_f1

        code = source_hash(radgraph_f1, sys.modules[__name__])
        return (f"model:{self.annotator.model_type}:{self.annotator.identity()}|radgraph:{version}|"
                f"case:{'lower' if self.lowercase else 'upstream-0.1.18'}|empty:0|agg:mean|rg:{self.version}+{code}")

    def _annotate(self, texts: list[str]) -> dict[str, dict[str, Any]]:
        todo = sorted({t for t in texts if t.strip()})
        key = f"radgraph@{self.annotator.model_type}:{self.annotator.identity()}"
        cache = shared_cache(key, persist=True)
        return dict(zip(todo, cache.label(todo, self.annotator.annotate))) if todo else {}

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        ann = self._annotate(list(hyps) + list(refs))
        out = []
        for h, r in zip(hyps, refs):
            vals = rewards(ann.get(h), ann.get(r), self.lowercase)
            out.append({f"radgraph_{lvl}": v for lvl, v in zip(LEVELS, vals)})
        return out

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        keys = [f"radgraph_{lvl}" for lvl in LEVELS]
        if not stats:
            return dict.fromkeys(keys, 0.0)
        arr = np.array([[s[k] for k in keys] for s in stats], dtype=float)
        return {k: float(v) for k, v in zip(keys, arr.mean(0))}

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Weighted means for every weight row ``[B, n]`` at once (vectorised bootstrap)."""
        keys = [f"radgraph_{lvl}" for lvl in LEVELS]
        W = np.asarray(weights, dtype=float)
        arr = np.array([[s[k] for k in keys] for s in stats], dtype=float).reshape(-1, len(keys))
        total = W.sum(1, keepdims=True)
        means = np.divide(W @ arr, total, out=np.zeros((W.shape[0], len(keys))), where=total != 0)
        return {k: means[:, i] for i, k in enumerate(keys)}

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
        return [dict(s) for s in stats]
