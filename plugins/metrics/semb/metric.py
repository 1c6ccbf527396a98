"""``semb``: SembScore = cos(CheXbert [CLS] embedding of the hypothesis, that of the reference), mean over pairs.

As CXR-Report-Metric's ``add_semb_col`` (embeddings from ``CheXbert/src/encode.py``, logits off). The
encoder is the user's ``chexbert.pth`` loaded strictly (:class:`rrgbench.clinical.chexbert.CheXbertLabeler`);
options ``checkpoint``, ``bert_dir``, ``device``, ``batch_size``. Unavailable (never 0) without the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rrgbench import __version__
from rrgbench.api import Metric
from rrgbench.clinical.chexbert import CheXbertLabeler


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity (0 where a vector has norm 0)."""
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def semb_scores(encoder: CheXbertLabeler, hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
    """Per-pair SembScore; each distinct text is embedded once."""
    texts = sorted(set(hyps) | set(refs))
    emb = dict(zip(texts, np.asarray(encoder.embed(texts), dtype=np.float64)))
    h = np.stack([emb[t] for t in hyps])
    r = np.stack([emb[t] for t in refs])
    return [float(x) for x in cosine_rows(h, r)]


class SembScore(Metric):
    """Cosine of CheXbert embeddings; corpus = mean over pairs."""

    name = "semb"
    version = "1.0"
    group = "CE"
    labels = {"semb": "SembScore"}
    headline = ("semb",)
    pairwise = True
    reproducibility = "float"  # batched BERT forward passes: padding changes the last float bits
    float_tolerance = 1e-5

    def __init__(self, checkpoint: str | None = None, bert_dir: str | None = None, device: str | None = None,
                 batch_size: int | str = 32, **options: Any) -> None:
        super().__init__(checkpoint=checkpoint, bert_dir=bert_dir, device=device, batch_size=batch_size, **options)
        self.encoder = CheXbertLabeler(checkpoint, bert_dir, device, batch_size)

    def availability(self) -> str | None:
        return self.encoder.availability()

    def signature(self) -> str:
        return "|".join([f"metric:{self.name}", f"rrgbench:{__version__}", f"model:{self.encoder.signature()}",
                         "emb:cls-last-layer", "sim:cosine", "agg:mean"])

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        return [{"semb": s} for s in semb_scores(self.encoder, hyps, refs)]

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        return {"semb": float(np.mean([s["semb"] for s in stats])) if stats else 0.0}

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        v = np.array([s["semb"] for s in stats], dtype=float)
        return {"semb": (weights @ v) / weights.sum(1)}
