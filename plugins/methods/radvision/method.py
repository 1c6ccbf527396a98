"""RadVision-7B as an rrgbench :class:`~rrgbench.api.Method`: three LoRA stages on a Qwen2.5-VL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rrgbench_plugins.methods.common.assets import AssetNeed, asset_report
from rrgbench_plugins.methods.common.batching import grey_views
from rrgbench_plugins.methods.common.checkpoint import load_checkpoint, save_checkpoint

from rrgbench.api import Dataset, Method, RRGBenchError, RunContext, Sample
from rrgbench.io import atomic_write_json, read_json
from rrgbench.text import clean

from .backend import (
    load_paper_model,
    lora_wrap,
    make_optimizer,
    paper_model_path,
    require_qlora_runtime,
    tiny_image_processor,
    tiny_model_config,
    train_tokenizer,
)
from .chat import ChatFormat, processor_chat_prompt, qwen_chat_prompt
from .config import STAGES, preset_config
from .stages import select_stage
from .vision_labels import lr_factor, train_on_labels


class RadVision(Method):
    name = "radvision"
    version = "0.1"
    stages = STAGES
    optional_config_keys = ("cleaning",)  # text cleaning override, read with config.get

    def __init__(self, config: dict[str, Any], ctx: RunContext) -> None:
        super().__init__(config, ctx)
        self.device = torch.device(ctx.device)
        self.cleaning: str | None = config.get("cleaning")
        self.tokenizer: Any = None
        self.processor: Any = None  # paper preset: the local AutoProcessor
        self.model: Any = None
        self.chat: ChatFormat | None = None
        self.trained_names: set[str] = set()

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        return preset_config(preset, dataset)

    asset_report = classmethod(asset_report)

    @classmethod
    def contract_config(cls, dataset: str) -> dict[str, Any]:
        """The tiny preset shrunk to seconds (as the plugin's own tests): 112 px, one epoch per stage."""
        cfg = preset_config("tiny", dataset)
        cfg.update({"batch_size": 8, "image_size": 112, "epochs": {"vision": 1, "projector": 1, "llm": 1}})
        if cfg.get("vision_labels"):
            cfg["vision_labels"] = {**cfg["vision_labels"], "steps": 6, "batch_size": 8, "warmup": 1}
        return cfg

    @classmethod
    def pretrained_assets(cls, config: dict[str, Any], preset: str) -> list[AssetNeed]:
        """The paper preset's base model (Lingshu-7B); the tiny preset builds a small random Qwen2.5-VL."""
        if not config.get("model"):
            return []
        return [AssetNeed(config["model"], "Lingshu-7B (Qwen2.5-VL-7B) base model for QLoRA",
                          "none: the paper preset stops with an error naming this path",
                          "a from_pretrained directory with config.json, processor and tokenizer files")]

    @property
    def tiny(self) -> bool:
        return self.config.get("tiny_model") is not None

    # -- prepare ---------------------------------------------------------------------------------
    def prepare(self, data: Dataset) -> None:
        self.cleaning = self.cleaning or data.cleaning
        if not self.tiny:
            paper_model_path(self.config)  # refuse early and clearly: no weights ...
            require_qlora_runtime(self.config)  # ... no GPU, no bitsandbytes
            return
        if self.tokenizer is None:
            self.ctx.substitute("lingshu-7b", "tiny preset: a small randomly initialised Qwen2.5-VL and a "
                                "word-level tokenizer trained on the training reports")
            texts = [clean(s.report, self.cleaning) for s in data.split("train")]
            self.tokenizer = train_tokenizer(texts, int(self.config["tiny_model"]["vocab_size"]),
                                             self.config["prompt"])

    def _ensure_model(self) -> None:
        if self.model is not None:
            return
        if self.tiny:
            torch.manual_seed(self.ctx.seed)
            from transformers import Qwen2_5_VLForConditionalGeneration

            base = Qwen2_5_VLForConditionalGeneration(tiny_model_config(self.config["tiny_model"], self.tokenizer))
            self.model = lora_wrap(base, self.config["lora"]).to(self.device)
            self._set_chat(tiny_image_processor(int(self.config["image_size"])), qwen_chat_prompt)
        else:
            self.model, self.processor = load_paper_model(paper_model_path(self.config), self.config, self.device)
            self.tokenizer = self.processor.tokenizer
            self._set_chat(self.processor.image_processor, processor_chat_prompt(self.processor))

    def _set_chat(self, image_processor: Any, render: Any) -> None:
        self.chat = ChatFormat(self.tokenizer, image_processor, self.config["prompt"], render,
                               int(self.config["max_length"]))

    def _grey(self, samples: Sequence[Sample], data: Dataset) -> list[np.ndarray]:
        """First view of each study (the notebook used the frontal image only)."""
        return list(grey_views(samples, data, int(self.config["image_size"])))

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in batch.items()}

    # -- train -----------------------------------------------------------------------------------
    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        if stage not in STAGES:
            raise RRGBenchError(f"radvision stages are {', '.join(STAGES)}, not {stage!r}")
        cfg = self.config
        if stage not in cfg["stages"]:
            return {"skipped": True}
        self.prepare(data)
        self._ensure_model()
        assert self.chat is not None
        names = select_stage(self.model, stage, cfg["stage_params"], (cfg.get("stage_components") or {}).get(stage))
        if not names:
            return {"skipped": True, "reason": "no trainable parameters in this component"}
        self.trained_names.update(names)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if self.device.type == "cuda":  # the notebook trains the selected parameters in float32
            for p in params:
                if p.dtype != torch.float32:
                    p.data = p.data.float()
        if stage == "vision" and cfg.get("vision_objective", "lm") == "report_labels":
            return self._train_vision_on_labels(data, params, len(names))
        optimizer, opt_name = make_optimizer(cfg["optimizer"], params, float(cfg["lr"]),
                                             float(cfg.get("weight_decay", 0.01)))
        if opt_name != cfg["optimizer"]:
            self.ctx.substitute(f"optimizer:{cfg['optimizer']}", f"{opt_name} used (needs CUDA + bitsandbytes)")
        amp = bool(cfg["amp"]) and self.device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        train_s = data.split("train")
        texts = [clean(s.report, self.cleaning) for s in train_s]
        bs, accum = int(cfg["batch_size"]), int(cfg["grad_accum"])
        epochs = int(cfg["epochs"][stage])
        max_steps = int(cfg["max_steps"]) if cfg.get("max_steps") else None
        updates = (epochs * -(-len(train_s) // bs)) // accum
        if max_steps is not None:
            updates = min(updates, max_steps // accum)
        warmup, cosine = int(cfg.get("warmup_steps", 0)), bool(cfg.get("cosine", False))
        start, step, history = time.perf_counter(), 0, []
        self.model.train()
        optimizer.zero_grad(set_to_none=True)
        for epoch in range(epochs):
            order = np.random.default_rng(self.ctx.seed * 1000 + STAGES.index(stage) * 100 + epoch) \
                .permutation(len(train_s))
            total, count = 0.0, 0
            bar = self.ctx.progress(range(0, len(order), bs), desc=f"radvision {stage} {epoch + 1}/{epochs}",
                                    leave=False)
            for i in bar:
                idx = order[i:i + bs].tolist()
                if step % accum == 0:
                    for group in optimizer.param_groups:
                        group["lr"] = float(cfg["lr"]) * lr_factor(step // accum, updates, warmup, cosine)
                batch = self._to_device(self.chat.train_batch(self._grey([train_s[j] for j in idx], data),
                                                              [texts[j] for j in idx]))
                with torch.autocast(self.device.type, dtype=torch.float16, enabled=amp):
                    loss = self.model(**batch).loss
                scaler.scale(loss / accum).backward()
                step += 1
                if step % accum == 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, float(cfg["clip_norm"]))
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                total += float(loss.detach())
                count += 1
                if max_steps is not None and step >= max_steps:
                    break
            history.append(round(total / max(1, count), 4))
            if max_steps is not None and step >= max_steps:
                break
        facts: dict[str, Any] = {"steps": step, "train_loss": history, "trainable_tensors": len(names),
                                 "trainable_params": int(sum(p.numel() for p in params)), "optimizer": opt_name,
                                 "seconds": round(time.perf_counter() - start, 2)}
        val = data.split("val")
        if val:
            facts["val_loss"] = round(self._val_loss(val, data), 4)
        self.ctx.logger.info("radvision stage %s: %s", stage, facts)
        return facts

    def _train_vision_on_labels(self, data: Dataset, params: list[torch.nn.Parameter], n_tensors: int
                                ) -> dict[str, Any]:
        """Tiny preset: the vision stage learns the training reports' CheXpert states and words (see
        :mod:`.vision_labels`) instead of the language-model loss through a random language model."""
        cfg = self.config
        self.ctx.substitute("vision-stage:lm-loss", "tiny preset: vision tower and merger trained on the training "
                            "reports' CheXpert states (offline labeler) and bag of words, in place of Lingshu-7B's "
                            "pretrained vision encoder and the LM loss through a random language model")
        train_s = data.split("train")

        def batch_pixels(idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            return self.chat.pixels(self._grey([train_s[j] for j in idx], data))

        start = time.perf_counter()
        self.model.train()
        facts = train_on_labels(self.model.get_base_model().model.visual, params, [s.report for s in train_s],
                                [clean(s.report, self.cleaning) for s in train_s], batch_pixels,
                                {**cfg["vision_labels"], "clip_norm": cfg["clip_norm"]}, self.ctx.seed,
                                self.ctx.progress)
        facts.update({"trainable_tensors": n_tensors, "trainable_params": int(sum(p.numel() for p in params)),
                      "seconds": round(time.perf_counter() - start, 2)})
        self.ctx.logger.info("radvision stage vision: %s", facts)
        return facts

    @torch.no_grad()
    def _val_loss(self, samples: Sequence[Sample], data: Dataset) -> float:
        """Report-token loss on the validation split (the notebook had no held-out data)."""
        self.model.eval()
        total, count, bs = 0.0, 0, int(self.config["generate_batch_size"])
        for i in range(0, len(samples), bs):
            chunk = samples[i:i + bs]
            batch = self._to_device(self.chat.train_batch(self._grey(chunk, data),
                                                          [clean(s.report, self.cleaning) for s in chunk]))
            total += float(self.model(**batch).loss) * len(chunk)
            count += len(chunk)
        self.model.train()
        return total / max(1, count)

    # -- generate --------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        """Greedy (deterministic) reports from the image and the training prompt only."""
        if self.model is None or self.chat is None:
            raise RRGBenchError("radvision: generate() before train() or load()")
        self.model.eval()
        batch = self._to_device(self.chat.generation_batch(self._grey(samples, data)))
        amp = bool(self.config["amp"]) and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=amp):
            out = self.model.generate(**batch, **self.config["decoding"], eos_token_id=self.chat.eos_ids,
                                      pad_token_id=self.chat.pad_id)
        new = out[:, batch["input_ids"].shape[1]:]
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]

    # -- save / load -----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        if self.model is None:
            raise RRGBenchError("radvision: nothing to save before train()")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = self.model.state_dict()
        if not self.tiny:  # only what training changed; the base weights come from the local Lingshu-7B
            state = {k: v for k, v in state.items() if k in self.trained_names}
        save_checkpoint(path / "model.pt", {"model": state})
        meta: dict[str, Any] = {"trained": sorted(self.trained_names), "cleaning": self.cleaning, "tiny": self.tiny}
        if self.tiny:
            self.tokenizer.save_pretrained(str(path / "tokenizer"))
            meta["model_config"] = self.model.get_base_model().config.to_dict()
        atomic_write_json(path / "meta.json", meta)

    def load(self, path: Path) -> None:
        path = Path(path)
        if not (path / "meta.json").is_file():
            raise RRGBenchError(f"{path / 'meta.json'}: radvision checkpoint metadata not found")
        meta = read_json(path / "meta.json")
        if meta["tiny"] != self.tiny:
            raise RRGBenchError(f"{path}: checkpoint preset does not match this configuration")
        self.cleaning = self.cleaning or meta["cleaning"]
        if self.tiny:
            from transformers import (
                PreTrainedTokenizerFast,
                Qwen2_5_VLConfig,
                Qwen2_5_VLForConditionalGeneration,
            )

            self.tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path / "tokenizer"))
            base = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig.from_dict(meta["model_config"]))
            self.model = lora_wrap(base, self.config["lora"]).to(self.device)
            self._set_chat(tiny_image_processor(int(self.config["image_size"])), qwen_chat_prompt)
        else:
            self.model = None
            self._ensure_model()
        state = load_checkpoint(path / "model.pt", map_location=str(self.device))["model"]
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        if unexpected or (self.tiny and missing):
            raise RRGBenchError(f"{path / 'model.pt'}: does not match the model ({len(missing)} missing, "
                                f"{len(unexpected)} unexpected keys)")
        self.trained_names = set(meta["trained"])

