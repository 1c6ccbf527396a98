"""State-aware Balancing Diagnosis (OS-RRG ``models/sbd.py``, ``modules/losses.py``; notes §5).

Three expert heads on a separate image backbone predict ``[B, 4, C]`` state logits. Each expert's loss
adds a different log-prior to its logits (the SADE-style diverse logit adjustment); after each epoch the
prior is re-estimated from the experts' probabilities *after* that adjustment (in the original the loss
adjusts the logits in place, and the same tensors feed the prior update). Prediction takes, per observation, the state
of the single most confident (expert, state) pair.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..common.backbones import ImageEncoder
from ..common.labels import NEG, POS, UNC

NO_FINDING = 13  # index of "No Finding" in CHEXPERT_LABELS


class SBD(nn.Module):
    def __init__(self, encoder: ImageEncoder, n_obs: int = 14, n_experts: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder, self.n_obs = encoder, n_obs
        self.experts = nn.ModuleList(nn.Sequential(nn.Linear(encoder.out_dim, 4 * n_obs), nn.Dropout(dropout))
                                     for _ in range(n_experts))
        for expert in self.experts:  # the original: weights N(0, 0.001), default bias init
            nn.init.normal_(expert[0].weight, std=0.001)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        _, avg = self.encoder(images)
        return [e(avg).view(-1, 4, self.n_obs) for e in self.experts]

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return predict_states(self(images))


def predict_states(expert_logits: list[torch.Tensor]) -> torch.Tensor:
    """``[B, C]`` states: softmax per expert, concatenate on the state axis (3×4 rows), argmax, mod 4."""
    probs = torch.cat([F.softmax(lg, dim=1) for lg in expert_logits], dim=1)
    return probs.argmax(1) % 4


def adjusted_logits(expert_logits: list[torch.Tensor], prior: torch.Tensor, alpha: float = 1.0) -> list[torch.Tensor]:
    """The three experts' logit adjustments with ``log(prior.clamp(min=0.1))`` (prior ``[4, C]``)."""
    logp = torch.log(prior.clamp_min(0.1)).unsqueeze(0)
    e1, e2, e3 = (lg.clone() for lg in expert_logits)
    e1[:, UNC] += logp[:, UNC]
    e1[:, POS] += alpha * logp[:, POS]
    e2[:, POS] += logp[:, POS]
    e3[:, POS] += alpha * logp[:, POS]
    e3[:, NEG] += logp[:, NEG]
    return [e1, e2, e3]


def diverse_expert_loss(expert_logits: list[torch.Tensor], states: torch.Tensor, prior: torch.Tensor,
                        alpha: float = 1.0, estimator: PriorEstimator | None = None) -> torch.Tensor:
    """Sum of the three experts' cross-entropies on their adjusted logits; ``estimator`` (if given) records
    the softmax of those same adjusted logits for the end-of-epoch prior update."""
    adjusted = adjusted_logits(expert_logits, prior, alpha)
    if estimator is not None:
        estimator.add(adjusted, states)
    return sum(F.cross_entropy(lg, states) for lg in adjusted)


class PriorEstimator:
    """Accumulates, over an epoch, the experts' probabilities on samples of each true state.

    ``add`` takes the *logit-adjusted* expert logits (:func:`adjusted_logits`), as the original does.
    Update rule: prior[POS] ← mean p(POS) of expert 2 on true-POS samples, prior[NEG] ← expert 3's p(NEG)
    on true-NEG, prior[UNC] ← expert 1's p(UNC) on true-UNC; "No Finding" NEG/UNC stay 1. Observations
    with no sample of a state keep the old value; BLA is never updated.
    """

    SOURCES = ((POS, 1), (NEG, 2), (UNC, 0))  # (state, expert index)

    def __init__(self, n_obs: int = 14) -> None:
        self.sums = torch.zeros(4, n_obs, dtype=torch.float64)
        self.counts = torch.zeros(4, n_obs, dtype=torch.float64)

    @torch.no_grad()
    def add(self, expert_logits: list[torch.Tensor], states: torch.Tensor) -> None:
        for state, expert in self.SOURCES:
            p = F.softmax(expert_logits[expert].detach().double(), dim=1)[:, state].cpu()
            mask = (states == state).cpu().double()
            self.sums[state] += (p * mask).sum(0)
            self.counts[state] += mask.sum(0)

    def updated(self, prior: torch.Tensor) -> torch.Tensor:
        new = prior.detach().cpu().double().clone()
        seen = self.counts > 0
        new[seen] = self.sums[seen] / self.counts[seen]
        new[NEG, NO_FINDING] = 1.0
        new[UNC, NO_FINDING] = 1.0
        return new.float()
