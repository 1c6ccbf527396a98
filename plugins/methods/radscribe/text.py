"""Tokenizers and label text for RadScribe.

Two tokenizers, as in the original: a BERT WordPiece vocabulary for the label text fed to the fusion encoder
(``bert-base-uncased``) and a T5 tokenizer for the report targets (``t5-base`` / ClinicalT5). When those are
not on local disk, one whole-word vocabulary built from the cleaned training reports plus the 14 label names
serves both sides (recorded as a substitute).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from rrgbench_plugins.methods.common.tokenizer import BASE_SPECIAL as BASE_ORDER
from rrgbench_plugins.methods.common.tokenizer import ReportTokenizer, bert_words, ranked_words, word_level

from rrgbench.api import CHEXPERT_LABELS

POS = 1  # PromptMRG state id of a positive mention (common.labels)


class Codec(Protocol):
    pad_id: int
    eos_id: int
    vocab_size: int

    def encode(self, text: str, max_tokens: int | None = None) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...
    def token_id(self, token: str) -> int: ...


class HFCodec:
    """A ``transformers`` tokenizer (t5-base / ClinicalT5 / bert-base-uncased) behind the :class:`Codec` API."""

    def __init__(self, tokenizer) -> None:  # noqa: ANN001 - any PreTrainedTokenizer
        self.tok = tokenizer
        self.pad_id = int(tokenizer.pad_token_id)
        self.eos_id = int(tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id)
        self.vocab_size = len(tokenizer)

    def encode(self, text: str, max_tokens: int | None = None) -> list[int]:
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        return ids[:max_tokens] if max_tokens is not None else ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True).strip()

    def token_id(self, token: str) -> int:
        return int(self.tok.convert_tokens_to_ids(token))


def save_codec(codec: Codec, directory: Path) -> dict[str, str]:
    """Write ``codec`` under ``directory``; returns a small description for :func:`load_codec`."""
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(codec, ReportTokenizer):
        codec.save(directory / "tokenizer.json")
        return {"kind": "wordpiece"}
    codec.tok.save_pretrained(str(directory))
    return {"kind": "hf"}


def load_codec(directory: Path, kind: str) -> Codec:
    if kind == "wordpiece":
        return ReportTokenizer.load(directory / "tokenizer.json")
    from transformers import AutoTokenizer

    return HFCodec(AutoTokenizer.from_pretrained(str(directory), local_files_only=True))


def label_text(states_row: np.ndarray) -> str:
    """The original's label string (``"'Cardiomegaly', 'Pleural Effusion'"``) of the positive observations.

    As in the original dataloader, a "No Finding"-only (or empty) label gives an empty label text.
    """
    names = [CHEXPERT_LABELS[j] for j, s in enumerate(states_row) if int(s) == POS and CHEXPERT_LABELS[j] != "No Finding"]
    return ", ".join(f"'{n}'" for n in names)


def label_ids(texts: Sequence[str], codec: Codec, sep_id: int, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Padded ``[B, L]`` ids (label tokens then ``[SEP]``, as the original) and their 0/1 mask."""
    rows = [codec.encode(t, max_tokens) + [sep_id] for t in texts]
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), codec.pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask


def target_ids(texts: Sequence[str], codec: Codec, max_tokens: int) -> np.ndarray:
    """``[B, T]`` report ids ending in EOS, padded with -100 (ignored by the T5 loss)."""
    rows = [codec.encode(t, max_tokens - 1) + [codec.eos_id] for t in texts]
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), -100, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


LABEL_WORDS = ("', ", *CHEXPERT_LABELS)  # every token a label text can contain


def train_word_vocab(texts: Sequence[str], vocab_size: int, min_count: int = 1,
                     required: Sequence[str] = ()) -> ReportTokenizer:
    """A deterministic whole-word vocabulary (R2Gen style) in a ``tokenizers`` WordLevel model.

    Words are ranked by count, then alphabetically; the BERT special tokens come first, then the
    ``required`` words (label-name words). Unknown words map to ``[UNK]``.
    """
    words = [w for w, c in ranked_words(texts) if c >= min_count]
    specials = list(BASE_ORDER)
    must = list(dict.fromkeys(w for t in required for w in bert_words(t)))
    rest = [w for w in words if w not in must]
    return ReportTokenizer(word_level(specials + must + rest[:max(0, vocab_size - len(specials) - len(must))],
                                      specials))
