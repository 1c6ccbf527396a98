"""The ``r2gen`` method: R2Gen (Chen et al., EMNLP 2020) behind the rrgbench :class:`Method` contract.

Stage ``visual`` (a substitute, run only when no ImageNet ResNet-101 weights are found, see README):
pretrain the visual extractor on the training split to predict the offline labeler's CheXpert states and
report words. Stage ``train`` (R2Gen proper): token cross-entropy, Adam (amsgrad) with lr 5e-5 for the visual extractor
and 1e-4 for the rest, weight decay 5e-5, StepLR, gradient values clipped at 0.1; with ``select_on_val``
the epoch with the best validation BLEU-4 is kept (never the test split). Generation is beam search
(beam 3) up to ``max_seq_length`` tokens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from rrgbench_plugins.methods.common.assets import AssetNeed, asset_report, resolve_asset
from rrgbench_plugins.methods.common.backbones import BACKBONE_LAYOUTS
from rrgbench_plugins.methods.common.batching import batches
from rrgbench_plugins.methods.common.checkpoint import load_checkpoint, save_checkpoint
from rrgbench_plugins.methods.common.report_encoder import (
    ReportSupervisedEncoder,
    bow_vocabulary,
    train_encoder,
)
from rrgbench_plugins.methods.common.seeding import generator

from rrgbench.api import CHEXPERT_LABELS, Dataset, Method, RRGBenchError, Sample
from rrgbench.io import atomic_write_json
from rrgbench.seeding import seed_everything
from rrgbench.text import clean

from .images import config_study_images
from .model import R2GenModel, language_model_loss
from .tokenizer import R2GenTokenizer

PRETRAINED_ASSET = "resnet-101"


def _is_mimic(dataset: str) -> bool:
    return "mimic" in dataset.lower()


class R2Gen(Method):
    name: ClassVar[str] = "r2gen"
    version: ClassVar[str] = "0.1"
    stages: ClassVar[tuple[str, ...]] = ("visual", "train")

    # ------------------------------------------------------------------------------ configuration
    asset_report = classmethod(asset_report)

    @classmethod
    def pretrained_assets(cls, config: dict[str, Any], preset: str) -> list[AssetNeed]:
        """ImageNet ResNet-101 weights when the backbone is one."""
        if config.get("arch") != "resnet101":
            return []
        return [AssetNeed(PRETRAINED_ASSET, "ImageNet ResNet-101 image encoder", "random-init ResNet-101 (pre-trained by rrgbench on the training split when visual_pretrain=auto)", BACKBONE_LAYOUTS)]

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        mimic = _is_mimic(dataset)
        cfg: dict[str, Any] = {
            # data (notes §1.4, §3): IU uses both views, MIMIC the first one
            "views": 1 if mimic else 2,
            "threshold": 10 if mimic else 3,
            "max_seq_length": 100 if mimic else 60,
            "image_size": 224, "train_resize": 256, "hflip": True,
            # model (R2Gen defaults)
            "arch": "resnet101", "d_model": 512, "d_ff": 512, "num_layers": 3, "num_heads": 8,
            "dropout": 0.1, "drop_prob_lm": 0.5, "rm_num_slots": 3, "rm_num_heads": 8, "rm_d_model": 512,
            # optimisation (R2Gen train_iu_xray.sh / train_mimic_cxr.sh)
            "epochs": 30 if mimic else 100, "batch_size": 16, "lr_ve": 5e-5, "lr_ed": 1e-4,
            "weight_decay": 5e-5, "amsgrad": True, "step_size": 1 if mimic else 50, "gamma": 0.8 if mimic else 0.1,
            "clip_value": 0.1, "select_on_val": "bleu_4", "early_stop": 50, "max_val_samples": None,
            "max_steps": None,
            # decoding
            "beam_size": 3, "generate_batch_size": 16,
            "assets": {},
            # substitute for ImageNet weights: "auto" pretrains only when they are absent; "always"; "never"
            "visual_pretrain": "auto",
            "visual": {"labeler": "chexpert_rules", "bow_size": 256, "bow_weight": 1.0, "epochs": 30,
                       "batch_size": 32, "lr": 1e-4, "min_lr": 1e-6, "warmup_lr": 1e-6, "warmup_steps": 500,
                       "weight_decay": 0.05, "clip_value": None, "clip_norm": 5.0, "max_steps": None},
        }
        if preset == "tiny":  # CPU-sized: a tiny ResNet, a 1-layer 64-d transformer, a larger learning rate
            # 96 px and 15 visual epochs: at 64 px / 8 epochs the extractor saw too little of the phantom findings
            # and the decoder wrote 3 distinct normal reports (CE example F1 below majority's on the R2Gen split)
            cfg.update({
                "image_size": 96, "train_resize": 108, "arch": "tiny", "d_model": 64, "d_ff": 128,
                "num_layers": 1, "num_heads": 4, "rm_num_heads": 4, "rm_d_model": 64, "drop_prob_lm": 0.1,
                "epochs": 20, "batch_size": 16, "lr_ve": 2e-4, "lr_ed": 2e-3, "step_size": 7, "gamma": 0.3,
                "select_on_val": None, "generate_batch_size": 32,
            })
            cfg["visual"].update({"epochs": 15, "lr": 2e-3, "min_lr": 1e-4, "warmup_steps": 10, "weight_decay": 1e-4})
        elif preset != "paper":
            raise RRGBenchError(f"r2gen has no preset {preset!r}; presets: tiny, paper")
        return cfg

    def __init__(self, config: dict[str, Any], ctx) -> None:  # noqa: ANN001 - RunContext
        super().__init__(config, ctx)
        self.tokenizer: R2GenTokenizer | None = None
        self.model: R2GenModel | None = None
        self.cleaning = "r2gen_iu"
        self.pretrain_visual = False

    # ----------------------------------------------------------------------------------- prepare
    def prepare(self, data: Dataset) -> None:
        """Build the word vocabulary from the cleaned training reports and the (untrained) model."""
        seed_everything(self.ctx.seed, deterministic=True)
        self.cleaning = data.cleaning
        train = data.split("train")
        if not train:
            raise RRGBenchError(f"dataset {type(data).__name__}: the train split is empty")
        self.tokenizer = R2GenTokenizer.build((clean(s.report, self.cleaning) for s in train),
                                              int(self.config["threshold"]))
        self.model = self._build_model(pretrained=True)

    def _build_model(self, pretrained: bool) -> R2GenModel:
        assert self.tokenizer is not None
        weights = None
        if pretrained:
            arch, mode = self.config["arch"], self.config["visual_pretrain"]
            if mode not in ("auto", "always", "never"):
                raise RRGBenchError(f"r2gen: visual_pretrain must be auto, always or never, not {mode!r}")
            weights = resolve_asset(PRETRAINED_ASSET, self.config) if arch == "resnet101" else None
            self.pretrain_visual = mode == "always" or (mode == "auto" and weights is None)
            if weights is None:
                how = ("pretrained by rrgbench on the training split (labeler states + words)"
                       if self.pretrain_visual else "trained from scratch with the decoder")
                self.ctx.substitute("resnet-101 (ImageNet)", f"random-init {arch} visual extractor {how} "
                                                             f"(no local '{PRETRAINED_ASSET}' weights)")
        model = R2GenModel(self.config, vocab=len(self.tokenizer) + 1, pretrained=weights)
        return model.to(self.ctx.device)

    # ------------------------------------------------------------------------------------- batches
    def _images(self, samples: Sequence[Sample], data: Dataset, train: bool,
                gen: torch.Generator | None = None) -> torch.Tensor:
        return config_study_images(samples, data, self.config, train=train, gen=gen).to(self.ctx.device)

    def _ids(self, samples: Sequence[Sample]) -> torch.Tensor:
        assert self.tokenizer is not None
        limit = int(self.config["max_seq_length"])
        seqs = [self.tokenizer.encode(clean(s.report, self.cleaning))[:limit] for s in samples]
        ids = torch.zeros(len(seqs), max(len(s) for s in seqs), dtype=torch.long)
        for i, seq in enumerate(seqs):
            ids[i, : len(seq)] = torch.tensor(seq)
        return ids.to(self.ctx.device)

    def loss(self, samples: Sequence[Sample], data: Dataset, gen: torch.Generator) -> torch.Tensor:
        """Training loss of one batch."""
        assert self.model is not None
        ids = self._ids(samples)
        return language_model_loss(self.model(self._images(samples, data, True, gen), ids), ids)

    # -------------------------------------------------------------------------------------- train
    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        if stage not in self.stages:
            raise RRGBenchError(f"r2gen has training stages {self.stages}, not {stage!r}")
        if self.model is None:
            self.prepare(data)
        assert self.model is not None
        if stage == "visual":
            return self._train_visual(data)
        cfg = self.config
        train = data.split("train")
        ve = list(self.model.visual_extractor.parameters())
        ve_ids = {id(p) for p in ve}
        ed = [p for p in self.model.parameters() if id(p) not in ve_ids]
        optimizer = torch.optim.Adam([{"params": ve, "lr": cfg["lr_ve"]}, {"params": ed, "lr": cfg["lr_ed"]}],
                                     weight_decay=cfg["weight_decay"], amsgrad=bool(cfg["amsgrad"]))
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, int(cfg["step_size"]), float(cfg["gamma"]))
        gen = generator(self.ctx.seed)
        max_steps = cfg.get("max_steps")
        history: list[dict[str, float]] = []
        best: tuple[float, int, dict[str, torch.Tensor]] | None = None
        step, start, stale = 0, time.perf_counter(), 0
        for epoch in range(int(cfg["epochs"])):
            self.model.train()
            total, count = 0.0, 0
            order = batches(len(train), int(cfg["batch_size"]), shuffle=True, seed=self.ctx.seed + epoch)
            for idx in self.ctx.progress(order, desc=f"r2gen epoch {epoch + 1}", leave=False):
                loss = self.loss([train[i] for i in idx], data, gen)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg["clip_value"]:
                    torch.nn.utils.clip_grad_value_(self.model.parameters(), float(cfg["clip_value"]))
                optimizer.step()
                total, count, step = total + float(loss.detach()), count + 1, step + 1
                if max_steps is not None and step >= max_steps:
                    break
            scheduler.step()
            row = {"epoch": epoch + 1, "loss": total / max(1, count)}
            if cfg["select_on_val"]:
                row["val_bleu_4"] = self._val_bleu4(data)
                if best is None or row["val_bleu_4"] > best[0]:
                    state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                    best, stale = (row["val_bleu_4"], epoch + 1, state), 0
                else:
                    stale += 1
            history.append(row)
            self.ctx.logger.info("r2gen %s", row)
            if (max_steps is not None and step >= max_steps) or stale >= int(cfg["early_stop"]):
                break
        facts: dict[str, Any] = {"steps": step, "seconds": round(time.perf_counter() - start, 2),
                                 "epochs": history, "vocab_size": len(self.tokenizer) if self.tokenizer else 0}
        if best is not None:
            self.model.load_state_dict(best[2])
            facts["selected_epoch"], facts["selected_val_bleu_4"] = best[1], best[0]
        return facts

    def _train_visual(self, data: Dataset) -> dict[str, Any]:
        """Substitute for ImageNet weights: fit the visual extractor to the training reports' labels/words."""
        assert self.model is not None
        if not self.pretrain_visual:
            return {"skipped": f"visual_pretrain={self.config['visual_pretrain']!r}"}
        cfg = self.config["visual"]
        train = data.split("train")
        vocab = bow_vocabulary([clean(s.report, self.cleaning) for s in train], int(cfg["bow_size"]))
        encoder = ReportSupervisedEncoder(self.config["arch"], len(CHEXPERT_LABELS), len(vocab))
        encoder.backbone = self.model.visual_extractor  # trained in place; the heads are dropped afterwards
        encoder.to(self.ctx.device)
        return train_encoder(encoder, train, self.cleaning, vocab,
                             lambda samples, gen: self._images(samples, data, True, gen), cfg, self.ctx,
                             desc="r2gen visual")

    def _val_bleu4(self, data: Dataset) -> float:
        from pycocoevalcap.bleu.bleu import Bleu

        val = data.split("val")
        if self.config.get("max_val_samples"):
            val = val[: int(self.config["max_val_samples"])]
        if not val:
            raise RRGBenchError("select_on_val needs a non-empty val split")
        hyps = self.generate(val, data)
        gts = {i: [clean(s.report, self.cleaning)] for i, s in enumerate(val)}
        res = {i: [h] for i, h in enumerate(hyps)}
        scores, _ = Bleu(4).compute_score(gts, res, verbose=0)
        return float(scores[3])

    # ----------------------------------------------------------------------------------- generate
    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        if self.model is None or self.tokenizer is None:
            raise RRGBenchError("r2gen: generate called before prepare/train or load")
        self.model.eval()
        out: list[str] = []
        size = int(self.config["generate_batch_size"])
        for i in range(0, len(samples), size):
            chunk = samples[i:i + size]
            images = self._images(chunk, data, train=False)
            for ids in self.model.generate(images, int(self.config["beam_size"]), int(self.config["max_seq_length"])):
                out.append(self.tokenizer.decode(ids))
        return out

    # -------------------------------------------------------------------------------- save / load
    def save(self, path: Path) -> None:
        if self.model is None or self.tokenizer is None:
            raise RRGBenchError("r2gen: nothing to save before prepare")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(path / "tokenizer.json")
        atomic_write_json(path / "meta.json", {"cleaning": self.cleaning, "vocab_size": len(self.tokenizer)})
        save_checkpoint(path / "model.pt", {"model": self.model.state_dict()})

    def load(self, path: Path) -> None:
        from rrgbench.io import read_json

        path = Path(path)
        for name in ("tokenizer.json", "meta.json", "model.pt"):
            if not (path / name).is_file():
                raise RRGBenchError(f"{path / name}: r2gen checkpoint file missing")
        self.tokenizer = R2GenTokenizer.load(path / "tokenizer.json")
        self.cleaning = read_json(path / "meta.json")["cleaning"]
        self.model = self._build_model(pretrained=False)
        self.model.load_state_dict(load_checkpoint(path / "model.pt")["model"])
        self.model.eval()
