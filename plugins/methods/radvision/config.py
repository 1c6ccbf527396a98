"""RadVision-7B presets. ``paper`` follows the notebook (Lingshu-7B, NF4 QLoRA, 1 epoch per stage, batch 1 x
accumulation 4, lr 1e-4, grad-norm clip 1.0); ``tiny`` is a randomly initialised Qwen2.5-VL for CPUs."""

from __future__ import annotations

import copy
from typing import Any

from rrgbench.api import RRGBenchError

STAGES = ("vision", "projector", "llm")
PROMPT = "Generate radiology report."  # the notebook's training prompt; we use it for inference too

BASE: dict[str, Any] = {
    "model": "lingshu-7b",            # asset name under $RRGBENCH_MODELS (or config["assets"]["lingshu-7b"])
    "tiny_model": None,               # tiny preset: the randomly initialised architecture (see tiny.py)
    "image_size": 512,                # the notebook resizes to 512x512 (LANCZOS) before the processor
    "prompt": PROMPT,
    "max_length": 1024,               # the notebook's processor truncation length
    "quantize_4bit": True,            # NF4, fp16 compute (bitsandbytes, CUDA only)
    "gradient_checkpointing": True,
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
    "stages": list(STAGES),           # which of vision / projector / llm to train (each selectable)
    "stage_params": "float",          # float: every floating-point parameter of the stage's component
                                      # (the notebook's set_training_stage); lora: LoRA adapters only
    "stage_components": {"vision": ["vision"], "projector": ["projector"], "llm": ["llm"]},
    "epochs": {"vision": 1, "projector": 1, "llm": 1},
    "batch_size": 1,
    "grad_accum": 4,
    "lr": 1e-4,
    "optimizer": "paged_adamw_8bit",  # the notebook's bnb.optim.PagedAdamW8bit; adamw on CPU
    "weight_decay": 0.01,             # the optimizers' default (the notebook sets none)
    "warmup_steps": 0,                # constant learning rate, as in the notebook's loop
    "cosine": False,
    "vision_objective": "lm",         # lm: stage 1 learns through the language-model loss (the notebook);
                                      # report_labels: tiny preset substitute (vision_labels.py)
    "vision_labels": None,
    "clip_norm": 1.0,
    "amp": True,                      # fp16 autocast on CUDA
    "max_steps": None,
    "decoding": {"max_new_tokens": 400, "num_beams": 1, "do_sample": False, "repetition_penalty": 1.0},
    "generate_batch_size": 8,
    "assets": {},
}

TINY_MODEL = {
    "text": {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "max_position_embeddings": 2048,
             "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]}},
    "vision": {"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 2, "patch_size": 14,
               "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56, "fullatt_block_indexes": [1]},
    "vocab_size": 2000,               # word vocabulary trained on the training reports
}

TINY_OVERRIDES: dict[str, Any] = {
    "model": None,
    "tiny_model": TINY_MODEL,
    "image_size": 112,                # 8x8 patches of 14 px -> 16 image tokens after the 2x2 merger
    # A random vision tower cannot learn through a random language model, nor can a frozen random one inform
    # the language model (README, "What differs"): the tiny vision stage trains tower + merger on the training
    # reports' CheXpert states and words; the projector stage (LM loss into a random LM) is skipped; the llm
    # stage trains the language model only, as in the notebook.
    "stages": ["vision", "llm"],
    "vision_objective": "report_labels",
    "vision_labels": {"steps": 2500, "batch_size": 32, "lr": 3e-3, "weight_decay": 0.05, "warmup": 50,
                      "bow_size": 256, "labeler": "chexpert_rules"},
    "stage_components": {"vision": ["vision", "projector"], "projector": ["projector"], "llm": ["llm"]},
    "max_length": 256,
    "quantize_4bit": False,
    "gradient_checkpointing": False,
    "epochs": {"vision": 1, "projector": 1, "llm": 10},
    "batch_size": 16,
    "grad_accum": 1,
    "lr": 3e-3,
    "weight_decay": 0.05,
    "warmup_steps": 100,
    "cosine": True,
    "optimizer": "adamw",
    "amp": False,
    "decoding": {"max_new_tokens": 80, "num_beams": 1, "do_sample": False, "repetition_penalty": 1.0},
    "generate_batch_size": 32,
}


def preset_config(preset: str, dataset: str) -> dict[str, Any]:
    if preset not in ("tiny", "paper"):
        raise RRGBenchError(f"radvision has presets tiny and paper, not {preset!r}")
    config = copy.deepcopy(BASE)
    if preset == "tiny":
        config.update(copy.deepcopy(TINY_OVERRIDES))
    del dataset  # one configuration for every dataset
    return config
