"""Optimal-transport cross-attention (REVTAF ``AttentionOT``, from OTSeg) and the IoU consistency loss.

Two variants, chosen by the method config (``ot`` and ``iou``, default ``paper``):

* ``paper`` (:class:`OTDecoderLayer`, the paper's description): attention weights are the entropic OT plan
  between the 49 patch queries and the K text keys under a cosine cost, by log-domain Sinkhorn (ε = 0.05,
  ≤ 100 iterations, uniform marginals) rescaled so each query's weights sum to one; multi-head, after a
  patch self-attention, GELU FFN; the maps are the plans. IoU maps: per-map min-max, threshold 0.5 with
  a straight-through gradient.
* ``released`` (:class:`ReleasedOTLayer`, a transcription of the released ``TPN_DecoderLayer`` /
  ``AttentionOT`` / ``overlap_loss``): the patches enter as the M axis of a single query (Nq = 1), so the
  Sinkhorn plan is uniform (1/M) and every patch receives the same text average; one head; no
  self-attention; FFN 4·d with ReLU; the maps are ``M·Nq·T·cos`` ≈ the cosine similarities; one layer
  shared by both branches. IoU: one min-max over the whole map tensor, threshold ≥ 0.5, no gradient through
  the maps (only the text similarity is trained by this loss).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinkhorn_log(cost: torch.Tensor, eps: float = 0.05, iters: int = 100, key_mask: torch.Tensor | None = None,
                 tol: float = 1e-4) -> torch.Tensor:
    """Entropic OT plan ``[..., Nq, Nk]`` with uniform marginals (masked keys get zero mass)."""
    nq, nk = cost.shape[-2], cost.shape[-1]
    cost = cost.float()  # log-domain iterations in fp32 even under bf16 autocast
    k = -cost / eps
    log_mu = torch.full(cost.shape[:-1], -math.log(nq), dtype=cost.dtype, device=cost.device)
    if key_mask is None:
        key_mask = torch.ones(cost.shape[:-2] + (nk,), dtype=torch.bool, device=cost.device)
    n_valid = key_mask.sum(-1, keepdim=True).clamp_min(1).to(cost.dtype)
    log_nu = torch.where(key_mask, -torch.log(n_valid), torch.full_like(n_valid, -float("inf")))
    log_nu = log_nu.expand(cost.shape[:-2] + (nk,))
    u = torch.zeros_like(log_mu)
    v = torch.where(key_mask, 0.0, -float("inf")).to(cost.dtype).expand_as(log_nu)
    for _ in range(iters):
        u_prev = u
        u = log_mu - torch.logsumexp(k + v.unsqueeze(-2), dim=-1)
        v = log_nu - torch.logsumexp(k + u.unsqueeze(-1), dim=-2)
        if (u - u_prev).abs().max() < tol:
            break
    return torch.exp(k + u.unsqueeze(-1) + v.unsqueeze(-2))


class OTAttention(nn.Module):
    """Multi-head cross-attention whose weights are Sinkhorn plans on the cosine cost."""

    def __init__(self, dim: int, heads: int, eps: float = 0.05, iters: int = 100) -> None:
        super().__init__()
        self.heads, self.eps, self.iters = heads, eps, iters
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, mem: torch.Tensor, key_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        b, nq, d = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, -1, h, d // h).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(mem)), split(self.v(mem))
        cost = 1 - F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-1, -2)
        mask = key_mask[:, None, :].expand(b, h, -1) if key_mask is not None else None
        attn = sinkhorn_log(cost, self.eps, self.iters, mask) * nq  # rows sum to 1
        out = (attn @ v).transpose(1, 2).reshape(b, nq, d)
        return self.out(out), attn.mean(1)


class OTDecoderLayer(nn.Module):
    """TPN-style decoder layer: self-attention over patches, OT cross-attention to texts, FFN (post-norm)."""

    def __init__(self, dim: int, heads: int, ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross = OTAttention(dim, heads)
        self.ffn = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, dim))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mem: torch.Tensor, key_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.norms[0](x + self.drop(self.self_attn(x, x, x, need_weights=False)[0]))
        y, attn = self.cross(x, mem, key_mask)
        x = self.norms[1](x + self.drop(y))
        return self.norms[2](x + self.drop(self.ffn(x))), attn


class ReleasedOTLayer(nn.Module):
    """The released code's OT decoder layer (Nq = 1; see the module docstring). Post-norm residuals:
    ``x = norm2(x + drop(OT(x, txt)))``, ``x = norm3(x + drop(W2 drop(relu(W1 x))))``."""

    def __init__(self, dim: int, ff: int | None = None, dropout: float = 0.1, eps: float = 0.05,
                 iters: int = 100) -> None:
        super().__init__()
        self.eps, self.iters = eps, iters
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))
        self.attn_drop = nn.Dropout(dropout)
        self.linear1, self.linear2 = nn.Linear(dim, ff or 4 * dim), nn.Linear(ff or 4 * dim, dim)
        self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop, self.drop2, self.drop3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def attend(self, x: torch.Tensor, mem: torch.Tensor, key_mask: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, M, d]`` patches, ``mem [B, K, d]`` texts → (``[B, M, d]`` output, ``[B, M, K]`` score maps)."""
        m = x.shape[1]
        sim = F.normalize(self.k(mem), dim=-1) @ F.normalize(self.q(x), dim=-1).transpose(1, 2)  # [B, K, M]
        plan = sinkhorn_log((1.0 - sim).unsqueeze(-1), self.eps, self.iters).squeeze(-1)  # [B, K, M], = 1/M
        score = m * 1 * sim * plan  # M·Nq·sim·T
        attn = self.attn_drop(plan)
        if key_mask is not None:  # padded sentences (our batching) contribute nothing
            attn = attn * key_mask[:, :, None].to(attn.dtype)
        out = self.proj(attn.transpose(1, 2) @ self.v(mem))  # [B, M, d]: Σ_k T[k, m] v_k
        return out, score.transpose(1, 2)

    def forward(self, x: torch.Tensor, mem: torch.Tensor, key_mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        y, maps = self.attend(x, mem, key_mask)
        x = self.norm2(x + self.drop2(y))
        x = self.norm3(x + self.drop3(self.linear2(self.drop(F.relu(self.linear1(x))))))
        return x, maps


def released_maps(attn: torch.Tensor, size: int) -> torch.Tensor:
    """The released ``overlap_loss`` binarisation: ``attn [B, HW, K]`` → ``[B, K, size²]`` 0/1 maps after
    bilinear upsampling and ONE min-max over the whole tensor, ``>= 0.5``, no gradient."""
    b, hw, k = attn.shape
    side = int(round(hw**0.5))
    maps = F.interpolate(attn.transpose(1, 2).reshape(b, k, side, side), size=(size, size), mode="bilinear",
                         align_corners=False)
    maps = (maps - maps.min()) / (maps.max() - maps.min() + 1e-6)
    return (maps >= 0.5).to(attn.dtype).detach().flatten(2)


def attention_maps(attn: torch.Tensor, size: int) -> torch.Tensor:
    """``attn [B, HW, K]`` → per-key maps ``[B, K, size, size]``, bilinear upsampled, min-max normalised, and
    binarised at 0.5 with a straight-through gradient."""
    b, hw, k = attn.shape
    side = int(round(hw**0.5))
    maps = attn.transpose(1, 2).reshape(b, k, side, side)
    maps = F.interpolate(maps, size=(size, size), mode="bilinear", align_corners=False)
    lo = maps.amin(dim=(-1, -2), keepdim=True)
    hi = maps.amax(dim=(-1, -2), keepdim=True)
    maps = (maps - lo) / (hi - lo).clamp_min(1e-6)
    hard = (maps > 0.5).to(maps.dtype)
    return hard + maps - maps.detach()


def consistency_loss(region_attn: torch.Tensor, global_attn: torch.Tensor, region_txt: torch.Tensor,
                     global_txt: torch.Tensor, size: int, global_mask: torch.Tensor | None = None,
                     mode: str = "paper") -> torch.Tensor:
    """Mean of ``1 - sigmoid(cos(region_i, global_j)) · IoU(map_i, map_j)`` over every (i, j) pair;
    ``mode`` picks the map binarisation (``paper``: per-map, straight-through; ``released``: global, none)."""
    if mode == "released":
        r, g = released_maps(region_attn, size), released_maps(global_attn, size)
        inter = r @ g.transpose(1, 2)
        iou = inter / (r.sum(-1, keepdim=True) + g.sum(-1).unsqueeze(1) - inter + 1e-8)
    elif mode == "paper":
        r = attention_maps(region_attn, size).flatten(2)  # [B, R, P]
        g = attention_maps(global_attn, size).flatten(2)  # [B, G, P]
        inter = r @ g.transpose(1, 2)
        union = r.sum(-1, keepdim=True) + g.sum(-1).unsqueeze(1) - inter
        iou = inter / union.clamp_min(1e-6)
    else:
        raise ValueError(f"iou mode must be 'paper' or 'released', not {mode!r}")
    sim = torch.sigmoid(F.normalize(region_txt, dim=-1) @ F.normalize(global_txt, dim=-1).transpose(1, 2))
    loss = 1 - sim * iou
    if global_mask is None:
        return loss.mean()
    weight = global_mask[:, None, :].to(loss.dtype).expand_as(loss)
    return (loss * weight).sum() / weight.sum().clamp_min(1)
