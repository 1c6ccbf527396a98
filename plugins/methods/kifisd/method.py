"""KIF-ISD on the shared family core (notes §7).

KIF: a 27-node knowledge graph (plus a global node) is encoded under its adjacency mask; image patches
cross-attend to it and the fused patches become the decoder memory. The diagnosis prompt generator is
PromptMRG's: retrieval memory + 4-state classifier with logit adjustment. ISD: stage ``teacher`` trains
the model; stage ``student`` trains a fresh model of the same architecture with the frozen teacher through
logit KD (T = 4, weight 0.01, over every token position as the original) and relational distillation on
the raw backbone patch features and the logit-adjusted classifier output (the original's
``image_embeds_feature`` and in-place adjusted ``cls_preds``). Loss = L_lm + 4·L_cls (+ 0.01·KD + L_mid).
Each stage keeps the epoch with the best validation score (the original selected on test BLEU-1).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rrgbench.api import Dataset, RRGBenchError
from rrgbench.seeding import seed_everything

from ..promptmrg_family.heads import (
    RetrievalMemory,
    StateClassifier,
    TextBank,
    adjust_logits,
)
from ..promptmrg_family.method import FamilyMethod
from .distill import logit_kd, relational_kd
from .graph import NODES, CrossModalFusion, KnowledgeGraphEncoder


class KIFModel(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module, graph: KnowledgeGraphEncoder, bank: torch.Tensor,
                 cfg: dict[str, Any], n_obs: int = 14) -> None:
        super().__init__()
        img_dim, d = encoder.out_dim, int(cfg["graph_dim"])
        self.encoder, self.decoder, self.graph = encoder, decoder, graph
        self.fusion = CrossModalFusion(img_dim, d, int(cfg["fusion_heads"]), int(cfg["graph_ff"]),
                                       int(cfg["fusion_hidden"]))
        self.memory = RetrievalMemory(img_dim, bank, d_model=int(cfg["memory_dim"]), k=int(cfg["retrieval_k"]),
                                      heads=int(cfg["memory_heads"]), ff=int(cfg["memory_ff"]))
        self.cls = StateClassifier(img_dim + int(cfg["memory_dim"]), n_obs)

    def forward(self, images: torch.Tensor, exclude: torch.Tensor | None = None):
        """Fused patch memory ``[B, HW, C]``, state logits ``[B, 4, 14]``, the pooled image feature and the
        raw backbone patches ``[B, HW, C]`` (the relational-distillation features)."""
        patches, avg = self.encoder(images)
        fused = self.fusion(patches, self.graph())
        logits = self.cls(torch.cat([avg, self.memory(avg, exclude)], 1))
        return fused, logits, avg, patches


class KIFISD(FamilyMethod):
    name = "kifisd"
    version = "0.1"
    stages = ("teacher", "student")

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        cfg = super().default_config(preset, dataset)
        paper = preset == "paper"
        cfg.update(
            epochs=10 if paper else 8, cls_weight=4.0, kd_weight=0.01, kd_temperature=4.0,
            mid_weight=1.0, retrieval_weight=1.0, graph_dim=768 if paper else 64, graph_heads=6 if paper else 4,
            graph_ff=1024 if paper else 128, fusion_heads=16 if paper else 4, fusion_hidden=1024 if paper else 128,
            text_dim=512 if paper else 64, memory_dim=512 if paper else 64, memory_heads=8 if paper else 4,
            memory_ff=2048 if paper else 128, retrieval_k=21,
        )
        return cfg

    def prepare_extra(self, data: Dataset) -> None:
        bank = TextBank.fit(self.train_reports, self.tokenizer.vocab_size, int(self.config["text_dim"]),
                            seed=self.ctx.seed)
        self.report_feats = bank.embed(self.train_reports)
        self.ctx.substitute("MIMIC-CLIP text features", "TF-IDF + truncated SVD over the training reports")
        self.ctx.substitute("CLIP retrieval indices", "image->report retriever trained with InfoNCE in-run")
        self.ctx.substitute("node embeddings", "random init over our WordPiece vocabulary (original: random init "
                                               "over the SciBERT vocabulary)")
        self.teacher: KIFModel | None = None

    def build_model(self) -> nn.Module:
        cfg = self.config
        encoder = self.image_encoder(cfg["image_arch"], "resnet-101")
        nodes = [self.tokenizer.encode(n) or [self.tokenizer.unk_id] for n in NODES]
        graph = KnowledgeGraphEncoder(nodes, self.tokenizer.vocab_size, int(cfg["graph_dim"]),
                                      int(cfg["graph_heads"]), int(cfg["graph_ff"]))
        return KIFModel(encoder, self.report_decoder(encoder.out_dim), graph, self.report_feats, cfg, self.n_obs)

    # ------------------------------------------------------------------------------------ stages
    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        if stage not in self.stages:
            raise RRGBenchError(f"kifisd: unknown stage {stage!r}; stages are {self.stages}")
        if stage == "student":
            # the model trained (or loaded) so far becomes the frozen teacher; the student starts afresh
            self.teacher = copy.deepcopy(self.model).eval().requires_grad_(False)
            seed_everything(self.ctx.seed + 1, deterministic=True)
            self.model = self.build_model().to(self.device)

        def step(b: dict[str, Any]) -> dict[str, torch.Tensor]:
            return self.losses(b, stage)

        def epoch_end(epoch: int) -> dict[str, Any]:
            return self.update_pos_prior_on_val(data, lambda images: self.model(images)[1])

        return self.fit_stage(stage, data, step, epoch_end=epoch_end, select=lambda: self.val_ce_f1(data, average="example"))

    def losses(self, b: dict[str, Any], stage: str) -> dict[str, torch.Tensor]:
        """The training losses of one batch: ``loss`` (optimised) and its parts. In stage ``student`` with a
        teacher: logit KD over every token position and relational KD on (raw backbone patches,
        logit-adjusted classifier logits) of student and teacher, as the original's ``loss_mid``."""
        cfg = self.config
        fused, logits, avg, patches = self.model(b["images"], exclude=b["idx"])
        pos_prior = torch.from_numpy(self.pos_prior).to(self.device)
        adjusted = adjust_logits(logits, pos_prior)
        l_cls = F.cross_entropy(adjusted, b["states"])
        l_lm, tok_logits = self.model.decoder.lm_loss(b["states"], b["reports"], fused, return_logits=True)
        l_retr = self.model.memory.retrieval_loss(avg, b["idx"])
        losses = {"lm": l_lm, "cls": l_cls, "retr": l_retr}
        loss = l_lm + cfg["cls_weight"] * l_cls + cfg["retrieval_weight"] * l_retr
        if self.teacher is not None and stage == "student":
            with torch.no_grad():
                t_fused, t_logits, _, t_patches = self.teacher(b["images"], exclude=b["idx"])
                _, t_tok = self.teacher.decoder.lm_loss(b["states"], b["reports"], t_fused, return_logits=True)
            losses["kd"] = logit_kd(tok_logits, t_tok, temperature=float(cfg["kd_temperature"]))
            losses["mid"] = relational_kd(patches, adjusted, t_patches, adjust_logits(t_logits, pos_prior))
            loss = loss + cfg["kd_weight"] * losses["kd"] + cfg["mid_weight"] * losses["mid"]
        return {"loss": loss, **losses}

    def generate_ids(self, images: torch.Tensor) -> list[list[int]]:
        fused, logits, _, _ = self.model(images)
        return self.model.decoder.generate(logits.argmax(1), fused, **self.gen_kwargs())
