"""Diagnosis heads of the family: 4-state classifier with logit adjustment, text bank, retrieval memory.

* :class:`StateClassifier` — PromptMRG's ``cls_head``: ``[B, 4, C]`` logits over BLA/POS/NEG/UNC per
  observation; training adds ``log(pos_prior)`` to the POS logit (logit adjustment), inference does not.
* :class:`TextBank` — substitute for the CLIP/MedCLIP report features: TF-IDF over word pieces reduced by
  a truncated SVD, L2-normalised (notes §12).
* :class:`RetrievalMemory` — PromptMRG's cross-modal feature enhancement: the top-k training reports
  retrieved for an image go through a DETR-style transformer queried by the projected image feature. The
  image→report retriever (a linear map trained with InfoNCE against the bank) replaces the offline
  MIMIC-CLIP retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class StateClassifier(nn.Module):
    def __init__(self, in_dim: int, n_obs: int = 14) -> None:
        super().__init__()
        self.n_obs = n_obs
        self.head = nn.Linear(in_dim, 4 * n_obs)
        nn.init.normal_(self.head.weight, std=0.001)  # PromptMRG ``cls_head`` init: N(0, 0.001), bias 0
        nn.init.zeros_(self.head.bias)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(feats).view(-1, 4, self.n_obs)


def adjust_logits(logits: torch.Tensor, pos_prior: torch.Tensor) -> torch.Tensor:
    """``[B, 4, C]`` logits with ``log(pos_prior)`` added to the POS row (PromptMRG's logit adjustment)."""
    adjusted = logits.clone()
    adjusted[:, 1, :] = adjusted[:, 1, :] + torch.log(pos_prior.clamp_min(1e-8)).view(1, -1)
    return adjusted


def logit_adjusted_loss(logits: torch.Tensor, states: torch.Tensor, pos_prior: torch.Tensor) -> torch.Tensor:
    """CE over the 4 states on :func:`adjust_logits` (PromptMRG ``forward``)."""
    return F.cross_entropy(adjust_logits(logits, pos_prior), states)


def pos_prior_from_labels(states: np.ndarray) -> np.ndarray:
    """Initial ``base_probs``: POS prevalence per observation, divided by its max (PromptMRG)."""
    freq = np.maximum((states == 1).mean(0), 1e-3)
    return (freq / freq.max()).astype(np.float32)


def update_pos_prior(pos_probs: np.ndarray, states: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Validation update of ``base_probs``: mean predicted POS probability on samples whose truth is POS,
    normalised by the max; observations without a POS sample keep their old value (``eval_blip``)."""
    new = old.astype(np.float64).copy()
    for c in range(states.shape[1]):
        mask = states[:, c] == 1
        if mask.any():
            new[c] = max(float(pos_probs[mask, c].mean()), 1e-3)
    return (new / new.max()).astype(np.float32)


class TextBank:
    """TF-IDF (over token ids) → truncated SVD text embeddings; ``embed`` works for unseen texts too."""

    def __init__(self, idf: torch.Tensor, components: torch.Tensor) -> None:
        self.idf, self.components = idf, components  # [V], [V, dim]

    @property
    def dim(self) -> int:
        return self.components.shape[1]

    @classmethod
    def fit(cls, token_lists: Sequence[Sequence[int]], vocab_size: int, dim: int, seed: int = 0) -> TextBank:
        tf = _counts(token_lists, vocab_size)
        df = (tf > 0).float().sum(0)
        idf = torch.log((1 + len(token_lists)) / (1 + df)) + 1
        x = F.normalize(tf * idf, dim=1)
        rank = min(dim, x.shape[0], x.shape[1])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, _, v = torch.svd_lowrank(x, q=rank, niter=6)
        comps = torch.zeros(vocab_size, dim)
        comps[:, :rank] = v
        return cls(idf, comps)

    def embed(self, token_lists: Sequence[Sequence[int]]) -> torch.Tensor:
        x = F.normalize(_counts(token_lists, self.idf.shape[0]) * self.idf, dim=1)
        return F.normalize(x @ self.components, dim=1)

    def state(self) -> dict[str, torch.Tensor]:
        return {"idf": self.idf, "components": self.components}


def _counts(token_lists: Sequence[Sequence[int]], vocab_size: int) -> torch.Tensor:
    out = torch.zeros(len(token_lists), vocab_size)
    for i, ids in enumerate(token_lists):
        if len(ids):
            out[i].index_add_(0, torch.tensor(list(ids)), torch.ones(len(ids)))
    return out


class RetrievalMemory(nn.Module):
    """Retrieve ``k`` bank rows for an image and summarise them with a 1-query DETR-style transformer."""

    def __init__(self, img_dim: int, bank: torch.Tensor, d_model: int = 512, k: int = 21, layers: int = 2,
                 heads: int = 8, ff: int = 2048, tau: float = 0.07) -> None:
        super().__init__()
        self.k, self.tau = min(k, bank.shape[0] - 1), tau
        self.register_buffer("bank", bank.clone())  # [N_train, text_dim], saved with the model
        self.retriever = nn.Linear(img_dim, bank.shape[1])
        self.vision_proj = nn.Linear(img_dim, d_model)
        self.text_proj = nn.Linear(bank.shape[1], d_model)
        self.transformer = nn.Transformer(d_model, heads, layers, layers, ff, dropout=0.1, batch_first=True)

    def retrieve(self, avg: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, k]`` bank indices by cosine similarity; ``exclude[b]`` (a sample's own report) is skipped."""
        with torch.no_grad():
            sims = F.normalize(self.retriever(avg), dim=1) @ self.bank.T
            if exclude is not None:
                sims[torch.arange(len(exclude)), exclude] = -float("inf")
            return sims.topk(self.k, dim=1).indices

    def retrieval_loss(self, avg: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """InfoNCE of image → own report over the whole bank (trains our substitute retriever)."""
        logits = F.normalize(self.retriever(avg), dim=1) @ self.bank.T / self.tau
        return F.cross_entropy(logits, target)

    def forward(self, avg: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        idx = self.retrieve(avg, exclude)
        memory = self.text_proj(self.bank[idx])  # [B, k, d]
        query = self.vision_proj(avg).unsqueeze(1)  # [B, 1, d]
        return self.transformer(memory, query).squeeze(1)
