"""``FamilyMethod``: what OS-RRG, REVTAF and KIF-ISD share around their models.

prepare: clean training reports, tokenizer (local bert-base-uncased vocab or a WordPiece substitute),
training/validation diagnosis states from the report labeler, state priors; then ``build_model()``.
train: :meth:`fit_stage` runs the common loop and keeps the epoch with the best *validation* score.
generate: batched; subclasses turn an image batch into report ids with predicted states (never labels).
"""

from __future__ import annotations

import copy
import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rrgbench.api import Dataset, Method, RRGBenchError, RunContext, Sample
from rrgbench.seeding import seed_everything
from rrgbench.text import clean

from ..common.assets import AssetNeed, asset_report, resolve_asset
from ..common.backbones import BACKBONE_ASSETS, BACKBONE_LAYOUTS, ImageEncoder
from ..common.batching import StudyCrops, batches, crop_loader, crop_offsets, normalise_grey
from ..common.checkpoint import load_checkpoint, save_checkpoint
from ..common.labels import POS, STATE_TOKENS, report_states, state_priors
from ..common.tokenizer import ReportTokenizer, from_vocab_file, train_wordpiece
from ..common.training import FitConfig, fit
from .config import family_config
from .decoder import PromptDecoder
from .heads import pos_prior_from_labels, update_pos_prior


