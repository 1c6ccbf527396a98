"""The ``retrieval`` baseline: answer with the training report whose images look most alike.

``train`` fits :class:`~.encoder.ReportSupervisedEncoder` on the training split (labels from the offline
CheXpert-rules labeler run on the training reports, plus a bag of words), then embeds every training
study into a bank. ``generate`` returns, for each test study, the training report (whitespace-normalised,
uncleaned, like ``majority``) with the highest cosine similarity; ties go to the earlier training sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from rrgbench_plugins.methods.common.assets import AssetNeed, asset_report, resolve_asset
from rrgbench_plugins.methods.common.backbones import BACKBONE_LAYOUTS
from rrgbench_plugins.methods.common.checkpoint import load_checkpoint, save_checkpoint
from rrgbench_plugins.methods.r2gen.images import config_study_images

from rrgbench.api import CHEXPERT_LABELS, Dataset, Method, RRGBenchError, Sample
from rrgbench.io import atomic_write_json, read_json
from rrgbench.seeding import seed_everything
from rrgbench.text import clean

from ..common.report_encoder import ReportSupervisedEncoder, bow_vocabulary, train_encoder

PRETRAINED_ASSET = "resnet-101"


class Retrieval(Method):
    name: ClassVar[str] = "retrieval"
    version: ClassVar[str] = "0.1"
    stages: ClassVar[tuple[str, ...]] = ("train",)

    asset_report = classmethod(asset_report)

    @classmethod
    def pretrained_assets(cls, config: dict[str, Any], preset: str) -> list[AssetNeed]:
        """ImageNet ResNet-101 weights when the backbone is one."""
        if config.get("arch") != "resnet101":
            return []
        return [AssetNeed(PRETRAINED_ASSET, "ImageNet ResNet-101 image encoder", "random-init ResNet-101 trained on the training split only", BACKBONE_LAYOUTS)]

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "views": 1 if "mimic" in dataset.lower() else 2,
            "labeler": "chexpert_rules", "bow_size": 256, "bow_weight": 1.0,
            "arch": "resnet101", "image_size": 224, "train_resize": 256, "hflip": False,
            "epochs": 30, "batch_size": 32, "lr": 1e-4, "min_lr": 1e-6, "warmup_lr": 1e-6, "warmup_steps": 500,
            "weight_decay": 0.05, "clip_value": None, "clip_norm": 5.0, "max_steps": None,
            "embed_batch_size": 64, "generate_batch_size": 64, "assets": {},
        }
        if preset == "tiny":
            cfg.update({"arch": "tiny", "image_size": 64, "train_resize": 72, "epochs": 15, "lr": 2e-3,
                        "min_lr": 1e-4, "warmup_steps": 10, "weight_decay": 1e-4})
        elif preset != "paper":
            raise RRGBenchError(f"retrieval has no preset {preset!r}; presets: tiny, paper")
        return cfg

    def __init__(self, config: dict[str, Any], ctx) -> None:  # noqa: ANN001 - RunContext
        super().__init__(config, ctx)
        self.encoder: ReportSupervisedEncoder | None = None
        self.bow_vocab: list[str] = []
        self.bank: torch.Tensor | None = None
        self.bank_reports: list[str] = []
        self.bank_ids: list[str] = []

    # ----------------------------------------------------------------------------------- helpers
    def _images(self, samples: Sequence[Sample], data: Dataset, train: bool,
                gen: torch.Generator | None = None) -> torch.Tensor:
        return config_study_images(samples, data, self.config, train=train, gen=gen).to(self.ctx.device)

    def _build_encoder(self, pretrained: bool) -> ReportSupervisedEncoder:
        weights = None
        if pretrained:
            weights = resolve_asset(PRETRAINED_ASSET, self.config) if self.config["arch"] == "resnet101" else None
            if weights is None:
                self.ctx.substitute(
                    "resnet-101 (ImageNet)",
                    f"random-init {self.config['arch']} encoder trained on the training split only")
        encoder = ReportSupervisedEncoder(self.config["arch"], len(CHEXPERT_LABELS), len(self.bow_vocab), weights)
        return encoder.to(self.ctx.device)

    @torch.no_grad()
    def _embed(self, samples: Sequence[Sample], data: Dataset) -> torch.Tensor:
        assert self.encoder is not None
        self.encoder.eval()
        size = int(self.config["embed_batch_size"])
        parts = [self.encoder.embed(self._images(samples[i:i + size], data, train=False)).float().cpu()
                 for i in range(0, len(samples), size)]
        return torch.cat(parts) if parts else torch.zeros(0, 1)

    # ----------------------------------------------------------------------------------- prepare
    def prepare(self, data: Dataset) -> None:
        """Choose the bag-of-words vocabulary from the cleaned training reports and build the encoder."""
        seed_everything(self.ctx.seed, deterministic=True)
        train = data.split("train")
        if not train:
            raise RRGBenchError(f"dataset {type(data).__name__}: the train split is empty")
        cleaned = [clean(s.report, data.cleaning) for s in train]
        self.bow_vocab = bow_vocabulary(cleaned, int(self.config["bow_size"]))
        self.encoder = self._build_encoder(pretrained=True)

    # ------------------------------------------------------------------------------------- train
    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        if stage != "train":
            raise RRGBenchError(f"retrieval has one training stage 'train', not {stage!r}")
        if self.encoder is None:
            self.prepare(data)
        assert self.encoder is not None
        train = data.split("train")
        facts = train_encoder(self.encoder, train, data.cleaning, self.bow_vocab,
                              lambda samples, gen: self._images(samples, data, train=True, gen=gen),
                              self.config, self.ctx, desc="retrieval encoder")
        self.bank = self._embed(train, data)
        self.bank_reports = [" ".join(s.report.split()) for s in train]
        self.bank_ids = [s.id for s in train]
        facts.update({"bank_size": len(train), "embedding_dim": int(self.bank.shape[1])})
        return facts

    # ---------------------------------------------------------------------------------- generate
    def nearest(self, samples: Sequence[Sample], data: Dataset) -> list[int]:
        """Index into the bank of the nearest training study of each sample (cosine similarity)."""
        if self.bank is None or self.encoder is None:
            raise RRGBenchError("retrieval: generate called before train or load")
        sims = self._embed(samples, data) @ self.bank.T
        return sims.argmax(1).tolist()  # first maximum on ties

    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        return [self.bank_reports[i] for i in self.nearest(samples, data)]

    # ------------------------------------------------------------------------------- save / load
    def save(self, path: Path) -> None:
        if self.encoder is None or self.bank is None:
            raise RRGBenchError("retrieval: nothing to save before train")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path / "bank.json", {"ids": self.bank_ids, "reports": self.bank_reports,
                                               "bow_vocab": self.bow_vocab})
        save_checkpoint(path / "retrieval.pt", {"encoder": self.encoder.state_dict(), "bank": self.bank})

    def load(self, path: Path) -> None:
        path = Path(path)
        for name in ("bank.json", "retrieval.pt"):
            if not (path / name).is_file():
                raise RRGBenchError(f"{path / name}: retrieval checkpoint file missing")
        meta = read_json(path / "bank.json")
        self.bank_ids, self.bank_reports, self.bow_vocab = meta["ids"], meta["reports"], meta["bow_vocab"]
        state = load_checkpoint(path / "retrieval.pt")
        self.encoder = self._build_encoder(pretrained=False)
        self.encoder.load_state_dict(state["encoder"])
        self.bank = state["bank"].float()
        if self.bank.shape[0] != len(self.bank_reports):
            raise RRGBenchError(f"{path}: bank has {self.bank.shape[0]} rows but {len(self.bank_reports)} reports")

