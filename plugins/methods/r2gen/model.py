"""R2Gen = visual extractor (ResNet patch features of every view) + the RM/MCLN encoder-decoder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rrgbench_plugins.methods.common.backbones import ImageEncoder
from torch import Tensor, nn

from .beam import beam_search
from .transformer import EncoderDecoder


class R2GenModel(nn.Module):
    """``images [B, views, 3, H, W]`` -> report log-probs (training) or token ids (beam search).

    All views go through the same ResNet; their patch features are concatenated (IU X-ray: 2 views,
    98 patches of 2048-d at 224 px; MIMIC-CXR: 1 view).
    """

    def __init__(self, cfg: dict[str, Any], vocab: int, pretrained: Path | None = None) -> None:
        super().__init__()
        self.visual_extractor = ImageEncoder(cfg["arch"], pretrained=pretrained)
        self.encoder_decoder = EncoderDecoder(
            vocab=vocab, d_vf=self.visual_extractor.out_dim, d_model=cfg["d_model"], d_ff=cfg["d_ff"],
            num_layers=cfg["num_layers"], num_heads=cfg["num_heads"], dropout=cfg["dropout"],
            drop_prob_lm=cfg["drop_prob_lm"], rm_num_slots=cfg["rm_num_slots"], rm_num_heads=cfg["rm_num_heads"],
            rm_d_model=cfg["rm_d_model"])

    def att_feats(self, images: Tensor) -> Tensor:
        """``[B, V, 3, H, W]`` -> concatenated patch features ``[B, V * P, d_vf]``."""
        batch, views = images.shape[:2]
        patches, _ = self.visual_extractor(images.flatten(0, 1))
        return patches.reshape(batch, views * patches.size(1), patches.size(2))

    def forward(self, images: Tensor, ids: Tensor) -> Tensor:
        """Teacher-forced log-probs ``[B, T-1, vocab]`` of ``ids[:, 1:]``."""
        return self.encoder_decoder(self.att_feats(images), ids)

    @torch.no_grad()
    def generate(self, images: Tensor, beam_size: int, max_len: int) -> list[list[int]]:
        """Beam-search token ids (no bos/eos) for each image set."""
        hidden = self.encoder_decoder.encode(self.att_feats(images))
        return beam_search(self.encoder_decoder.step_logprobs, hidden, images.size(0), beam_size, max_len)


def language_model_loss(logprobs: Tensor, ids: Tensor) -> Tensor:
    """R2Gen's ``LanguageModelCriterion``: mean NLL of ``ids[:, 1:]`` over real tokens and the final eos.

    ``ids`` are right-padded with 0; the mask covers each report's tokens plus its eos (the first 0 after
    bos), i.e. ``len(encode(report)) - 1`` positions.
    """
    target = ids[:, 1:]
    lengths = (ids[:, 1:] > 0).sum(1) + 1  # tokens + eos
    positions = torch.arange(target.size(1), device=ids.device).unsqueeze(0)
    mask = (positions < lengths.unsqueeze(1)).to(logprobs.dtype)
    nll = -logprobs.gather(2, target.unsqueeze(2)).squeeze(2)
    return (nll * mask).sum() / mask.sum()