class FamilyMethod(Method):
    presets = ("tiny", "paper")
    n_obs = 14  # the 14 CheXbert observations; PromptMRG's 4 undocumented auxiliary classes are dropped

    @classmethod
    def contract_config(cls, dataset: str) -> dict[str, Any]:
        """The tiny preset shrunk to seconds for the contract checks (as the family's own tests)."""
        from ..common.synthetic import smoke_config

        return smoke_config(cls.default_config("tiny", dataset))

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        return family_config(preset, dataset)

    asset_report = classmethod(asset_report)

    @classmethod
    def pretrained_assets(cls, config: dict[str, Any], preset: str) -> list[AssetNeed]:
        """``bert-base-uncased`` (tokenizer, decoder) and the ImageNet ResNet of each backbone that is one."""
        needs = [AssetNeed("bert-base-uncased", "tokenizer vocab.txt and decoder weights (from_pretrained dir)",
                           "WordPiece vocabulary from the training reports; randomly initialised decoder",
                           "a from_pretrained directory, or a bare vocab.txt for the tokenizer only")]
        for arch in cls.backbone_archs(config):
            needs.append(AssetNeed(BACKBONE_ASSETS[arch], f"ImageNet {arch} image encoder",
                                   f"randomly initialised {arch}", BACKBONE_LAYOUTS))
        return needs

    @classmethod
    def backbone_archs(cls, config: dict[str, Any]) -> list[str]:
        """Image backbone architectures of ``config`` that have ImageNet weights (ResNet-101/50)."""
        return [a for a in dict.fromkeys([config.get("image_arch")]) if a in BACKBONE_ASSETS]

    def __init__(self, config: dict[str, Any], ctx: RunContext) -> None:
        super().__init__(config, ctx)
        self.device = torch.device(ctx.device)
        self.model: nn.Module | None = None
        self.tokenizer: ReportTokenizer | None = None
        self._image_cache: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------------------------ prepare
    def prepare(self, data: Dataset) -> None:
        self.cleaning = data.cleaning
        self.train_samples = data.split("train")
        if not self.train_samples:
            raise RRGBenchError(f"{self.name}: the training split of '{data.name}' is empty")
        val = data.split("val")
        limit = self.config.get("val_limit")
        self.val_samples = val[:limit] if limit else val
        texts = [self.clean(s.report) for s in self.train_samples]
        self.tokenizer = self._build_tokenizer(texts)
        max_tokens = int(self.config["generation"]["max_new_tokens"]) - 1
        self.train_reports = [self.tokenizer.encode(t, max_tokens) for t in texts]
        self.train_states = report_states([s.report for s in self.train_samples])
        self.val_states = report_states([s.report for s in self.val_samples]) if self.val_samples else None
        self.state_prior = state_priors(self.train_states)  # [4, 14], OS-RRG base_probs
        self.pos_prior = pos_prior_from_labels(self.train_states)  # [14], PromptMRG base_probs
        self.prepare_extra(data)
        seed_everything(self.ctx.seed, deterministic=True)
        self.model = self.build_model().to(self.device)

    def clean(self, report: str) -> str:
        words = clean(report, self.cleaning).split()
        return " ".join(words[: int(self.config["max_words"])])

    def _build_tokenizer(self, texts: list[str]) -> ReportTokenizer:
        vocab = resolve_asset("bert-base-uncased", self.config)
        if vocab is not None:
            return from_vocab_file(vocab, extra_special=STATE_TOKENS)
        self.ctx.substitute("bert-base-uncased tokenizer", "WordPiece vocabulary trained on the training reports")
        opts = self.config["tokenizer"]
        return train_wordpiece(texts, vocab_size=int(opts["vocab_size"]), min_frequency=int(opts["min_frequency"]),
                               extra_special=STATE_TOKENS)

    def prepare_extra(self, data: Dataset) -> None:  # noqa: B027 - optional hook
        """Method-specific artefacts (banks, neighbours) built from the training split."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A fresh model (called after :meth:`prepare` and again by :meth:`load` when needed)."""

    # ------------------------------------------------------------------------------ model pieces
    def image_encoder(self, arch: str, asset: str) -> ImageEncoder:
        if arch not in BACKBONE_ASSETS:  # tiny backbones have no pretrained weights to load
            self.ctx.substitute(asset, f"small randomly initialised {arch} backbone instead of ImageNet weights")
            return ImageEncoder(arch)
        path = resolve_asset(asset, self.config)
        if path is None:
            self.ctx.substitute(asset, f"ImageNet weights not available offline: random init ({arch})")
        return ImageEncoder(arch, pretrained=path)

    def report_decoder(self, memory_dim: int) -> PromptDecoder:
        path = resolve_asset("bert-base-uncased", self.config)
        if path is None:
            self.ctx.substitute("bert-base-uncased", "decoder randomly initialised "
                                f"({self.config['decoder']['num_hidden_layers']} layers)")
        elif not (Path(path) / "config.json").exists():
            path = None  # a bare vocab.txt: tokenizer only
        return PromptDecoder(self.tokenizer, memory_dim, self.config["decoder"], n_obs=self.n_obs,
                             label_smoothing=float(self.config["label_smoothing"]), pretrained=path)

    # ------------------------------------------------------------------------------------ batches
    def images(self, samples: Sequence[Sample], data: Dataset, train: bool, seed: int = 0) -> torch.Tensor:
        """``[B, 3, S, S]`` normalised images: random crop when training, centre crop otherwise.

        With ``image_cache`` (default true) the full-size float16 images stay in RAM after the first read;
        with ``image_cache: false`` nothing is kept (the dataset's memory-mapped disk cache serves reads).
        """
        size, load = int(self.config["image_size"]), int(self.config.get("load_size", self.config["image_size"]))
        offsets = crop_offsets(len(samples), load, size, train, seed)
        if not self.config.get("image_cache", True):
            crops = StudyCrops(samples, data, load, size)
            grey = torch.stack([crops[(i, top, left)] for i, (top, left) in enumerate(offsets)])
            return normalise_grey(grey.float()).to(self.device)
        rows = []
        for s, (top, left) in zip(samples, offsets):
            img = self._image_cache.get(s.id)
            if img is None:
                arr = np.asarray(data.load_images(s, load), dtype=np.float32)
                if arr.ndim != 3 or arr.shape[1:] != (load, load):
                    raise RRGBenchError(f"sample {s.id}: load_images returned shape {arr.shape}, "
                                        f"expected [views, {load}, {load}]")
                img = self._image_cache[s.id] = torch.from_numpy(arr[0]).to(torch.float16)
            rows.append(img[top:top + size, left:left + size].float())
        return normalise_grey(torch.stack(rows)).to(self.device)

    def train_batch(self, idx: list[int], data: Dataset, seed: int, images: torch.Tensor | None = None
                    ) -> dict[str, Any]:
        """One training batch; ``images`` when a loader already produced them (else loaded here)."""
        return {
            "idx": torch.tensor(idx, device=self.device),
            "images": self.images([self.train_samples[i] for i in idx], data, train=True, seed=seed)
            if images is None else images,
            "states": torch.from_numpy(self.train_states[idx]).to(self.device),
            "reports": [self.train_reports[i] for i in idx],
        }

    def streamed_train_batches(self, plan: list[tuple[list[int], int]], data: Dataset) -> Any:
        """Training batches of ``plan`` (index batch, crop seed) with images streamed through a
        ``torch.utils.data`` loader (``loader_workers`` processes, pinned memory on CUDA): the same crops
        as :meth:`images`, whatever the number of workers."""
        size, load = int(self.config["image_size"]), int(self.config.get("load_size", self.config["image_size"]))
        crops = StudyCrops(self.train_samples, data, load, size)
        cuda = str(self.device).startswith("cuda")
        loader = crop_loader(crops, [[(i, top, left) for i, (top, left) in
                                      zip(idx, crop_offsets(len(idx), load, size, True, seed))] for idx, seed in plan],
                             workers=int(self.config.get("loader_workers", 0)), pin_memory=cuda)
        for (idx, seed), grey in zip(plan, loader):
            images = normalise_grey(grey.to(self.device, non_blocking=cuda).float())
            yield self.train_batch(idx, data, seed, images=images)

    # ----------------------------------------------------------------------------------- training
    def fit_stage(self, stage: str, data: Dataset, step: Callable[[dict[str, Any]], dict[str, torch.Tensor]],
                  *, params: Any = None, select: Callable[[], float] | None = None,
                  epoch_end: Callable[[int], dict[str, Any] | None] | None = None,
                  stage_state: tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]] | None = None,
                  ) -> dict[str, Any]:
        """Run the common loop for ``stage``; keep the epoch whose ``select()`` (validation) is highest.

        A killed stage resumes from the loop's last save: the best epoch so far, :meth:`extra_state` (priors)
        and whatever ``stage_state = (get, set)`` holds (e.g. statistics accumulated within an epoch) are
        saved with it.
        """
        seed_everything(self.ctx.seed + 1000 * (1 + list(self.stages).index(stage)), deterministic=True)  # dropout, crops
        stage_config = {**self.config, **self.config.get("stages", {}).get(stage, {})}
        cfg, bs = FitConfig.from_config(stage_config), int(stage_config["batch_size"])
        n, seed = len(self.train_samples), self.ctx.seed
        counter = [0]

        def batches_of(epoch: int) -> list[dict[str, Any]]:
            if not self.config.get("image_cache", True):  # stream: nothing is kept in RAM
                plan = []
                for idx in batches(n, bs, shuffle=True, seed=seed * 1009 + epoch):
                    counter[0] += 1
                    plan.append((idx, seed * 7919 + counter[0]))
                yield from self.streamed_train_batches(plan, data)
                return
            for idx in batches(n, bs, shuffle=True, seed=seed * 1009 + epoch):
                counter[0] += 1
                yield self.train_batch(idx, data, seed=seed * 7919 + counter[0])

        best: dict[str, Any] = {"score": -math.inf, "state": None, "epoch": None}

        def on_epoch_end(epoch: int) -> dict[str, Any] | None:
            facts = dict(epoch_end(epoch) or {}) if epoch_end else {}
            if select is not None and self.val_samples:
                self.model.eval()
                score = float(select())
                facts["val"] = round(score, 6)
                if score >= best["score"]:  # ties go to the later (longer-trained) epoch
                    best.update(score=score, epoch=epoch + 1,
                                state=copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()}))
            return facts or None

        def get_state() -> dict[str, Any]:
            return {"best": dict(best), "extra": self.extra_state(), "stage": stage_state[0]() if stage_state else {}}

        def set_state(saved: dict[str, Any]) -> None:
            best.update(saved["best"])
            self.load_extra_state(saved["extra"])
            if stage_state:
                stage_state[1](saved["stage"])

        self.model.train()
        facts = fit(self.model, step, batches_of, cfg, self.ctx, params=params, on_epoch_end=on_epoch_end, desc=stage,
                    state_hooks=(get_state, set_state))
        if best["state"] is not None:
            self.model.load_state_dict(best["state"])
            facts.update(selected_epoch=best["epoch"], selected_on="val", val_score=round(best["score"], 6))
        self.model.eval()
        return facts

    def update_pos_prior_on_val(self, data: Dataset,
                                logits_of: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, Any]:
        """PromptMRG's per-epoch ``base_probs`` update from validation POS probabilities.

        ``logits_of(images)`` gives state logits ``[B, 4, 14]``; returns the epoch fact to log.
        """
        if not self.val_samples:
            return {}
        self.model.eval()
        out = []
        bs = int(self.config["generate_batch_size"])
        with torch.no_grad():
            for i in range(0, len(self.val_samples), bs):
                logits = logits_of(self.images(self.val_samples[i:i + bs], data, train=False))
                out.append(torch.softmax(logits, 1)[:, 1].cpu().numpy())
        self.model.train()
        self.pos_prior = update_pos_prior(np.concatenate(out), self.val_states, self.pos_prior)
        return {"pos_prior_mean": round(float(self.pos_prior.mean()), 4)}

    @torch.no_grad()
    def val_ce_f1(self, data: Dataset, average: str = "example") -> float:
        """CE F1 (positive-only, 14 labels) of reports generated for the validation samples against their
        references, both labelled by the report labeler: the family's ``val_ce_f1`` / ``val_ce_f1_class``."""
        hyps: list[str] = []
        bs = int(self.config.get("generate_batch_size", 16))
        for i in range(0, len(self.val_samples), bs):
            ids = self.generate_ids(self.images(self.val_samples[i:i + bs], data, train=False))
            hyps += [self.tokenizer.decode(t) for t in ids]
        pred = report_states(hyps) == POS
        true = self.val_states == POS
        return example_f1(pred, true) if average == "example" else macro_f1(pred, true)

    # --------------------------------------------------------------------------------- generation
    def gen_kwargs(self) -> dict[str, Any]:
        g = self.config["generation"]
        return {"num_beams": int(g["num_beams"]), "max_new_tokens": int(g["max_new_tokens"]),
                "min_length": int(g["min_length"]), "repetition_penalty": float(g["repetition_penalty"])}

    @abstractmethod
    def generate_ids(self, images: torch.Tensor) -> list[list[int]]:
        """Report token ids for an image batch, using predicted diagnosis states."""

    @torch.no_grad()
    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        if self.model is None or self.tokenizer is None:
            raise RRGBenchError(f"{self.name}: generate() called before prepare()/load()")
        self.model.eval()
        ids = self.generate_ids(self.images(samples, data, train=False))
        return [self.tokenizer.decode(i) for i in ids]

    # ---------------------------------------------------------------------------------- save/load
    def extra_state(self) -> dict[str, Any]:
        return {"pos_prior": torch.from_numpy(self.pos_prior), "state_prior": torch.from_numpy(self.state_prior)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pos_prior = state["pos_prior"].numpy()
        self.state_prior = state["state_prior"].numpy()

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(path / "tokenizer.json")
        save_checkpoint(path / "model.pt", {"model": self.model.state_dict(), "extra": self.extra_state()})

    def load(self, path: Path) -> None:
        path = Path(path)
        state = load_checkpoint(path / "model.pt")
        self.tokenizer = ReportTokenizer.load(path / "tokenizer.json")
        self.load_extra_state(state["extra"])
        if self.model is None:
            raise RRGBenchError(f"{self.name}: load() needs prepare() first (it builds the model)")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise RRGBenchError(f"{path / 'model.pt'}: does not fit this configuration ({str(exc)[:200]})") from None
        self.model.to(self.device).eval()


def example_f1(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean per-report F1 of boolean ``[N, C]`` predictions (0 when a report has no positive at all)."""
    tp = (pred & true).sum(1)
    denom = pred.sum(1) + true.sum(1)
    return float(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0).mean()) if len(pred) else 0.0


def macro_f1(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over observations of the per-observation F1 (0 for an observation never predicted nor true)."""
    tp = (pred & true).sum(0)
    denom = pred.sum(0) + true.sum(0)
    return float(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0).mean())
