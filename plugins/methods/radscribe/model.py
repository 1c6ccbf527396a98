"""The RadScribe network: image encoder -> MedViLL-style fusion encoder -> T5 decoder.

The T5 encoder is frozen and bypassed (as in the original): the fusion output is handed to
``T5ForConditionalGeneration`` as ``encoder_outputs``. A small label head on the pooled image embeddings
predicts the 14 CheXpert observations; its predictions (never the ground truth) form the label text at
validation and test time.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, T5Config, T5ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput

from rrgbench.api import CHEXPERT_LABELS

from .fusion import FusionEncoder
from .image_encoders import build_image_encoder


class RadScribeNet(nn.Module):
    def __init__(self, config: dict[str, Any], bert_config: BertConfig, t5_config: T5Config, cls_id: int,
                 sep_id: int, image_weights: Any = None, decoder: T5ForConditionalGeneration | None = None,
                 vit_config: Any = None) -> None:
        super().__init__()
        self.image_encoder = build_image_encoder(config, image_weights, vit_config)
        with_labels = config["label_source"] != "none"
        self.fusion = FusionEncoder(bert_config, self.image_encoder.out_dim, self.image_encoder.has_cls,
                                    int(config["label_cross_layers"]) if with_labels else 0, cls_id, sep_id)
        hidden = bert_config.hidden_size
        self.label_head = nn.Linear(hidden, len(CHEXPERT_LABELS)) if with_labels else None
        self.decoder = decoder if decoder is not None else T5ForConditionalGeneration(t5_config)
        self.bridge = nn.Linear(hidden, t5_config.d_model) if hidden != t5_config.d_model else nn.Identity()
        for p in self.decoder.encoder.parameters():  # frozen and bypassed, as in the original
            p.requires_grad = False
        if self.decoder.encoder.embed_tokens is self.decoder.shared:
            self.decoder.shared.weight.requires_grad = True  # tied with the decoder input embedding

    def encoder_modules(self) -> list[nn.Module]:
        """Everything the original puts in its ``encoder`` parameter group."""
        mods: list[nn.Module] = [self.image_encoder, self.fusion, self.bridge]
        return mods + ([self.label_head] if self.label_head is not None else [])

    def encode_image(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """Image CLS (ViT only), BERT-space image embeddings and label logits ``[B, 14]`` (or None)."""
        cls, patches = self.image_encoder(images)
        img_emb = self.fusion.image_embeddings(patches)
        logits = self.label_head(img_emb.mean(1)) if self.label_head is not None else None
        return cls, img_emb, logits

    def fuse(self, cls: torch.Tensor | None, img_emb: torch.Tensor, label_ids: torch.Tensor,
             label_mask: torch.Tensor) -> tuple[BaseModelOutput, torch.Tensor]:
        hidden, mask = self.fusion(cls, img_emb, label_ids, label_mask)
        return BaseModelOutput(last_hidden_state=self.bridge(hidden)), mask

    def loss(self, images: torch.Tensor, label_ids: torch.Tensor, label_mask: torch.Tensor,
             targets: torch.Tensor, positives: torch.Tensor | None, label_weight: float) -> dict[str, torch.Tensor]:
        """T5 cross-entropy on ``targets`` (-100 = ignore) plus the label head's BCE on ``positives``."""
        cls, img_emb, logits = self.encode_image(images)
        enc, mask = self.fuse(cls, img_emb, label_ids, label_mask)
        lm = self.decoder(encoder_outputs=enc, attention_mask=mask, labels=targets, use_cache=False).loss
        out = {"lm": lm}
        if logits is not None and positives is not None:
            out["labels"] = F.binary_cross_entropy_with_logits(logits.float(), positives.float())
            out["loss"] = lm + label_weight * out["labels"]
        else:
            out["loss"] = lm
        return out
