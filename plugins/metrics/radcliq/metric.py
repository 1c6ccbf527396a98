"""``radcliq``: RadCliQ-v0 and -v1 per report pair from four components (:mod:`rrgbench.clinical.radcliq`).

Options (every file local; nothing is downloaded):

``radgraph_model_dir`` / ``radgraph_encoder_dir``  the original ``radgraph`` model (not -xl), as the
                                                    ``radgraph`` metric finds it
``chexbert_checkpoint`` / ``chexbert_bert_dir``     chexbert.pth for SembScore, as the ``semb`` metric
``bertscore_model_path``                            distilroberta-base (else ``<models_root>/bertscore/
                                                    distilroberta-base`` or the HF cache)
``bertscore_num_layers`` (5)                        bert-score's layer for distilroberta-base
``idf`` (true)                                      BERTScore IDF from the references being scored
``device``, ``batch_size``

Score keys: ``radcliq_v1`` and ``radcliq_v0`` = mean of the raw per-sample values (lower is better; CIs
from the bootstrap over samples) and ``radcliq_v1_inv_mean_display`` = 1 / mean(raw v1), a display value
only (ReXrank's column; meaningless when the mean nears or crosses 0). Per sample: both RadCliQ values and
the four components.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rrgbench import __version__
from rrgbench.api import Metric, UnavailableError
from rrgbench.clinical import radcliq as rc
from rrgbench.clinical.chexbert import CheXbertLabeler

KEYS = ("radcliq_v1", "radcliq_v0", "radcliq_v1_inv_mean_display")
COMPONENTS = ("radgraph_combined", "bertscore", "semb_score", "bleu_score")


def _truthy(value: Any) -> bool:
    return str(value).lower() not in ("0", "false", "no", "off")


class RadCliQ(Metric):
    """RadCliQ v0 / v1, raw (lower is better), from locally available component models."""

    name = "radcliq"
    version = "1.0"
    higher_is_better = False
    group = "RadGraph"
    labels = {"radcliq_v1": "RadCliQ-v1 (lower better)", "radcliq_v0": "RadCliQ-v0 (lower better)",
              "radcliq_v1_inv_mean_display": "1/RadCliQ-v1 (display only)"}
    headline = ("radcliq_v1",)
    primary = "radcliq_v1"
    reproducibility = "float"  # batched BERT forward passes: padding changes the last float bits
    float_tolerance = 1e-5

    def __init__(self, radgraph_model_dir: str | None = None, radgraph_encoder_dir: str | None = None,
                 chexbert_checkpoint: str | None = None, chexbert_bert_dir: str | None = None,
                 bertscore_model_path: str | None = None, bertscore_num_layers: int | str = 5, idf: Any = True,
                 device: str | None = None, batch_size: int | str = 32, **options: Any) -> None:
        super().__init__(radgraph_model_dir=radgraph_model_dir, radgraph_encoder_dir=radgraph_encoder_dir,
                         chexbert_checkpoint=chexbert_checkpoint, chexbert_bert_dir=chexbert_bert_dir,
                         bertscore_model_path=bertscore_model_path, bertscore_num_layers=bertscore_num_layers,
                         idf=idf, device=device, batch_size=batch_size, **options)
        from rrgbench_plugins.metrics.radgraph.metric import RadGraphF1

        self.radgraph = RadGraphF1(model_type="radgraph", model_dir=radgraph_model_dir,
                                   encoder_dir=radgraph_encoder_dir, device=device, lowercase=False)
        self.chexbert = CheXbertLabeler(chexbert_checkpoint, chexbert_bert_dir, device, batch_size)
        self.bertscore_model_path = bertscore_model_path
        self.num_layers = int(bertscore_num_layers)
        self.idf = _truthy(idf)
        self.device = device
        self.batch_size = int(batch_size)

    @classmethod
    def describe(cls, scores: Any) -> Any:
        """RadCliQ keys are lower-is-better; the 1/mean display key is the one higher-is-better key."""
        display = super().describe(scores)
        if "radcliq_v1_inv_mean_display" in display.order:
            display.higher_is_better["radcliq_v1_inv_mean_display"] = True
        return display

    def _bertscore_dir(self) -> tuple[Any, str]:
        from rrgbench_plugins.metrics.bertscore.settings import SETTINGS, resolve

        return resolve(SETTINGS["rexrank"], self.bertscore_model_path)

    def availability(self) -> str | None:
        reasons = [f"RadGraph component: {r}" for r in [self.radgraph.availability()] if r]
        reasons += [f"SembScore component: {r}" for r in [self.chexbert.availability()] if r]
        reasons += [f"BERTScore component: {r}" for r in [self._bertscore_dir()[1]] if r]
        return "; ".join(reasons) or None

    def signature(self) -> str:
        from importlib.metadata import version

        bs = "distilroberta-base" + ("(local-dir)" if self.bertscore_model_path else "")
        return "|".join([f"metric:{self.name}", f"rrgbench:{__version__}", "coefs:CXR-Report-Metric@9c9ecad",
                         f"rg:{self.radgraph.signature()}", f"bs:{bs}:L{self.num_layers}:rescaled:"
                         f"idf-{'refs' if self.idf else 'no'}:bert-score-{version('bert-score')}",
                         f"semb:{self.chexbert.signature()}", "bleu:bleu2-fast_bleu-smooth1-lower-dot-split",
                         "agg:mean-raw"])

    def _bertscore(self, hyps: Sequence[str], refs: Sequence[str]) -> list[float]:
        from bert_score import BERTScorer
        from rrgbench_plugins.metrics.bertscore.settings import baseline_file

        model_dir, reason = self._bertscore_dir()
        if model_dir is None:
            raise UnavailableError(reason)
        hyps = [re.sub(r" +", " ", h) for h in hyps]
        refs = [re.sub(r" +", " ", r) for r in refs]
        scorer = BERTScorer(model_type=str(model_dir), num_layers=self.num_layers, lang="en",
                            rescale_with_baseline=True, baseline_path=str(baseline_file("distilroberta-base")),
                            idf=self.idf, idf_sents=list(refs) if self.idf else None,
                            batch_size=self.batch_size, device=self.device)
        import torch

        with torch.inference_mode():
            _, _, f1 = scorer.score(list(hyps), list(refs), batch_size=self.batch_size)
        return [float(x) for x in f1.tolist()]

    def components(self, hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
        """``[n, 4]`` component values (order :data:`~rrgbench.clinical.radcliq.COLS`)."""
        from rrgbench_plugins.metrics.semb.metric import semb_scores

        reason = self.availability()
        if reason:
            raise UnavailableError(reason)
        ann = self.radgraph._annotate(list(hyps) + list(refs))
        rg = [rc.radgraph_combined(ann.get(h), ann.get(r)) for h, r in zip(hyps, refs)]
        bs = self._bertscore(hyps, refs)
        semb = semb_scores(self.chexbert, hyps, refs)
        bleu = [rc.bleu2(rc.prep_tokens(h), rc.prep_tokens(r)) for h, r in zip(hyps, refs)]
        return np.column_stack([rg, bs, semb, bleu]).astype(float)

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        return [dict(zip(COMPONENTS, map(float, row))) for row in self.components(hyps, refs)]

    @staticmethod
    def _values(stats: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        x = np.array([[s[c] for c in COMPONENTS] for s in stats], dtype=float).reshape(-1, 4)
        return rc.radcliq_v1(x), rc.radcliq_v0(x)

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        v1, v0 = self._values(stats)
        return [{"radcliq_v1": float(a), "radcliq_v0": float(b), **s} for a, b, s in zip(v1, v0, stats)]

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        out = self.batch_aggregate(stats, np.ones((1, len(stats))))
        return {k: float(v[0]) for k, v in out.items()}

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        v1, v0 = self._values(stats)
        W = np.asarray(weights, dtype=float)
        m1, m0 = (W @ v1) / W.sum(1), (W @ v0) / W.sum(1)
        with np.errstate(divide="ignore"):
            inv = np.where(m1 != 0, 1.0 / np.where(m1 != 0, m1, 1.0), np.inf)
        return {"radcliq_v1": m1, "radcliq_v0": m0, "radcliq_v1_inv_mean_display": inv}
