"""Tiny preset only: the vision stage trained on report-derived labels.

The notebook's stage 1 trains a *pretrained* vision tower through a *pretrained* language model. With random
weights neither exists: the language-model loss through a random language model teaches the vision tower
nothing, and a frozen random tower gives the language model nothing to condition on (every measured variant
generated one normal report for all test studies). The tiny preset therefore trains its vision tower and
merger on what the training reports say, as rrgbench's ``retrieval`` encoder does: the 14 CheXpert
observations of each training report as 4 states (offline labeler, one softmax per observation) plus a bag of
the most frequent report words, both read from the mean of the merger's output tokens. The heads are thrown
away afterwards; only the tower and merger keep what they learnt. Dataset metadata labels are never used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from rrgbench_plugins.methods.common.labels import report_states
from rrgbench_plugins.methods.common.report_encoder import (
    N_STATES,
    bow_targets,
    bow_vocabulary,
    report_target_losses,
)
from torch import Tensor, nn


def lr_factor(step: int, total: int, warmup: int, cosine: bool) -> float:
    """Linear warmup over ``warmup`` steps, then constant or cosine decay to 0 at ``total``."""
    factor = min(1.0, (step + 1) / warmup) if warmup else 1.0
    if cosine and total > 0:
        factor *= 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    return factor


class LabelHeads(nn.Module):
    """CheXpert-state (14 x 4 softmax) and bag-of-words heads on the mean of one image's merger tokens."""

    def __init__(self, dim: int, n_labels: int, bow_size: int) -> None:
        super().__init__()
        self.n_labels = n_labels
        self.states = nn.Linear(dim, n_labels * N_STATES)
        self.bow = nn.Linear(dim, bow_size) if bow_size else None

    def loss(self, pooled: Tensor, states: Tensor, bow: Tensor | None) -> Tensor:
        bow_logits = self.bow(pooled) if self.bow is not None else None
        return report_target_losses(self.states(pooled), bow_logits, states, bow)["loss"]


def pooled_image_tokens(visual: nn.Module, pixel_values: Tensor, grid_thw: Tensor) -> Tensor:
    """``[B, D]``: the mean of each image's merger output tokens (what the language model receives)."""
    tokens = visual(pixel_values, grid_thw=grid_thw)
    sizes = (grid_thw.prod(-1) // (visual.spatial_merge_size ** 2)).tolist()
    return torch.stack([chunk.mean(0) for chunk in torch.split(tokens, sizes)])


def train_on_labels(visual: nn.Module, params: list[nn.Parameter], reports: Sequence[str], cleaned: Sequence[str],
                    batch_pixels: Callable[[list[int]], tuple[Tensor, Tensor]],
                    cfg: dict[str, Any], seed: int, progress: Callable[..., Any] = lambda it, **_: it
                    ) -> dict[str, Any]:
    """Train ``params`` (the vision tower and merger) with the label heads for ``cfg["steps"]`` steps.

    ``batch_pixels(indices)`` returns ``pixel_values, image_grid_thw`` of those training studies.
    ``cfg``: steps, batch_size, lr, weight_decay, warmup, bow_size, labeler, clip_norm.
    """
    device = params[0].device
    states = torch.from_numpy(report_states(list(reports), labeler=cfg["labeler"])).to(device)
    bow = bow_targets(cleaned, bow_vocabulary(cleaned, int(cfg["bow_size"]))).to(device)
    torch.manual_seed(seed)
    heads = LabelHeads(int(visual.config.out_hidden_size), states.shape[1], bow.shape[1]).to(device)
    optimizer = torch.optim.AdamW([*params, *heads.parameters()], lr=float(cfg["lr"]),
                                  weight_decay=float(cfg["weight_decay"]))
    steps, bs = int(cfg["steps"]), int(cfg["batch_size"])
    losses: list[float] = []
    epoch = 0
    bar = progress(range(steps), desc="radvision vision (report labels)", leave=False)
    it = iter(bar)
    while len(losses) < steps:
        order = np.random.default_rng([seed, epoch]).permutation(len(reports))
        for i in range(0, len(order), bs):
            if len(losses) >= steps:
                break
            next(it, None)
            idx = order[i:i + bs].tolist()
            for group in optimizer.param_groups:
                group["lr"] = float(cfg["lr"]) * lr_factor(len(losses), steps, int(cfg["warmup"]), True)
            pixel_values, grid = batch_pixels(idx)
            loss = heads.loss(pooled_image_tokens(visual, pixel_values.to(device), grid.to(device)), states[idx],
                              bow[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, float(cfg["clip_norm"]))
            optimizer.step()
            losses.append(float(loss.detach()))
        epoch += 1
    window = max(1, min(50, steps // 4))
    return {"objective": "report_labels", "steps": steps, "labeler": cfg["labeler"], "bow_size": int(bow.shape[1]),
            "label_loss_first": round(float(np.mean(losses[:window])), 4),
            "label_loss_last": round(float(np.mean(losses[-window:])), 4)}
