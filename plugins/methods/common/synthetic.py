"""A tiny in-memory dataset for method tests: images whose patterns determine the report's findings.

Each finding draws a distinct pattern (a bright disc, a lower band, a stripe) so a small model can learn
image -> state -> sentence. Reports are template sentences, nothing from any real dataset.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from rrgbench.api import Dataset, Sample

FINDINGS = (
    ("the heart is enlarged .", "the heart size is normal ."),
    ("there is a small right pleural effusion .", "no pleural effusion ."),
    ("there is a pneumothorax .", "no pneumothorax ."),
)
FILLER = ("the mediastinal contours are stable .", "bony structures are intact .", "lungs are clear .")


def _draw(flags: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.2 + 0.05 * rng.standard_normal((size, size))
    if flags[0]:
        img += 0.6 * (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.06)
    if flags[1]:
        img += 0.5 * (yy > 0.75)
    if flags[2]:
        img += 0.5 * ((xx > 0.1) & (xx < 0.2))
    return np.clip(img, 0, 1).astype(np.float32)


class SyntheticDataset(Dataset):
    """``n`` samples per split, reproducible from ``seed``; ``load_images`` draws the pattern on demand."""

    name: ClassVar[str] = "synthetic_methods"
    cleaning: ClassVar[str] = "whitespace"

    def __init__(self, n: int = 24, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n, self.seed = n, seed
        self._samples: dict[str, list[Sample]] = {}

    def prepare(self) -> None:
        rng = np.random.default_rng(self.seed)
        for split in ("train", "val", "test"):
            rows = []
            for i in range(self.n):
                flags = rng.random(len(FINDINGS)) < 0.4
                sents = [pos if f else neg for f, (pos, neg) in zip(flags, FINDINGS)]
                sents.insert(int(rng.integers(0, len(sents) + 1)), FILLER[int(rng.integers(0, len(FILLER)))])
                rows.append(Sample(id=f"{split}{i:03d}", report=" ".join(sents), image_paths=(f"{split}{i}.png",),
                                   split=split, meta={"flags": flags.tolist()}))
            self._samples[split] = rows

    def split(self, name: str) -> list[Sample]:
        if not self._samples:
            self.prepare()
        return list(self._samples[name])

    def manifest_hash(self) -> str:
        return f"synthetic-{self.n}-{self.seed}"

    def load_images(self, sample: Sample, size: int) -> np.ndarray:
        flags = np.asarray(sample.meta["flags"], dtype=bool)
        rng = np.random.default_rng(int(sample.id[-3:]) + 7)
        return _draw(flags, size, rng)[None]


def smoke_config(config: dict, **overrides) -> dict:
    """Shrink a family ``tiny`` config further for second-scale tests on :class:`SyntheticDataset`."""
    cfg = {**config, "image_size": 32, "load_size": 32, "batch_size": 8, "epochs": 1, "warmup_steps": 0,
           "lr": 2e-3, "val_limit": 8, "generate_batch_size": 8,
           "decoder": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "intermediate_size": 64, "max_position_embeddings": 64},
           "tokenizer": {"vocab_size": 200, "min_frequency": 1},
           "generation": {"num_beams": 3, "max_new_tokens": 12, "min_length": 4, "repetition_penalty": 1.0}}
    for key in ("text_dim", "memory_dim", "lre_dim", "ot_dim", "graph_dim", "memory_ff", "graph_ff",
                "fusion_hidden"):
        if key in cfg:
            cfg[key] = 16
    for key in ("memory_heads", "ot_heads", "graph_heads", "fusion_heads"):
        if key in cfg:
            cfg[key] = 2
    cfg["stages"] = {k: {} for k in cfg.get("stages", {})}
    cfg.update(overrides)
    return cfg
