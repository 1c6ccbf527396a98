"""Building the VLM: a tiny random Qwen2.5-VL (CPU) or Lingshu-7B from a local path (NF4 QLoRA on CUDA).

Nothing here downloads: the paper preset refuses with :class:`~rrgbench.api.UnavailableError` when the
weights, a CUDA device or bitsandbytes are missing. bitsandbytes is imported only on that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from rrgbench_plugins.methods.common.assets import resolve_asset
from rrgbench_plugins.methods.common.tokenizer import bert_words, ranked_words, word_level
from torch import nn
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLImageProcessor,
)

from rrgbench.api import RRGBenchError, UnavailableError

from .chat import SPECIALS, qwen_chat_prompt

UNK = "[UNK]"


def train_tokenizer(texts: Sequence[str], vocab_size: int, prompt: str) -> PreTrainedTokenizerFast:
    """A deterministic word-level tokenizer over the training reports plus the chat template's words.

    Qwen's special tokens keep their roles (``<|endoftext|>`` pads, ``<|im_end|>`` ends a turn).
    """
    template = qwen_chat_prompt(prompt)
    for special in SPECIALS:
        template = template.replace(special, " ")
    words = [w for w, _ in ranked_words([*texts, template])]
    specials = [*SPECIALS, UNK]
    template_words = set(bert_words(template))
    keep = [w for w in words if w in template_words]
    keep += [w for w in words if w not in template_words][:max(0, vocab_size - len(specials) - len(keep))]
    return PreTrainedTokenizerFast(tokenizer_object=word_level(specials + keep, specials, UNK), unk_token=UNK,
                                   pad_token="<|endoftext|>", eos_token="<|im_end|>",
                                   additional_special_tokens=list(SPECIALS[1:]))


def tiny_model_config(spec: dict[str, Any], tokenizer: PreTrainedTokenizerFast) -> Qwen2_5_VLConfig:
    """A small Qwen2.5-VL configuration whose special ids are the tokenizer's."""
    ids = {name: int(tokenizer.convert_tokens_to_ids(tok)) for name, tok in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    text = {**spec["text"], "vocab_size": len(tokenizer), "tie_word_embeddings": False,
            "bos_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}
    vision = {**spec["vision"], "out_hidden_size": spec["text"]["hidden_size"]}
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **ids)


def tiny_image_processor(image_size: int) -> Qwen2VLImageProcessor:
    """Qwen2-VL's processor pinned to one ``image_size`` square (must be a multiple of 28)."""
    if image_size % 28:
        raise RRGBenchError(f"image_size {image_size} must be a multiple of 28 (patch 14 x merge 2)")
    pixels = image_size * image_size
    return Qwen2VLImageProcessor(min_pixels=pixels, max_pixels=pixels)


def lora_wrap(model: nn.Module, lora: dict[str, Any]) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                            target_modules=lora["target_modules"], bias="none",
                                            task_type="CAUSAL_LM"))


def paper_model_path(config: dict[str, Any]) -> Path:
    """The local Lingshu-7B directory, or UnavailableError naming where it must go."""
    from rrgbench.paths import models_root

    name = config["model"]
    path = resolve_asset(name, config)
    if path is None or not (path / "config.json").is_file():
        where = path or (models_root() / name)
        raise UnavailableError(f"radvision paper preset: {where / 'config.json'} not found; copy Lingshu-7B "
                               f"(lingshu-medical-mllm/Lingshu-7B) there or set config assets.{name}")
    return path


def require_qlora_runtime(config: dict[str, Any]) -> None:
    """CUDA and bitsandbytes, needed for 4-bit QLoRA; raise UnavailableError saying which is missing."""
    if not config["quantize_4bit"]:
        return
    if not torch.cuda.is_available():
        raise UnavailableError("radvision paper preset: 4-bit QLoRA needs a CUDA GPU and none is visible "
                               "(set quantize_4bit: false to try full precision)")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise UnavailableError("radvision paper preset: bitsandbytes is not installed "
                               "(pip install -c constraints.txt bitsandbytes)") from exc


class LocalProcessor:
    """The parts of Qwen2.5-VL's ``AutoProcessor`` this method uses, built without torchvision.

    transformers' ``Qwen2_5_VLProcessor`` also builds a video processor, which imports torchvision
    (``AutoVideoProcessor requires the Torchvision library``); images need only the slow
    :class:`Qwen2VLImageProcessor` and the tokenizer. The chat template is the processor's
    (``chat_template.json`` / ``chat_template.jinja``) when the directory has one, else the tokenizer's.
    """

    def __init__(self, path: Path) -> None:
        import json

        from transformers import AutoTokenizer

        try:
            self.image_processor = Qwen2VLImageProcessor.from_pretrained(str(path), local_files_only=True)
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise RRGBenchError(f"{path}: cannot load the Qwen2.5-VL image processor / tokenizer ({exc})") from None
        template = None
        if (path / "chat_template.json").is_file():
            template = json.loads((path / "chat_template.json").read_text(encoding="utf-8")).get("chat_template")
        elif (path / "chat_template.jinja").is_file():
            template = (path / "chat_template.jinja").read_text(encoding="utf-8")
        self.chat_template = template or self.tokenizer.chat_template
        if not self.chat_template:
            raise RRGBenchError(f"{path}: no chat template (chat_template.json, chat_template.jinja or "
                                "tokenizer_config.json)")

    def apply_chat_template(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
        return self.tokenizer.apply_chat_template(messages, chat_template=self.chat_template, **kwargs)


def load_paper_model(path: Path, config: dict[str, Any], device: torch.device) -> tuple[nn.Module, Any]:
    """Lingshu-7B (any local Qwen2.5-VL checkpoint) with NF4 quantisation and LoRA; plus its processor
    (:class:`LocalProcessor`, loaded first so that a broken directory fails before any weight loads)."""
    require_qlora_runtime(config)
    processor = LocalProcessor(path)
    cfg = Qwen2_5_VLConfig.from_pretrained(str(path), local_files_only=True)
    if cfg.model_type != "qwen2_5_vl":
        raise RRGBenchError(f"{path}: model_type {cfg.model_type!r} is not qwen2_5_vl")
    kwargs: dict[str, Any] = {"local_files_only": True, "torch_dtype": torch.float16 if device.type == "cuda"
                              else torch.float32}
    if config["quantize_4bit"]:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_compute_dtype=torch.float16)
        kwargs["device_map"] = {"": device.index or 0}
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(path), **kwargs)
    if not config["quantize_4bit"]:
        model.to(device)
    if config["gradient_checkpointing"]:
        model.gradient_checkpointing_enable()
    if config["quantize_4bit"]:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config["gradient_checkpointing"])
    return lora_wrap(model, config["lora"]), processor


def make_optimizer(name: str, params: list[nn.Parameter], lr: float,
                   weight_decay: float = 0.01) -> tuple[torch.optim.Optimizer, str]:
    """The notebook's PagedAdamW8bit on CUDA with bitsandbytes, else torch AdamW; returns what was used.

    ``weight_decay`` 0.01 is the default of both optimizers (the notebook does not set it)."""
    if name == "paged_adamw_8bit" and torch.cuda.is_available():
        try:
            import bitsandbytes as bnb

            return bnb.optim.PagedAdamW8bit(params, lr=lr, weight_decay=weight_decay), "paged_adamw_8bit"
        except ImportError:
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay), "adamw"
