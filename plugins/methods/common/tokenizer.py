"""A WordPiece report tokenizer (``tokenizers`` package) with BERT-style special tokens.

Faithful path: a local ``bert-base-uncased`` ``vocab.txt`` (see :func:`from_vocab_file`). Substitute: a
vocabulary built from the training reports (:func:`train_wordpiece`). Either way the special tokens
``[PAD] [UNK] [CLS] [SEP] [MASK] [DEC]`` plus any method-specific ones (``[BLA] [POS] ...``) are single ids.
Decoding joins words with single spaces and merges ``##`` pieces, which matches R2Gen-cleaned text
("the heart is normal . no effusion .").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

from rrgbench.api import RRGBenchError
from rrgbench.io import atomic_write_text

_STRAY_PIECE = re.compile(r"(^| )##")
BASE_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]")


class ReportTokenizer:
    """Thin wrapper around a ``tokenizers.Tokenizer`` exposing the ids a decoder needs."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tok = tokenizer
        missing = [t for t in BASE_SPECIAL if tokenizer.token_to_id(t) is None]
        if missing:
            raise RRGBenchError(f"tokenizer lacks special tokens {missing}")
        self.pad_id = self.token_id("[PAD]")
        self.bos_id = self.token_id("[DEC]")
        self.eos_id = self.token_id("[SEP]")
        self.unk_id = self.token_id("[UNK]")

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size(with_added_tokens=True)

    def token_id(self, token: str) -> int:
        idx = self.tok.token_to_id(token)
        if idx is None:
            raise RRGBenchError(f"token {token!r} is not in the tokenizer vocabulary")
        return idx

    def encode(self, text: str, max_tokens: int | None = None) -> list[int]:
        """Word-piece ids of ``text`` (no special tokens added), truncated to ``max_tokens``."""
        ids = self.tok.encode(text, add_special_tokens=False).ids
        return ids[:max_tokens] if max_tokens is not None else ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` with special tokens dropped."""
        text = self.tok.decode(list(ids), skip_special_tokens=True).strip()
        return _STRAY_PIECE.sub(r"\1", text)  # a continuation piece generated first has nothing to join

    def save(self, path: Path) -> None:
        atomic_write_text(Path(path), self.tok.to_str())

    @classmethod
    def load(cls, path: Path) -> ReportTokenizer:
        path = Path(path)
        if not path.is_file():
            raise RRGBenchError(f"{path}: tokenizer file not found")
        return cls(Tokenizer.from_file(str(path)))


def _configure(tok: Tokenizer) -> Tokenizer:
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    return tok


def train_wordpiece(texts: Sequence[str], vocab_size: int = 3000, min_frequency: int = 2,
                    extra_special: Sequence[str] = ()) -> ReportTokenizer:
    """A lower-cased WordPiece tokenizer whose vocabulary comes from ``texts`` (the training reports).

    Vocabulary: the special tokens, every character seen (as ``c`` and ``##c``, so nothing is ``[UNK]``),
    then the most frequent whole words (count >= ``min_frequency``, ties alphabetical) up to ``vocab_size``.
    Built deterministically: ``tokenizers``' own WordPiece trainer breaks ties by hash order, which made
    equal inputs give different vocabularies.
    """
    specials = list(dict.fromkeys([*BASE_SPECIAL, *extra_special]))
    probe = _configure(Tokenizer(models.WordPiece(vocab={"[UNK]": 0}, unk_token="[UNK]")))
    counts: Counter[str] = Counter()
    for text in texts:
        normalised = probe.normalizer.normalize_str(text)
        counts.update(w for w, _ in probe.pre_tokenizer.pre_tokenize_str(normalised))
    chars = sorted({c for w in counts for c in w})
    alphabet = [*chars, *(f"##{c}" for c in chars)]
    room = max(0, vocab_size - len(specials) - len(alphabet))
    words = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
             if n >= min_frequency and len(w) > 1][:room]
    vocab = {t: i for i, t in enumerate(dict.fromkeys([*specials, *alphabet, *words]))}
    tok = _configure(Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100)))
    tok.add_special_tokens(specials)
    return ReportTokenizer(tok)


_BERT_NORMALIZER = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
_BERT_PRE = pre_tokenizers.BertPreTokenizer()


def bert_words(text: str) -> list[str]:
    """The lower-cased, accent-stripped words of ``text`` as BERT's normalizer and pre-tokenizer split it."""
    return [w for w, _ in _BERT_PRE.pre_tokenize_str(_BERT_NORMALIZER.normalize_str(text))]


def ranked_words(texts: Sequence[str]) -> list[tuple[str, int]]:
    """``(word, count)`` over ``texts`` (:func:`bert_words`), most frequent first, ties alphabetical."""
    counts = Counter(w for t in texts for w in bert_words(t))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def word_level(tokens: Sequence[str], specials: Sequence[str], unk: str = "[UNK]") -> Tokenizer:
    """A whole-word (R2Gen style) ``tokenizers`` model: ``tokens`` get ids in order, other words map to ``unk``."""
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(tokens)}, unk_token=unk))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.add_special_tokens(list(specials))
    return tok


def from_vocab_file(vocab_file: Path, extra_special: Sequence[str] = ()) -> ReportTokenizer:
    """A tokenizer from a BERT ``vocab.txt`` (e.g. bert-base-uncased) plus ``[DEC]`` and ``extra_special``."""
    vocab_file = Path(vocab_file)
    if vocab_file.is_dir():
        vocab_file = vocab_file / "vocab.txt"
    if not vocab_file.is_file():
        raise RRGBenchError(f"{vocab_file}: vocab.txt not found")
    tok = _configure(Tokenizer(models.WordPiece.from_file(str(vocab_file), unk_token="[UNK]")))
    tok.add_special_tokens(list(dict.fromkeys([*BASE_SPECIAL, *extra_special])))
    return ReportTokenizer(tok)
