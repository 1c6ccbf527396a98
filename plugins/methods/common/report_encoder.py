"""The image encoder behind retrieval, trained on the training split only.

Supervision comes from the training reports, never from dataset metadata:

* the 14 CheXpert observations of each report as 4 states (blank / positive / negative / uncertain)
  from the offline labeler, one softmax per observation;
* optionally a bag of the ``bow_size`` most frequent report words (multi-label), which gives the
  encoder signal about everything the 14 labels do not cover (sizes, sides, devices, wording).

The retrieval embedding is the L2-normalised average-pooled ResNet feature, averaged over the views.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rrgbench_plugins.methods.common.backbones import ImageEncoder
from rrgbench_plugins.methods.common.batching import batches
from rrgbench_plugins.methods.common.labels import report_states
from rrgbench_plugins.methods.common.seeding import generator
from rrgbench_plugins.methods.common.training import FitConfig, fit
from torch import Tensor, nn

from rrgbench.api import CHEXPERT_LABELS, RunContext, Sample
from rrgbench.text import clean

N_STATES = 4


def bow_vocabulary(cleaned_reports: Sequence[str], size: int) -> list[str]:
    """The ``size`` most frequent words (ties alphabetical), without the sentence separator ``.``."""
    counts = Counter(w for r in cleaned_reports for w in set(r.split()) if w != ".")
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


def bow_targets(cleaned_reports: Sequence[str], vocab: Sequence[str]) -> Tensor:
    """``[N, len(vocab)]`` 0/1: does word ``j`` occur in report ``i``."""
    index = {w: j for j, w in enumerate(vocab)}
    out = torch.zeros(len(cleaned_reports), len(vocab))
    for i, report in enumerate(cleaned_reports):
        for w in set(report.split()):
            if w in index:
                out[i, index[w]] = 1.0
    return out


class ReportSupervisedEncoder(nn.Module):
    """ResNet + a 14 x 4 state head + an optional bag-of-words head."""

    def __init__(self, arch: str, n_labels: int, bow_size: int, pretrained: Path | None = None) -> None:
        super().__init__()
        self.backbone = ImageEncoder(arch, pretrained=pretrained)
        self.n_labels = n_labels
        self.state_head = nn.Linear(self.backbone.out_dim, n_labels * N_STATES)
        self.bow_head = nn.Linear(self.backbone.out_dim, bow_size) if bow_size else None

    def pooled(self, images: Tensor) -> Tensor:
        """``[B, V, 3, H, W]`` -> pooled feature ``[B, C]`` (mean over patches, then over views)."""
        batch, views = images.shape[:2]
        _, avg = self.backbone(images.flatten(0, 1))
        return avg.view(batch, views, -1).mean(1)

    def embed(self, images: Tensor) -> Tensor:
        """The retrieval embedding: L2-normalised pooled feature."""
        return F.normalize(self.pooled(images), dim=-1)

    def losses(self, images: Tensor, states: Tensor, bow: Tensor | None, bow_weight: float) -> dict[str, Tensor]:
        """Cross-entropy over the 4 states of each observation (+ ``bow_weight`` x bag-of-words BCE)."""
        feats = self.pooled(images)
        bow_logits = self.bow_head(feats) if self.bow_head is not None else None
        return report_target_losses(self.state_head(feats), bow_logits, states, bow, bow_weight)


def report_target_losses(state_logits: Tensor, bow_logits: Tensor | None, states: Tensor, bow: Tensor | None,
                         bow_weight: float = 1.0) -> dict[str, Tensor]:
    """Cross-entropy over the 4 states of each observation (``state_logits [B, C*4]``, ``states [B, C]``)
    plus ``bow_weight`` x the bag-of-words BCE when both its logits and targets are given."""
    state_loss = F.cross_entropy(state_logits.reshape(-1, N_STATES), states.reshape(-1))
    out = {"state_loss": state_loss}
    loss = state_loss
    if bow_logits is not None and bow is not None and bow_weight:
        bow_loss = F.binary_cross_entropy_with_logits(bow_logits, bow)
        out["bow_loss"] = bow_loss
        loss = loss + bow_weight * bow_loss
    out["loss"] = loss
    return out


def train_encoder(encoder: ReportSupervisedEncoder, train: Sequence[Sample], cleaning: str, bow_vocab: Sequence[str],
                  images: Callable[[Sequence[Sample], torch.Generator], Tensor], cfg: dict[str, Any],
                  ctx: RunContext, desc: str = "encoder") -> dict[str, Any]:
    """Fit ``encoder`` on ``train`` with the shared loop; ``images(samples, gen)`` gives augmented batches.

    ``cfg`` holds ``labeler``, ``batch_size``, ``bow_weight`` and the :class:`FitConfig` fields.
    """
    states = torch.from_numpy(report_states([s.report for s in train], labeler=cfg["labeler"]))
    bow = bow_targets([clean(s.report, cleaning) for s in train], bow_vocab)
    gen = generator(ctx.seed)
    device = next(encoder.parameters()).device

    def step(idx: list[int]) -> dict[str, Tensor]:
        batch = images([train[i] for i in idx], gen)
        return encoder.losses(batch, states[idx].to(device), bow[idx].to(device), float(cfg["bow_weight"]))

    facts = fit(encoder, step, lambda epoch: batches(len(train), int(cfg["batch_size"]), True, ctx.seed + epoch),
                FitConfig.from_config(cfg), ctx, desc=desc)
    positives = (states == 1).float().mean(0).tolist()
    facts.update({"labeler": cfg["labeler"], "bow_size": len(bow_vocab),
                  "train_positive_rate": dict(zip(CHEXPERT_LABELS, [round(p, 4) for p in positives]))})
    return facts
