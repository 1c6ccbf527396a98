"""RadScribe presets. ``paper`` mirrors ``configs/base.yaml`` of the original; ``tiny`` runs on a CPU."""

from __future__ import annotations

import copy
from typing import Any

from rrgbench.api import RRGBenchError

# The original's optimiser: two AdamW groups, 10 % linear warm-up, then linear decay floored at min_lr.
PAPER_OPTIMIZER = {
    "encoder": {"lr": 5e-5, "min_lr": 1e-5, "weight_decay": 0.01, "warmup_rate": 0.1},
    "decoder": {"lr": 1e-4, "min_lr": 2e-5, "weight_decay": 0.005, "warmup_rate": 0.1},
}

# The original's epoch-dependent decoding (utils/generator_scheduler.py) at a late epoch, minus sampling.
PAPER_DECODING = {"num_beams": 5, "max_new_tokens": 128, "min_new_tokens": 64, "no_repeat_ngram_size": 3,
                  "repetition_penalty": 1.0, "length_penalty": 1.0}

BASE: dict[str, Any] = {
    "img_encoder": "vit",              # vit | resnet101 | densenet121
    "img_size": 512,
    "num_image_embeds": 256,
    "image_mean": [0.492, 0.493, 0.494],
    "image_std": [0.293, 0.293, 0.293],
    "vit": {"patch_size": 16, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
            "intermediate_size": 3072},
    "vit_frozen_layers": 0,            # the original's default trains every block; >0 freezes patch embed + N blocks
    "resnet_arch": "resnet101",
    "densenet": {"growth_rate": 32, "block_config": [6, 12, 24, 16], "num_init_features": 64, "bn_size": 4},
    "cnn_feature_dim": 2048,
    "bert": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
             "max_position_embeddings": 512},
    "t5": {"d_model": 768, "d_ff": 3072, "d_kv": 64, "num_layers": 12, "num_decoder_layers": 12, "num_heads": 12},
    "label_source": "predicted",       # predicted (label head) | none; ground truth is never used at val/test
    "train_label_text": "ground_truth",  # label text during training: ground_truth (original) | predicted
    "label_cross_layers": 3,
    "label_seq_len": 253,
    "label_threshold": "val_f1",       # per-observation F1-optimal threshold on val, or a number
    "label_loss_weight": 1.0,
    "labeler": "chexpert_rules",
    "tokenizer_vocab_size": 8000,
    "max_target_tokens": 512,
    "epochs": 20,
    "batch_size": 2,
    "grad_accum": 8,
    "optimizer": PAPER_OPTIMIZER,
    "clip_norm": 1.0,
    "amp": True,                       # fp16 autocast + GradScaler, CUDA only
    "early_stopping_patience": 3,      # on validation loss (the original: training perplexity)
    "max_steps": None,
    "preload_images": False,
    "decoding": PAPER_DECODING,
    "decode_schedule": "fixed",        # fixed (deterministic beam) | original (epoch-dependent, samples)
    "generate_batch_size": 16,
    "assets": {},
}

TINY_OVERRIDES: dict[str, Any] = {
    "img_encoder": "resnet101",
    "resnet_arch": "tiny",
    "img_size": 128,
    "num_image_embeds": 16,
    "vit": {"patch_size": 16, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 128},
    "vit_frozen_layers": 0,
    "densenet": {"growth_rate": 8, "block_config": [2, 2, 2, 2], "num_init_features": 16, "bn_size": 2},
    "cnn_feature_dim": 128,
    "bert": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256,
             "max_position_embeddings": 128},
    "t5": {"d_model": 128, "d_ff": 256, "d_kv": 32, "num_layers": 3, "num_decoder_layers": 3, "num_heads": 4},
    "label_seq_len": 40,
    "tokenizer_vocab_size": 1000,
    "max_target_tokens": 80,
    "epochs": 10,
    "batch_size": 16,
    "grad_accum": 1,
    "optimizer": {
        "encoder": {"lr": 1e-3, "min_lr": 2e-4, "weight_decay": 0.01, "warmup_rate": 0.1},
        "decoder": {"lr": 2e-3, "min_lr": 4e-4, "weight_decay": 0.005, "warmup_rate": 0.1},
    },
    "early_stopping_patience": 3,
    "preload_images": True,
    "decoding": {"num_beams": 3, "max_new_tokens": 60, "min_new_tokens": 0, "no_repeat_ngram_size": 3,
                 "repetition_penalty": 1.0, "length_penalty": 1.0},
    "generate_batch_size": 32,
}


def preset_config(preset: str, dataset: str) -> dict[str, Any]:
    if preset not in ("tiny", "paper"):
        raise RRGBenchError(f"radscribe has presets tiny and paper, not {preset!r}")
    config = copy.deepcopy(BASE)
    if preset == "tiny":
        config.update(copy.deepcopy(TINY_OVERRIDES))
    elif "mimic" not in dataset.lower():
        # IU findings are ~35 words: the original's MIMIC minimum of 64 new tokens would force padding text.
        config["decoding"] = {**config["decoding"], "min_new_tokens": 16}
    return config
