"""RadScribe as an rrgbench :class:`~rrgbench.api.Method`: prepare -> train -> generate -> save/load."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rrgbench_plugins.methods.common.assets import AssetNeed, asset_report, resolve_asset
from rrgbench_plugins.methods.common.batching import grey_views, normalise_grey
from rrgbench_plugins.methods.common.checkpoint import load_checkpoint, save_checkpoint
from rrgbench_plugins.methods.common.labels import POS, report_states
from rrgbench_plugins.methods.common.tokenizer import from_vocab_file
from transformers import BertConfig, T5Config, T5ForConditionalGeneration, ViTConfig

from rrgbench.api import Dataset, Method, RRGBenchError, RunContext, Sample
from rrgbench.io import atomic_write_json, read_json
from rrgbench.text import clean

from .config import preset_config
from .decoding import decoding_params
from .model import RadScribeNet
from .text import (
    LABEL_WORDS,
    Codec,
    HFCodec,
    label_ids,
    label_text,
    load_codec,
    save_codec,
    target_ids,
    train_word_vocab,
)

# Local asset names under $RRGBENCH_MODELS (or config["assets"][name]).
ASSETS = {
    "medvill": "MedViLL checkpoint dir (config.json + pytorch_model.bin) for the fusion encoder",
    "clinical-t5": "ClinicalT5 dir (T5ForConditionalGeneration, PhysioNet) for the decoder",
    "t5-base": "t5-base dir: tokenizer (and weights, used if ClinicalT5 is absent)",
    "bert-base-uncased": "bert-base-uncased dir or vocab.txt for the label-text tokenizer",
    "vit-base-patch16-224-in21k": "google/vit-base-patch16-224-in21k dir for the ViT image encoder",
    "resnet-101": "ResNet-101 weights (transformers dir or state dict) for img_encoder=resnet101",
    "chexnet121": "CheXNet DenseNet-121 state dict for img_encoder=densenet121",
}
IMAGE_ASSET = {"vit": "vit-base-patch16-224-in21k", "resnet101": "resnet-101", "densenet121": "chexnet121"}


def _has_tokenizer(path: Path | None) -> bool:
    return path is not None and path.is_dir() and any(
        (path / f).exists() for f in ("tokenizer.json", "spiece.model", "tokenizer_config.json"))


def _has_weights(path: Path | None) -> bool:
    return path is not None and path.is_dir() and (path / "config.json").exists()


def lr_lambda(warmup_rate: float, total: int, base_lr: float, min_lr: float):
    """The original's ``make_lambda``: linear warm-up over ``warmup_rate`` of updates, then linear decay,
    never below ``min_lr / base_lr``."""
    warmup = max(1, int(warmup_rate * total))
    decay = max(1, total - warmup)
    floor = min_lr / base_lr

    def fn(update: int) -> float:
        factor = update / warmup if update < warmup else (total - update) / decay
        return float(max(floor, min(1.0, factor)))

    return fn


class RadScribe(Method):
    name = "radscribe"
    version = "0.1"
    stages = ("train",)
    optional_config_keys = ("cleaning",)  # text cleaning override, read with config.get

    def __init__(self, config: dict[str, Any], ctx: RunContext) -> None:
        super().__init__(config, ctx)
        self.device = torch.device(ctx.device)
        self.cleaning: str | None = config.get("cleaning")
        self.fusion_codec: Codec | None = None
        self.decoder_codec: Codec | None = None
        self.model: RadScribeNet | None = None
        self.meta: dict[str, Any] = {}
        self.epochs_trained = 0
        self.last_label_texts: list[str] = []  # label text fed at the last generate() (for inspection)
        fixed = config.get("label_threshold", 0.5)
        self.thresholds = [float(fixed) if not isinstance(fixed, str) else 0.5] * 14

    asset_report = classmethod(asset_report)

    @classmethod
    def pretrained_assets(cls, config: dict[str, Any], preset: str) -> list[AssetNeed]:
        """Paper preset: MedViLL, ClinicalT5 / t5-base, the label tokenizer and the image encoder's weights."""
        if preset == "tiny":  # small random networks by design
            return []
        names = ["medvill", "clinical-t5", "t5-base", "bert-base-uncased", IMAGE_ASSET.get(config["img_encoder"], "")]
        return [AssetNeed(n, ASSETS[n], "randomly initialised network / vocabulary from the training reports "
                          "(see README)") for n in names if n in ASSETS]

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        return preset_config(preset, dataset)

    # -- assets ----------------------------------------------------------------------------------
    def _asset(self, name: str) -> Path | None:
        """Local path of ``name`` in the paper preset; the tiny preset always uses small random models."""
        if self.ctx.preset == "tiny":
            return None
        path = resolve_asset(name, self.config)
        if path is None:
            self.ctx.substitute(name, f"not found locally ({ASSETS[name]}); substitute used (see README)")
        return path

    # -- prepare ---------------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        self.cleaning = self.cleaning or data.cleaning
        if self.decoder_codec is not None:
            return
        if self.ctx.preset == "tiny":
            self.ctx.substitute("radscribe-pretrained", "tiny preset: every network is small and randomly "
                                "initialised; one whole-word vocabulary built from the training reports")
        texts = [clean(s.report, self.cleaning) for s in data.split("train")]
        trained = None

        def trained_codec() -> Codec:
            nonlocal trained
            if trained is None:
                trained = train_word_vocab(texts, int(self.config["tokenizer_vocab_size"]), required=LABEL_WORDS)
            return trained

        dec_dir = next((p for p in (self._asset("clinical-t5"), self._asset("t5-base")) if _has_tokenizer(p)), None)
        if dec_dir is not None:
            from transformers import AutoTokenizer

            self.decoder_codec = HFCodec(AutoTokenizer.from_pretrained(str(dec_dir), local_files_only=True))
        else:
            self.decoder_codec = trained_codec()
        vocab = self._asset("bert-base-uncased")
        medvill = self._asset("medvill")
        if vocab is None and medvill is not None and (medvill / "vocab.txt").exists():
            vocab = medvill
        self.fusion_codec = from_vocab_file(vocab) if vocab is not None else trained_codec()

    # -- model -----------------------------------------------------------------------------------
    def _build(self, pretrained: bool) -> RadScribeNet:
        cfg = self.config
        assert self.fusion_codec is not None and self.decoder_codec is not None
        fus, dec = self.fusion_codec, self.decoder_codec
        cls_id, sep_id = fus.token_id("[CLS]"), fus.token_id("[SEP]")
        decoder = None
        image_weights = medvill = None
        if pretrained:
            medvill = self._asset("medvill")
            image_weights = self._asset(IMAGE_ASSET[cfg["img_encoder"]]) \
                if cfg["img_encoder"] != "resnet101" or cfg["resnet_arch"] == "resnet101" else None
            dec_dir = next((p for p in (self._asset("clinical-t5"), self._asset("t5-base")) if _has_weights(p)), None)
            if dec_dir is not None:
                decoder = T5ForConditionalGeneration.from_pretrained(str(dec_dir), local_files_only=True)
                if decoder.config.vocab_size < dec.vocab_size:
                    raise RRGBenchError(f"{dec_dir}: decoder vocabulary {decoder.config.vocab_size} is smaller "
                                        f"than its tokenizer's {dec.vocab_size}")
            bert_config = BertConfig.from_pretrained(str(medvill)) if _has_weights(medvill) else None
            self.meta = {}
        else:
            bert_config = BertConfig.from_dict(self.meta["bert_config"])
        if bert_config is None:
            bert_config = BertConfig(vocab_size=fus.vocab_size, **cfg["bert"])
        t5_config = decoder.config if decoder is not None else (
            T5Config.from_dict(self.meta["t5_config"]) if "t5_config" in self.meta else
            T5Config(vocab_size=dec.vocab_size, pad_token_id=dec.pad_id, eos_token_id=dec.eos_id,
                     decoder_start_token_id=dec.pad_id, **cfg["t5"]))
        need = max(int(cfg["num_image_embeds"]), int(cfg["label_seq_len"]) + 1)
        if bert_config.max_position_embeddings < need:
            raise RRGBenchError(f"bert max_position_embeddings {bert_config.max_position_embeddings} < {need}")
        vit_config = self.meta.get("vit_config")
        model = RadScribeNet(cfg, bert_config, t5_config, cls_id, sep_id, image_weights, decoder,
                             vit_config=ViTConfig.from_dict(vit_config) if vit_config else None)
        if pretrained and _has_weights(medvill):
            load_medvill(model, medvill)
        if pretrained and image_weights is not None and cfg["img_encoder"] == "vit":
            model.image_encoder.freeze_lower(int(cfg["vit_frozen_layers"]))
        self.meta.update({"bert_config": bert_config.to_dict(), "t5_config": t5_config.to_dict()})
        if cfg["img_encoder"] == "vit":
            self.meta["vit_config"] = model.image_encoder.vit.config.to_dict()
        return model.to(self.device)

    # -- data ------------------------------------------------------------------------------------
    def _images(self, samples: Sequence[Sample], data: Dataset) -> torch.Tensor:
        """``[B, 3, S, S]`` normalised as the original (grey -> 3 channels, mean 0.492.., std 0.293)."""
        grey = torch.from_numpy(grey_views(samples, data, int(self.config["img_size"])))
        return normalise_grey(grey, self.config["image_mean"], self.config["image_std"]).to(self.device)

    def _label_tensors(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.fusion_codec is not None
        ids, mask = label_ids(texts, self.fusion_codec, self.fusion_codec.token_id("[SEP]"),
                              int(self.config["label_seq_len"]))
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)

    def _predicted_label_texts(self, logits: torch.Tensor) -> list[str]:
        thresholds = torch.as_tensor(self.thresholds, dtype=torch.float32, device=logits.device)
        states = (torch.sigmoid(logits.float()) > thresholds).long().cpu().numpy()
        return [label_text(row * POS) for row in states]

    def _with_labels(self) -> bool:
        return self.config["label_source"] != "none"

    # -- train -----------------------------------------------------------------------------------
    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        if stage not in self.stages:
            raise RRGBenchError(f"radscribe has one stage 'train', not {stage!r}")
        cfg = self.config
        self.prepare(data)
        torch.manual_seed(self.ctx.seed)
        train_s, val_s = data.split("train"), data.split("val")
        if not train_s:
            raise RRGBenchError(f"dataset {data.name}: empty train split")
        texts = [clean(s.report, self.cleaning) for s in train_s]
        states = report_states(texts, cfg["labeler"])
        positives = torch.from_numpy((states == POS).astype(np.float32))
        gt_text = [label_text(row) for row in states]
        val_texts = [clean(s.report, self.cleaning) for s in val_s]

        self.model = model = self._build(pretrained=True)
        enc_ids = {id(p) for m in model.encoder_modules() for p in m.parameters()}
        groups = []
        for key, params in (("encoder", [p for p in model.parameters() if id(p) in enc_ids]),
                            ("decoder", [p for p in model.parameters() if id(p) not in enc_ids])):
            opt = cfg["optimizer"][key]
            groups.append({"params": [p for p in params if p.requires_grad], "lr": opt["lr"],
                           "weight_decay": opt["weight_decay"]})
        optimizer = torch.optim.AdamW(groups)
        bs, accum, epochs = int(cfg["batch_size"]), int(cfg["grad_accum"]), int(cfg["epochs"])
        per_epoch = math.ceil(len(train_s) / bs)
        total_updates = max(1, epochs * per_epoch // accum)
        if cfg.get("max_steps"):
            total_updates = min(total_updates, max(1, int(cfg["max_steps"]) // accum))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, [
            lr_lambda(cfg["optimizer"][k]["warmup_rate"], total_updates, cfg["optimizer"][k]["lr"],
                      cfg["optimizer"][k]["min_lr"]) for k in ("encoder", "decoder")])
        amp = bool(cfg["amp"]) and self.device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        trainable = [p for g in groups for p in g["params"]]
        cache = self._images(train_s, data).cpu() if cfg["preload_images"] else None

        history, best, best_state, bad, step = [], math.inf, None, 0, 0
        start = time.perf_counter()
        max_steps = int(cfg["max_steps"]) if cfg.get("max_steps") else None
        for epoch in range(epochs):
            model.train()
            order = np.random.default_rng(self.ctx.seed + epoch).permutation(len(train_s))
            sums: dict[str, float] = {}
            n_batches = 0
            bar = self.ctx.progress(range(0, len(order), bs), desc=f"radscribe {epoch + 1}/{epochs}", leave=False)
            for i in bar:
                idx = order[i:i + bs].tolist()
                images = cache[idx].to(self.device) if cache is not None else \
                    self._images([train_s[j] for j in idx], data)
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=amp):
                    if not self._with_labels():
                        ltexts = [""] * len(idx)
                    elif cfg["train_label_text"] == "ground_truth":
                        ltexts = [gt_text[j] for j in idx]
                    else:
                        with torch.no_grad():
                            ltexts = self._predicted_label_texts(model.encode_image(images)[2])
                    lid, lmask = self._label_tensors(ltexts)
                    tgt = torch.from_numpy(target_ids([texts[j] for j in idx], self.decoder_codec,
                                                      int(cfg["max_target_tokens"]))).to(self.device)
                    losses = model.loss(images, lid, lmask, tgt, positives[idx].to(self.device),
                                        float(cfg["label_loss_weight"]))
                scaler.scale(losses["loss"] / accum).backward()
                step += 1
                if step % accum == 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(trainable, float(cfg["clip_norm"]))
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    if scheduler.last_epoch < total_updates:
                        scheduler.step()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                n_batches += 1
                if max_steps is not None and step >= max_steps:
                    break
            record = {k: round(v / max(1, n_batches), 4) for k, v in sums.items()}
            if val_s:
                record["val_loss"] = round(self._val_loss(val_s, val_texts, data), 4)
            history.append(record)
            self.epochs_trained = epoch + 1
            self.ctx.logger.info("radscribe epoch %d: %s", epoch + 1, record)
            score = record.get("val_loss", record["loss"])
            if score < best - 1e-3:
                best, bad = score, 0
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                best_epoch = epoch + 1
            else:
                bad += 1
                if bad >= int(cfg["early_stopping_patience"]):
                    break
            if max_steps is not None and step >= max_steps:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
            self.epochs_trained = best_epoch
        if self._with_labels() and cfg["label_threshold"] == "val_f1" and val_s:
            self.thresholds = self._tune_thresholds(val_s, report_states(val_texts, cfg["labeler"]), data)
        return {"steps": step, "epochs": history, "best_epoch": self.epochs_trained,
                "seconds": round(time.perf_counter() - start, 2), "train_samples": len(train_s),
                "label_source_eval": cfg["label_source"], "train_label_text": cfg["train_label_text"],
                "label_thresholds": [round(t, 2) for t in self.thresholds]}

    @torch.no_grad()
    def _tune_thresholds(self, samples: Sequence[Sample], states: np.ndarray, data: Dataset) -> list[float]:
        """Per-observation threshold of the label head maximising F1 on the validation split (0.5 when the
        split has no positive of that observation)."""
        assert self.model is not None
        self.model.eval()
        bs = int(self.config["generate_batch_size"])
        probs = np.concatenate([torch.sigmoid(self.model.encode_image(self._images(samples[i:i + bs], data))[2])
                                .float().cpu().numpy() for i in range(0, len(samples), bs)])
        out = []
        for j in range(probs.shape[1]):
            y = states[:, j] == POS
            best_t, best_f1 = 0.5, -1.0
            if y.any():
                for t in np.round(np.arange(0.05, 0.96, 0.05), 2)[::-1]:
                    pred = probs[:, j] > t
                    tp = float((pred & y).sum())
                    f1 = 2 * tp / max(1.0, float(pred.sum() + y.sum()))
                    if f1 > best_f1:
                        best_t, best_f1 = float(t), f1
            out.append(best_t)
        self.model.train()
        return out

    @torch.no_grad()
    def _val_loss(self, samples: Sequence[Sample], texts: Sequence[str], data: Dataset) -> float:
        """Validation LM loss with *predicted* label text (the original used ground-truth labels here)."""
        assert self.model is not None
        self.model.eval()
        total, count, bs = 0.0, 0, int(self.config["generate_batch_size"])
        for i in range(0, len(samples), bs):
            chunk = samples[i:i + bs]
            images = self._images(chunk, data)
            cls, img_emb, logits = self.model.encode_image(images)
            ltexts = self._predicted_label_texts(logits) if self._with_labels() else [""] * len(chunk)
            enc, mask = self.model.fuse(cls, img_emb, *self._label_tensors(ltexts))
            tgt = torch.from_numpy(target_ids(texts[i:i + bs], self.decoder_codec,
                                              int(self.config["max_target_tokens"]))).to(self.device)
            loss = self.model.decoder(encoder_outputs=enc, attention_mask=mask, labels=tgt, use_cache=False).loss
            total += float(loss) * len(chunk)
            count += len(chunk)
        self.model.train()
        return total / max(1, count)

    # -- generate --------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        """Reports from the images alone: label text comes from the label head (or is empty)."""
        if self.model is None or self.decoder_codec is None:
            raise RRGBenchError("radscribe: generate() before train() or load()")
        model = self.model.eval()
        images = self._images(samples, data)
        cls, img_emb, logits = model.encode_image(images)
        ltexts = self._predicted_label_texts(logits) if self._with_labels() else [""] * len(samples)
        self.last_label_texts = list(ltexts)
        enc, mask = model.fuse(cls, img_emb, *self._label_tensors(ltexts))
        params = decoding_params(self.config, self.epochs_trained)
        if params.get("do_sample"):
            torch.manual_seed(self.ctx.seed)
        codec = self.decoder_codec
        out = model.decoder.generate(encoder_outputs=enc, attention_mask=mask, pad_token_id=codec.pad_id,
                                     eos_token_id=codec.eos_id, decoder_start_token_id=codec.pad_id, **params)
        return [codec.decode(row.tolist()) for row in out]

    # -- save / load -----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        if self.model is None:
            raise RRGBenchError("radscribe: nothing to save before train()")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        shared = self.fusion_codec is self.decoder_codec
        meta = {**self.meta, "epochs_trained": self.epochs_trained, "cleaning": self.cleaning,
                "thresholds": list(self.thresholds),
                "decoder_tokenizer": save_codec(self.decoder_codec, path / "decoder_tokenizer"),
                "shared_tokenizer": shared}
        if not shared:
            meta["fusion_tokenizer"] = save_codec(self.fusion_codec, path / "fusion_tokenizer")
        save_checkpoint(path / "model.pt", {"model": self.model.state_dict()})
        atomic_write_json(path / "meta.json", meta)

    def load(self, path: Path) -> None:
        path = Path(path)
        if not (path / "meta.json").is_file():
            raise RRGBenchError(f"{path / 'meta.json'}: radscribe checkpoint metadata not found")
        meta = read_json(path / "meta.json")
        self.decoder_codec = load_codec(path / "decoder_tokenizer", meta["decoder_tokenizer"]["kind"])
        self.fusion_codec = self.decoder_codec if meta["shared_tokenizer"] else \
            load_codec(path / "fusion_tokenizer", meta["fusion_tokenizer"]["kind"])
        self.meta = copy.deepcopy(meta)
        self.epochs_trained = int(meta["epochs_trained"])
        self.thresholds = [float(t) for t in meta["thresholds"]]
        self.cleaning = self.cleaning or meta["cleaning"]
        model = self._build(pretrained=False)
        state = load_checkpoint(path / "model.pt")["model"]
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RRGBenchError(f"{path / 'model.pt'}: does not match the configured model "
                                f"({len(missing)} missing, {len(unexpected)} unexpected keys)")
        self.model = model


def load_medvill(model: RadScribeNet, directory: Path) -> None:
    """Load MedViLL BERT weights (``enc.txt_embeddings.*``, ``enc.encoder.*``) into the fusion encoder."""
    weights = directory / "pytorch_model.bin"
    if not weights.is_file():
        raise RRGBenchError(f"{weights}: MedViLL weights not found (expected next to config.json)")
    state = torch.load(weights, map_location="cpu", weights_only=True)
    mapped = {}
    for key, value in state.items():
        key = key.removeprefix("enc.").removeprefix("bert.")
        if key.startswith("txt_embeddings."):
            mapped["embeddings." + key.removeprefix("txt_embeddings.")] = value
        elif key.startswith(("embeddings.", "encoder.")):
            mapped[key] = value
    own = model.fusion.state_dict()
    wanted = [k for k in own if k.startswith(("embeddings.", "encoder.")) and "position_ids" not in k]
    missing = [k for k in wanted if k not in mapped]
    if missing:
        raise RRGBenchError(f"{weights}: MedViLL weights miss {len(missing)} encoder keys (e.g. {missing[0]})")
    model.fusion.load_state_dict({k: v for k, v in mapped.items() if k in own}, strict=False)
