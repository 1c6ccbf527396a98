"""R2Gen's encoder-decoder: a Transformer whose decoder is driven by a relational memory (RM).

Written from the description in notes §3 and the R2Gen paper (EMNLP 2020), matching the original's maths:

* layer norms are the "annotated transformer" kind, ``gamma * (x - mean) / (std + eps) + beta`` with the
  *unbiased* standard deviation and ``eps = 1e-6``;
* the relational memory starts as an identity matrix (padded with zeros) of ``num_slots`` rows; each step
  attends from the slots over ``[slots; y_t]``, adds an MLP, and mixes old and new memory with an input
  gate and a forget gate computed from ``y_t`` and ``tanh(M_{t-1})``;
* every decoder sub-layer uses a memory-driven conditional layer norm (MCLN): two MLPs map the flattened
  memory ``M_t`` to ``delta_gamma`` and ``delta_beta`` that are added to the norm's own gain and bias.
  The final decoder norm is a plain layer norm, as in the original.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _clones(module: nn.Module, n: int) -> nn.ModuleList:
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])


def subsequent_mask(size: int, device: torch.device | None = None) -> Tensor:
    """``[1, size, size]`` boolean mask that is True where position ``j <= i`` may be attended."""
    return torch.ones(1, size, size, dtype=torch.bool, device=device).tril()


def attention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None,
              dropout: nn.Module | None = None) -> Tensor:
    """Scaled dot-product attention; ``mask`` is broadcast and False/0 entries are blocked."""
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    if dropout is not None:
        weights = dropout(weights)
    return weights @ value


class MultiHeadedAttention(nn.Module):
    """Multi-head attention with four ``d_model x d_model`` projections (q, k, v, out)."""

    def __init__(self, heads: int, d_model: int, dropout: float = 0.1) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by {heads} heads")
        self.heads, self.d_k = heads, d_model // heads
        self.linears = _clones(nn.Linear(d_model, d_model), 4)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is not None:
            mask = mask.unsqueeze(1)  # same mask for every head
        batch = query.size(0)
        q, k, v = (lin(x).view(batch, -1, self.heads, self.d_k).transpose(1, 2)
                   for lin, x in zip(self.linears, (query, key, value)))
        x = attention(q, k, v, mask, self.dropout)
        return self.linears[-1](x.transpose(1, 2).reshape(batch, -1, self.heads * self.d_k))


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(self.dropout(F.relu(self.w_1(x))))


class LayerNorm(nn.Module):
    """``gamma * (x - mean) / (std + eps) + beta`` with the unbiased std (annotated-transformer style)."""

    def __init__(self, features: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(features))
        self.beta = nn.Parameter(torch.zeros(features))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return self.gamma * (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + self.eps) + self.beta


class ConditionalLayerNorm(nn.Module):
    """MCLN: a layer norm whose gain and bias are shifted by MLPs of the relational memory.

    ``memory`` is ``[B, T, num_slots * rm_d_model]`` (one memory state per target position).
    """

    def __init__(self, d_model: int, rm_num_slots: int, rm_d_model: int, eps: float = 1e-6) -> None:
        super().__init__()
        if rm_d_model != d_model:
            raise ValueError("MCLN needs rm_d_model == d_model (as in R2Gen)")
        self.gamma = nn.Parameter(torch.ones(d_model))
        self.beta = nn.Parameter(torch.zeros(d_model))
        self.eps = eps

        def mlp() -> nn.Sequential:
            return nn.Sequential(nn.Linear(rm_num_slots * rm_d_model, d_model), nn.ReLU(),
                                 nn.Linear(d_model, d_model))

        self.mlp_gamma, self.mlp_beta = mlp(), mlp()
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.constant_(module.bias, 0.1)

    def forward(self, x: Tensor, memory: Tensor) -> Tensor:
        gamma = self.gamma + self.mlp_gamma(memory)
        beta = self.beta + self.mlp_beta(memory)
        return gamma * (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + self.eps) + beta


class RelationalMemory(nn.Module):
    """The gated relational memory of R2Gen; ``forward`` returns the memory after every target step."""

    def __init__(self, num_slots: int, d_model: int, num_heads: int = 1) -> None:
        super().__init__()
        self.num_slots, self.d_model = num_slots, d_model
        self.attn = MultiHeadedAttention(num_heads, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, d_model), nn.ReLU())
        self.W = nn.Linear(d_model, 2 * d_model)  # gates from the input y_t
        self.U = nn.Linear(d_model, 2 * d_model)  # gates from tanh(M_{t-1})

    def init_memory(self, batch_size: int) -> Tensor:
        """``[B, slots, d]``: the identity in the first ``min(slots, d)`` columns, zeros elsewhere."""
        eye = torch.eye(self.num_slots, max(self.num_slots, self.d_model))[:, : self.d_model]
        return eye.unsqueeze(0).repeat(batch_size, 1, 1)

    def step(self, y: Tensor, memory: Tensor) -> Tensor:
        """One update ``M_{t-1} -> M_t`` for input ``y`` ``[B, d]``; memories are ``[B, slots, d]``."""
        kv = torch.cat([memory, y.unsqueeze(1)], 1)
        candidate = memory + self.attn(memory, kv, kv)
        candidate = candidate + self.mlp(candidate)
        input_gate, forget_gate = (self.W(y.unsqueeze(1)) + self.U(torch.tanh(memory))).split(self.d_model, 2)
        return torch.sigmoid(input_gate) * torch.tanh(candidate) + torch.sigmoid(forget_gate) * memory

    def forward(self, inputs: Tensor, memory: Tensor) -> Tensor:
        """``inputs`` ``[B, T, d]`` -> flattened memories ``[B, T, slots * d]``.

        Computes exactly :meth:`step` at every position, faster: the projections of the inputs (keys,
        values, ``W y_t``) are made for all positions at once and q/k/v of the memory in one matmul.
        """
        batch, steps, d = inputs.shape
        heads, d_k = self.attn.heads, self.attn.d_k
        q_lin, k_lin, v_lin, o_lin = self.attn.linears
        w_qkv = torch.cat([q_lin.weight, k_lin.weight, v_lin.weight])
        b_qkv = torch.cat([q_lin.bias, k_lin.bias, v_lin.bias])
        k_in = k_lin(inputs).view(batch, steps, 1, heads, d_k)
        v_in = v_lin(inputs).view(batch, steps, 1, heads, d_k)
        w_in = self.W(inputs)
        states = []
        for t in range(steps):
            q, k, v = F.linear(memory, w_qkv, b_qkv).view(batch, self.num_slots, 3, heads, d_k).unbind(2)
            k = torch.cat([k, k_in[:, t]], 1).transpose(1, 2)  # [B, h, slots + 1, d_k]
            v = torch.cat([v, v_in[:, t]], 1).transpose(1, 2)
            attended = attention(q.transpose(1, 2), k, v, None, self.attn.dropout)
            candidate = memory + o_lin(attended.transpose(1, 2).reshape(batch, self.num_slots, d))
            candidate = candidate + self.mlp(candidate)
            input_gate, forget_gate = (w_in[:, t:t + 1] + self.U(torch.tanh(memory))).split(d, 2)
            memory = torch.sigmoid(input_gate) * torch.tanh(candidate) + torch.sigmoid(forget_gate) * memory
            states.append(memory.flatten(1))
        return torch.stack(states, 1)


class SublayerConnection(nn.Module):
    """Pre-norm residual: ``x + dropout(sublayer(norm(x)))``."""

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.norm, self.dropout = LayerNorm(d_model), nn.Dropout(dropout)

    def forward(self, x: Tensor, sublayer) -> Tensor:  # noqa: ANN001 - a callable
        return x + self.dropout(sublayer(self.norm(x)))


class ConditionalSublayerConnection(nn.Module):
    """Pre-norm residual whose norm is an MCLN conditioned on the relational memory."""

    def __init__(self, d_model: int, dropout: float, rm_num_slots: int, rm_d_model: int) -> None:
        super().__init__()
        self.norm = ConditionalLayerNorm(d_model, rm_num_slots, rm_d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, sublayer, memory: Tensor) -> Tensor:  # noqa: ANN001 - a callable
        return x + self.dropout(sublayer(self.norm(x, memory)))


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(heads, d_model, dropout)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, dropout)
        self.sublayer = _clones(SublayerConnection(d_model, dropout), 2)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = self.sublayer[0](x, lambda h: self.self_attn(h, h, h, mask))
        return self.sublayer[1](x, self.feed_forward)


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float, rm_num_slots: int,
                 rm_d_model: int) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(heads, d_model, dropout)
        self.src_attn = MultiHeadedAttention(heads, d_model, dropout)
        self.feed_forward = PositionwiseFeedForward(d_model, d_ff, dropout)
        self.sublayer = _clones(ConditionalSublayerConnection(d_model, dropout, rm_num_slots, rm_d_model), 3)

    def forward(self, x: Tensor, hidden: Tensor, src_mask: Tensor | None, tgt_mask: Tensor,
                memory: Tensor) -> Tensor:
        x = self.sublayer[0](x, lambda h: self.self_attn(h, h, h, tgt_mask), memory)
        x = self.sublayer[1](x, lambda h: self.src_attn(h, hidden, hidden, src_mask), memory)
        return self.sublayer[2](x, self.feed_forward, memory)


class PositionalEncoding(nn.Module):
    """Sinusoidal positions added to the input, then dropout."""

    def __init__(self, d_model: int, dropout: float, max_len: int = 5000) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(x + self.pe[:, : x.size(1)])


class TokenEmbedding(nn.Module):
    """Token embedding scaled by ``sqrt(d_model)``, plus positions."""

    def __init__(self, vocab: int, d_model: int, dropout: float) -> None:
        super().__init__()
        self.lut = nn.Embedding(vocab, d_model)
        self.scale = math.sqrt(d_model)
        self.position = PositionalEncoding(d_model, dropout)

    def forward(self, ids: Tensor) -> Tensor:
        return self.position(self.lut(ids) * self.scale)


class EncoderDecoder(nn.Module):
    """Patch features -> report token log-probabilities (R2Gen's ``EncoderDecoder``).

    ``vocab`` counts id 0 (bos / eos / pad) plus every token id (``len(tokenizer) + 1``).
    """

    def __init__(self, vocab: int, d_vf: int, d_model: int = 512, d_ff: int = 512, num_layers: int = 3,
                 num_heads: int = 8, dropout: float = 0.1, drop_prob_lm: float = 0.5, rm_num_slots: int = 3,
                 rm_num_heads: int = 8, rm_d_model: int = 512) -> None:
        super().__init__()
        self.att_embed = nn.Sequential(nn.Linear(d_vf, d_model), nn.ReLU(), nn.Dropout(drop_prob_lm))
        self.encoder_layers = _clones(EncoderLayer(d_model, num_heads, d_ff, dropout), num_layers)
        self.encoder_norm = LayerNorm(d_model)
        self.tgt_embed = TokenEmbedding(vocab, d_model, dropout)
        self.rm = RelationalMemory(rm_num_slots, rm_d_model, rm_num_heads)
        self.decoder_layers = _clones(
            DecoderLayer(d_model, num_heads, d_ff, dropout, rm_num_slots, rm_d_model), num_layers)
        self.decoder_norm = LayerNorm(d_model)
        # R2Gen initialises every matrix of the transformer (not att_embed/logit) with Xavier uniform.
        for module in (self.encoder_layers, self.encoder_norm, self.tgt_embed, self.rm, self.decoder_layers):
            for p in module.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
        self.logit = nn.Linear(d_model, vocab)

    def encode(self, att_feats: Tensor) -> Tensor:
        """``[B, P, d_vf]`` patch features -> encoder states ``[B, P, d_model]`` (no padding mask)."""
        x = self.att_embed(att_feats)
        for layer in self.encoder_layers:
            x = layer(x, None)
        return self.encoder_norm(x)

    def decode(self, hidden: Tensor, ids: Tensor, tgt_mask: Tensor) -> Tensor:
        """Decoder states ``[B, T, d_model]`` for target prefix ``ids`` ``[B, T]``."""
        memory = self.rm(self.tgt_embed(ids), self.rm.init_memory(ids.size(0)).to(hidden))
        x = self.tgt_embed(ids)
        for layer in self.decoder_layers:
            x = layer(x, hidden, None, tgt_mask, memory)
        return self.decoder_norm(x)

    def forward(self, att_feats: Tensor, ids: Tensor) -> Tensor:
        """Teacher forcing: ``ids`` ``[B, T]`` (starting with bos 0) -> log-probs ``[B, T-1, vocab]``.

        As in R2Gen the last input position is cropped; padding (id 0) is masked as a key except at
        position 0, where id 0 is the bos token.
        """
        seq = ids[:, :-1]
        keep = seq > 0
        keep[:, 0] = True
        tgt_mask = keep.unsqueeze(-2) & subsequent_mask(seq.size(1), seq.device)
        out = self.decode(self.encode(att_feats), seq, tgt_mask)
        return F.log_softmax(self.logit(out), dim=-1)

    def step_logprobs(self, hidden: Tensor, prefix: Tensor) -> Tensor:
        """Log-probs of the next token after ``prefix`` ``[B, t]`` (the whole prefix is re-decoded, as in R2Gen)."""
        out = self.decode(hidden, prefix, subsequent_mask(prefix.size(1), prefix.device))
        return F.log_softmax(self.logit(out[:, -1]), dim=-1)
