"""The ``nlg`` metric: BLEU-1..4, METEOR, ROUGE-L and CIDEr-D as pycocoevalcap computes them.

Per-sample statistics (JSON-able, persisted and cached): the two token strings, BLEU's n-gram guesses,
matches and lengths, ROUGE-L, and METEOR's 23 segment statistics. The corpus numbers are computed from
them exactly as pycocoevalcap does on the same token strings (CIDEr with pycocoevalcap's own scorer;
BLEU and METEOR from summed counts in the original operation order; ROUGE-L as the mean of per-sample
F), and :meth:`NLG.batch_aggregate` re-aggregates any set of resamples at once for CIs and paired tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any

import numpy as np

from rrgbench import __version__
from rrgbench.api import Metric, RRGBenchError
from rrgbench.scoring import columns
from rrgbench.scoring.engine import SampleError

from . import meteor as meteor_mod
from . import ngram
from .java import JAVA_HINT, java_executable, meteor_jar, missing
from .tokenize import PROTOCOLS, tokenize

# METEOR's aligner needs ~25 s for a 10,000-word report and runs out of its 2 GB heap near 100,000:
# longer reports are refused with the sample named instead of killing the JVM.
METEOR_MAX_TOKENS = 2000
KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")


class NLG(Metric):
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (pycocoevalcap 1.2) under a named tokenisation protocol.

    Options: ``protocol`` (``r2gen`` default, ``ptb``, ``raw``), ``cleaning`` (the R2Gen cleaning used by
    ``r2gen``; the engine passes the dataset's), ``meteor`` (``True``; ``False`` skips METEOR and Java).
    """

    name = "nlg"
    version = "1.0"
    group = "NLG"
    sensitivity_keys = (("bleu_4", "bleu_4"), ("meteor", "meteor"), ("rouge_l", "rouge_l"), ("cider", "cider"))  # what `rrgbench sensitivity` reports (corpus key, per-sample key)
    labels = {"bleu_1": "BLEU-1", "bleu_2": "BLEU-2", "bleu_3": "BLEU-3", "bleu_4": "BLEU-4", "meteor": "METEOR",
              "rouge_l": "ROUGE-L", "cider": "CIDEr"}
    primary = "bleu_4"  # what R2Gen-style tables lead with
    headline = ("bleu_4", "meteor", "rouge_l", "cider")  # BLEU-1..3 behind "all keys" on boards and tables
    default_suite = True
    pairwise = True  # statistics of a pair depend on that pair only: cached pairs are reused

    def __init__(self, protocol: str = "r2gen", cleaning: str = "r2gen_iu", meteor: bool = True,
                 meteor_max_tokens: int = METEOR_MAX_TOKENS, **options: Any) -> None:
        super().__init__(protocol=protocol, cleaning=cleaning, meteor=meteor, **options)
        self.meteor_max_tokens = int(meteor_max_tokens)
        if protocol not in PROTOCOLS:
            raise RRGBenchError(f"nlg: unknown protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.cleaning = cleaning
        self.use_meteor = bool(meteor)

    # -- identity ---------------------------------------------------------------------------------
    def keys(self) -> tuple[str, ...]:
        return KEYS if self.use_meteor else tuple(k for k in KEYS if k != "meteor")

    def availability(self) -> str | None:
        needs_java = self.use_meteor or self.protocol == "ptb"
        if needs_java and java_executable() is None:
            what = "METEOR" if self.use_meteor else "the 'ptb' protocol"
            return f"{what} needs Java, and no 'java' was found: {JAVA_HINT} (or score with meteor=false)"
        if self.use_meteor:
            return missing([meteor_jar()])
        return None

    def signature(self) -> str:
        tok = {"r2gen": f"r2gen-clean:{self.cleaning}+split", "ptb": "ptb-corenlp-3.4.1-lc-nopunct",
               "raw": "split"}[self.protocol]
        parts = [f"metric:{self.name}", f"rrgbench:{__version__}", f"pycocoevalcap:{version('pycocoevalcap')}",
                 f"protocol:{self.protocol}", f"tok:{tok}", "nrefs:1", "bleu:closest",
                 "rouge:lcs-beta1.2", "cider:D-sigma6-df:refs"]
        if self.use_meteor:
            parts.append("meteor:1.5-en-norm-0.85_0.2_0.6_0.75")
        return "|".join(parts)

    def load(self) -> None:
        """Start METEOR's JVM in the background, so that it loads while other metrics load or run."""
        if self.use_meteor:
            meteor_mod.prewarm()

    # -- per-sample statistics --------------------------------------------------------------------
    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        both = tokenize(list(hyps) + list(refs), self.protocol, self.cleaning)
        htok, rtok = both[:len(hyps)], both[len(hyps):]
        met: dict[str, Any] = {}

        def run_meteor() -> None:
            try:
                met["stats"] = meteor_mod.segment_stats(htok, rtok)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                met["error"] = exc

        thread = None
        if self.use_meteor:
            for i, (h, r) in enumerate(zip(htok, rtok)):
                for kind, text in (("hypothesis", h), ("reference", r)):
                    if text.count(" ") + 1 > self.meteor_max_tokens:
                        raise SampleError(i, f"the {kind} has {text.count(' ') + 1:,} tokens; METEOR refuses "
                                             f"reports over {self.meteor_max_tokens:,} tokens (its aligner "
                                             "would take minutes or exhaust its heap). Shorten the report, or "
                                             "score with the nlg option meteor_max_tokens / meteor=false")
        if self.use_meteor and htok:
            thread = threading.Thread(target=run_meteor, name="rrgbench-meteor", daemon=True)
            thread.start()
        rows = []
        for h, r in zip(htok, rtok):
            hc, rc = ngram.precook(h), ngram.precook(r)
            rows.append({"hyp": h, "ref": r, "bleu": ngram.bleu_counts(hc, h, rc, r), "rouge_l": ngram.rouge_l(h, r)})
        if thread is not None:
            thread.join()
            if "error" in met:
                raise met["error"]
            for row, s in zip(rows, met["stats"].tolist()):
                row["meteor"] = s
        return rows

    # -- aggregation ------------------------------------------------------------------------------
    # ``stats`` is a list of the dicts above or the engine's columnar StatsTable of them (same values).
    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        if not stats:
            raise RRGBenchError("nlg: nothing to score")
        bleu = columns.array(stats, "bleu", np.int64)
        totals = [sum(row[j] for row in bleu.tolist()) for j in range(len(ngram.BLEU_FIELDS))]
        out = dict(zip(KEYS[:4], ngram.bleu_from_totals(totals)))
        if self.use_meteor:
            out["meteor"] = meteor_mod.corpus_score(columns.array(stats, "meteor"))
        out["rouge_l"] = float(np.mean(columns.array(stats, "rouge_l")))
        out["cider"] = float(self._cider(stats)[0])
        return {k: float(v) for k, v in out.items()}

    def _cider(self, stats: Sequence[dict[str, Any]]) -> tuple[float, np.ndarray]:
        """pycocoevalcap's CIDEr-D (corpus, per-sample) on the token strings; remembered for the last corpus."""
        htok, rtok = columns.strings(stats, "hyp"), columns.strings(stats, "ref")
        key = (tuple(htok), tuple(rtok))
        memo = getattr(self, "_cider_memo", None)
        if memo is not None and memo[0] == key:
            return memo[1]
        result = ngram.cider_d(htok, rtok)
        self._cider_memo = (key, result)
        return result

    def sample_scores(self, stats: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
        """pycocoevalcap's per-sample values (CIDEr-D per sample uses the whole set's document frequencies)."""
        cider = self._cider(stats)[1] if len(stats) else []
        bleu = columns.array(stats, "bleu", np.int64).tolist()
        meteor = columns.array(stats, "meteor").tolist() if self.use_meteor else None
        rouge = columns.array(stats, "rouge_l").tolist()
        out = []
        for i, c in enumerate(cider):
            row = dict(zip(KEYS[:4], ngram.bleu_from_totals(bleu[i])))
            if meteor is not None:
                row["meteor"] = meteor_mod.score_from_stats(meteor[i])
            row["rouge_l"] = rouge[i]
            row["cider"] = float(c)
            out.append(row)
        return out

    def batch_aggregate(self, stats: Sequence[dict[str, Any]], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Corpus scores for every row of ``weights`` ``[B, n]`` (resample counts or 0/1 masks)."""
        return self.batch_aggregator(stats)(weights)

    def batch_aggregator(self, stats: Sequence[dict[str, Any]]) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        """:meth:`batch_aggregate` with the count arrays and CIDEr's n-gram matrices built once."""
        bleu_counts = columns.array(stats, "bleu")
        meteor_rows = meteor_mod.effective_rows(columns.array(stats, "meteor")) if self.use_meteor else None
        rouge = columns.array(stats, "rouge_l")
        cider = ngram.CiderBatch(columns.strings(stats, "hyp"), columns.strings(stats, "ref"))

        def scores(weights: np.ndarray) -> dict[str, np.ndarray]:
            weights = np.asarray(weights, float)
            bleu = ngram.bleu_batch(bleu_counts, weights)
            out = {f"bleu_{k + 1}": bleu[:, k] for k in range(4)}
            if meteor_rows is not None:
                out["meteor"] = meteor_mod.batch_corpus_scores(meteor_rows, weights, effective=True)
            out["rouge_l"] = (weights @ rouge) / weights.sum(axis=1)
            out["cider"] = cider.corpus(weights)
            return out

        return scores
