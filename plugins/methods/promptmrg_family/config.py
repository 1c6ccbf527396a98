"""Presets of the PromptMRG family: ``paper`` (the papers' settings) and ``tiny`` (CPU, minutes)."""

from __future__ import annotations

from typing import Any


def generation_lengths(dataset: str) -> dict[str, int]:
    """``max_new_tokens`` / ``min_length`` of the family's test scripts: MIMIC 150/100, IU 110/60 (notes §2)."""
    if "mimic" in dataset.lower():
        return {"max_new_tokens": 150, "min_length": 100}
    return {"max_new_tokens": 110, "min_length": 60}


def family_config(preset: str, dataset: str) -> dict[str, Any]:
    """Shared defaults; methods add their own keys and per-stage overrides under ``stages``."""
    paper = preset == "paper"
    gen = {"num_beams": 3, "repetition_penalty": 1.0, **generation_lengths(dataset)}
    if not paper:
        # min_length counts the 15 prompt tokens; the scripts' 60 forces ~45 report tokens, which pads short
        # IU findings with filler sentences ("degenerative changes ...") that change their CheXpert labels.
        gen["min_length"] = 30
    shared = {"label_smoothing": 0.1, "cls_weight": 4.0, "batch_size": 16, "weight_decay": 0.05,
              "max_steps": None, "generation": gen, "assets": {}}
    if paper:
        return {
            **shared,
            "image_arch": "resnet101", "image_size": 224, "load_size": 256,
            "decoder": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                        "intermediate_size": 3072, "max_position_embeddings": 512},
            "tokenizer": {"vocab_size": 30000, "min_frequency": 2}, "max_words": 100,
            "epochs": 6, "lr": 5e-5, "min_lr": 5e-6, "warmup_lr": 5e-7, "warmup_steps": 2000, "clip_value": 0.1,
            "val_limit": None, "generate_batch_size": 16,
            "precision": "bf16",  # bf16 autocast of training steps on CUDA; CPU runs stay fp32 (run facts say which)
            "image_cache": False,  # MIMIC-size training sets do not fit in memory
        }
    return {
        **shared,
        "image_arch": "tiny", "image_size": 96, "load_size": 108,
        "decoder": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                    "intermediate_size": 256, "max_position_embeddings": 256},
        "tokenizer": {"vocab_size": 1500, "min_frequency": 2}, "max_words": 60,
        "epochs": 7, "lr": 3e-3, "min_lr": 3e-4, "warmup_lr": 1e-5, "warmup_steps": 30, "clip_value": 0.5,
        "val_limit": 128, "generate_batch_size": 32,
    }
