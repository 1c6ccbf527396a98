"""Clinical labelers and metrics: CheXpert-style labels, clinical efficacy (CE), UMLS concepts.

Labeler API (what method plugins call on training reports)::

    from rrgbench.clinical import label_reports
    rows = label_reports(["No pneumothorax. Mild cardiomegaly."])            # chexpert_rules, offline
    rows[0]["Cardiomegaly"], rows[0]["Pneumothorax"], rows[0]["No Finding"]  # -> 1, 0, None

``label_reports(texts, labeler="chexpert_rules", **options)`` returns one dict per text whose keys are
:data:`rrgbench.api.CHEXPERT_LABELS` (14, CheXbert order) and whose values are ``1`` positive, ``0``
negative, ``-1`` uncertain and ``None`` blank (not mentioned). "No Finding" is ``1`` or ``None``.

Labelers:

``chexpert_rules``  rrgbench's rule labeler (:mod:`.rules`): mention phrases, NegEx/ConText-style negation
                    and uncertainty scope (:mod:`.scope`), the No Finding rule. No weights; thousands of
                    reports per second (``benchmarks/bench_labeler.py``).
``chexbert``        CheXbert (Smit et al. 2020) through f1chexbert's model class, with ``chexbert.pth``
                    from a local path (:mod:`.chexbert`); raises :class:`~rrgbench.api.UnavailableError`
                    naming the missing file when absent.

Results are cached per text hash (sha1 of the exact text) in memory for the process, so the reference
labels of a dataset are computed once per process; model labelers (chexbert) also persist them under
``<cache_root>/labels/<labeler signature>.jsonl`` so they are computed once per machine. The rule labeler
is not persisted: relabelling is faster than reading a file. Returned dicts are fresh copies.

The CE metric core is :mod:`.ce` (micro / macro / weighted / example-based averaging, 14 or 5 labels,
uncertain policy, presets). The UMLS and RadGraph metric code lives in their plugin folders
(``plugins/metrics/umls``, ``plugins/metrics/radgraph``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from .cache import shared_cache

__all__ = ["DEFAULT_LABELER", "get_labeler", "label_reports"]

DEFAULT_LABELER = "chexpert_rules"  # the rule labeler (offline, no weights), registered by its CE metric plugin

_INSTANCES: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
_LOCK = threading.Lock()  # the scoring engine runs metrics in threads


def get_labeler(name: str = DEFAULT_LABELER, **options: Any) -> Any:
    """The labeler instance ``name`` (one per name and options per process), from the labelers registered with
    ``rrgbench_register_labelers``."""
    from ..api import RRGBenchError
    from ..plugins import get_host

    labelers = get_host().labelers
    name = labelers.resolve(name)
    key = (name, tuple(sorted((k, str(v)) for k, v in options.items())))
    with _LOCK:
        if key not in _INSTANCES:
            cls = labelers.get(name)
            try:
                _INSTANCES[key] = cls(**options)
            except TypeError as exc:
                raise RRGBenchError(f"labeler '{name}': bad options {sorted(options)} ({exc})") from None
        return _INSTANCES[key]


def label_reports(texts: Sequence[str], labeler: str = DEFAULT_LABELER, **options: Any
                  ) -> list[dict[str, int | None]]:
    """CheXpert labels of each text: ``{label: 1 | 0 | -1 | None}`` with the 14 CheXbert-order keys."""
    impl = get_labeler(labeler, **options)
    cache = shared_cache(impl.signature(), persist=impl.persist_cache)
    return cache.label(list(texts), impl.label)
