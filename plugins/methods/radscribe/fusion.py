"""MedViLL-style BERT fusion encoder: ``[CLS] + image embeds + [SEP] + label-text tokens``.

Follows ``MedViLLEncoder`` of the original: image patch features get BERT position and segment embeddings
(segment 0) and the BERT embedding LayerNorm; the label text (segment 1) is embedded by BERT; with
``label_cross_layers > 0`` the image embeddings first attend to the label-text embeddings (3 residual
``MultiheadAttention`` layers in the original). Unlike the original, padded label positions are masked
both in that cross-attention and in the BERT self-attention.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import BertConfig, BertModel


class LabelCrossAttention(nn.Module):
    """One residual cross-attention block: image queries, label-text keys/values."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, text: torch.Tensor, text_pad: torch.Tensor) -> torch.Tensor:
        out, _ = self.attn(query, text, text, key_padding_mask=text_pad, need_weights=False)
        return self.norm(query + self.dropout(out))


class FusionEncoder(nn.Module):
    """Returns ``hidden [B, 1 + n_img + 1 + L, H]`` and its attention mask ``[B, 1 + n_img + 1 + L]``."""

    def __init__(self, bert_config: BertConfig, img_dim: int, image_has_cls: bool, label_cross_layers: int,
                 cls_id: int, sep_id: int) -> None:
        super().__init__()
        bert = BertModel(bert_config, add_pooling_layer=False)
        hidden = bert_config.hidden_size
        self.embeddings = bert.embeddings
        self.encoder = bert.encoder
        self.img_proj = nn.Linear(img_dim, hidden) if (img_dim != hidden or not image_has_cls) else nn.Identity()
        self.cls_transform = nn.Linear(img_dim, hidden) if image_has_cls else None
        self.img_dropout = nn.Dropout(bert_config.hidden_dropout_prob)
        self.cross_layers = nn.ModuleList(
            LabelCrossAttention(hidden, bert_config.num_attention_heads, bert_config.attention_probs_dropout_prob)
            for _ in range(label_cross_layers))
        self.register_buffer("special_ids", torch.tensor([cls_id, sep_id]), persistent=False)

    def image_embeddings(self, patches: torch.Tensor) -> torch.Tensor:
        """Patch features -> BERT-space embeddings (projection + position + segment 0 + LayerNorm)."""
        b, n, _ = patches.shape
        positions = torch.arange(n, device=patches.device).unsqueeze(0).expand(b, n)
        segment = torch.zeros_like(positions)
        emb = self.img_proj(patches) + self.embeddings.position_embeddings(positions) \
            + self.embeddings.token_type_embeddings(segment)
        return self.img_dropout(self.embeddings.LayerNorm(emb))

    def forward(self, image_cls: torch.Tensor | None, img_emb: torch.Tensor, label_ids: torch.Tensor,
                label_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = img_emb.shape[0]
        dev = img_emb.device
        cls_ids = self.special_ids[:1].expand(b, 1)
        sep_ids = self.special_ids[1:].expand(b, 1)
        zeros = torch.zeros(b, 1, dtype=torch.long, device=dev)
        sep = self.embeddings(input_ids=sep_ids, token_type_ids=zeros)
        if image_cls is not None and self.cls_transform is not None:
            first = self.cls_transform(image_cls)
        else:
            first = self.embeddings(input_ids=cls_ids, token_type_ids=zeros)
        text = self.embeddings(input_ids=label_ids, token_type_ids=torch.ones_like(label_ids))
        for layer in self.cross_layers:
            img_emb = layer(img_emb, text, label_mask == 0)
        hidden = torch.cat([first, img_emb, sep, text], dim=1)
        mask = torch.cat([torch.ones(b, img_emb.shape[1] + 2, dtype=label_mask.dtype, device=dev), label_mask], 1)
        extended = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        out = self.encoder(hidden, attention_mask=extended).last_hidden_state
        return out, mask
