"""R2Gen's word tokenizer: whitespace tokens of the cleaned training reports (notes §1.4).

Vocabulary = every token seen at least ``threshold`` times (3 for IU X-ray, 10 for MIMIC-CXR) plus
``<unk>``, sorted; ids start at 1. Id 0 is bos, eos and padding at once: ``encode`` returns
``[0] + ids + [0]`` and ``decode`` stops at the first 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from rrgbench.io import atomic_write_json, read_json

UNK = "<unk>"


class R2GenTokenizer:
    """Token <-> id maps built from already-cleaned reports."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.idx2token = {i + 1: tok for i, tok in enumerate(tokens)}
        self.token2idx = {tok: i for i, tok in self.idx2token.items()}
        if UNK not in self.token2idx:
            raise ValueError("the vocabulary must contain <unk>")

    @classmethod
    def build(cls, cleaned_reports: Iterable[str], threshold: int) -> R2GenTokenizer:
        counts = Counter(tok for report in cleaned_reports for tok in report.split())
        vocab = sorted([tok for tok, n in counts.items() if n >= threshold] + [UNK])
        return cls(vocab)

    def __len__(self) -> int:
        return len(self.token2idx)

    def encode(self, cleaned_report: str) -> list[int]:
        unk = self.token2idx[UNK]
        return [0] + [self.token2idx.get(tok, unk) for tok in cleaned_report.split()] + [0]

    def decode(self, ids: Iterable[int]) -> str:
        words = []
        for idx in ids:
            if idx <= 0:
                break
            words.append(self.idx2token[int(idx)])
        return " ".join(words)

    def save(self, path: Path) -> None:
        atomic_write_json(path, {"tokens": [self.idx2token[i] for i in range(1, len(self) + 1)]})

    @classmethod
    def load(cls, path: Path) -> R2GenTokenizer:
        return cls(read_json(path)["tokens"])
