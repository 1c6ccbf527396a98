"""ISD losses: logit knowledge distillation (``SoftTarget``, T = 4) and similarity-preserving relational
distillation, written for any batch size (the original hard-codes 16)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def logit_kd(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None,
             temperature: float = 4.0) -> torch.Tensor:
    """``KL(softmax(t/T) ‖ softmax(s/T)) · T²`` summed over (valid) positions, averaged over the batch
    (``F.kl_div(..., reduction="batchmean")`` on ``[B, L, V]`` logits)."""
    log_s = F.log_softmax(student / temperature, dim=-1)
    p_t = F.softmax(teacher.detach() / temperature, dim=-1)
    kl = (p_t * (torch.log(p_t.clamp_min(1e-12)) - log_s)).sum(-1)
    if mask is not None:
        kl = kl * mask.to(kl.dtype)
    return kl.sum() / student.shape[0] * temperature**2


def _relations(feats: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    f = feats.flatten(1)
    g = logits.flatten(1)
    return F.normalize(torch.cat([f @ f.T, g @ g.T], dim=1), dim=1)


def relational_kd(s_feats: torch.Tensor, s_logits: torch.Tensor, t_feats: torch.Tensor,
                  t_logits: torch.Tensor) -> torch.Tensor:
    """Batch Gram matrices of flattened features and of classifier logits, concatenated and row-normalised;
    the L2 distance between student and teacher rows, summed over the batch."""
    diff = _relations(s_feats, s_logits) - _relations(t_feats.detach(), t_logits.detach())
    return (diff.pow(2).sum(1) + 1e-12).sqrt().sum()
