"""RadCliQ v0 and v1 (Yu et al. 2023) from their four components, as CXR-Report-Metric computes them.

Source of every figure: rajpurkarlab/CXR-Report-Metric @ 9c9ecad (2023-05-14), ``CXRMetric/run_eval.py``
and its stored models, read with ``pickletools`` (no unpickling):

* v0 = ``composite_metric_model.pkl`` (sklearn ``LinearRegression``) applied to the features standardised
  by ``normalizer.pkl`` (``StandardScaler``, fitted on 200 rows);
* v1 = ``radcliq-v1.pkl`` (``CompositeMetric``: its own ``StandardScaler``, fitted on 160 rows, then
  ``[z, 1] @ coefs`` with 5 coefficients, the last the intercept).

Feature order (``COLS``): ``radgraph_combined, bertscore, semb_score, bleu_score``. Lower RadCliQ = better;
a perfect report scores about -1.44 on v1 (see :data:`PERFECT_V1`), so RadCliQ is not a positive quantity
and ``1 / mean`` is only a display transform that flips order once the mean crosses 0.

Components, per report pair (hypothesis, reference):

* ``radgraph_combined`` = (entity F1 + relation F1) / 2 on RadGraph annotations (:func:`radgraph_combined`),
  entities = set of (tokens, label), relations = set of ((tokens, label), (tokens, label), relation type),
  case as annotated; F1 = 0 when precision + recall = 0 (so two reports without any relation score 0 there);
* ``bertscore`` = BERTScore F1, distilroberta-base layer 5, rescaled with bert-score's baseline;
* ``semb_score`` = cosine of the CheXbert [CLS] embeddings;
* ``bleu_score`` = per-pair BLEU-2 as ``fast_bleu.BLEU([ref], {"bigram": (1/2, 1/2)})`` with its default
  smoothing 1 (:func:`bleu2`), on lower-cased text with "." split off (:func:`prep_tokens`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

COLS = ("radgraph_combined", "bertscore", "semb_score", "bleu_score")

# normalizer.pkl (StandardScaler: mean_, scale_) and composite_metric_model.pkl (coef_, intercept_)
V0_MEAN = np.array([0.5398376019082272, 0.6312549595000001, 0.7716797866672277, 0.4607372064809605])
V0_SCALE = np.array([0.3018344440559102, 0.22466950746141123, 0.24750333805236252, 0.30336670936092264])
V0_COEF = np.array([-0.4796252644863446, -0.6762170542369337, -0.46366575161751994, 0.2165861905287535])
V0_INTERCEPT = 1.641666666666666
# radcliq-v1.pkl (CompositeMetric.scaler: mean_, scale_; CompositeMetric.coefs, last = intercept)
V1_MEAN = np.array([0.5379231241355762, 0.6175725628125001, 0.7647942121140658, 0.44738335396242174])
V1_SCALE = np.array([0.3028258411486429, 0.22430938459304575, 0.2539439110169773, 0.2989271671041838])
V1_COEF = np.array([-0.37708368261038905, -0.37030009974480316, -0.25261621789593225, 4.315048405024756e-12])
V1_INTERCEPT = 2.466552561323256e-10


def radcliq_v0(features: np.ndarray) -> np.ndarray:
    """RadCliQ-v0 of rows ``[radgraph_combined, bertscore, semb_score, bleu_score]``."""
    z = (np.asarray(features, dtype=float) - V0_MEAN) / V0_SCALE
    return z @ V0_COEF + V0_INTERCEPT


def radcliq_v1(features: np.ndarray) -> np.ndarray:
    """RadCliQ-v1 of rows ``[radgraph_combined, bertscore, semb_score, bleu_score]``."""
    z = (np.asarray(features, dtype=float) - V1_MEAN) / V1_SCALE
    return z @ V1_COEF + V1_INTERCEPT


PERFECT_V1 = float(radcliq_v1(np.ones((1, 4)))[0])  # all four components at 1: about -1.4407


def prep_tokens(text: str) -> list[str]:
    """CXR-Report-Metric's ``prep_reports``: lower-case, " ." for ".", split on single spaces, drop empties."""
    return [t for t in str(text).lower().replace(".", " .").split(" ") if t != ""]


def bleu2(hyp: Sequence[str], ref: Sequence[str]) -> float:
    """fast_bleu 0.0.90 BLEU-2 of one hypothesis against one reference (its ``corpus_bleu`` on one pair):
    clipped n-gram precisions over max(1, count); 0 when no unigram matches; a zero bigram precision
    becomes 0.1 / count (smoothing 1, as NLTK method1); brevity penalty 1 when the hypothesis is longer,
    0 when it is empty, else exp(1 - r / c)."""
    ref_counts = [Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1)) for n in (1, 2)]
    precisions = []
    for n, rc in zip((1, 2), ref_counts):
        hc = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
        precisions.append((sum(min(c, rc[g]) for g, c in hc.items()), max(1, sum(hc.values()))))
    if precisions[0][0] == 0:
        return 0.0
    c, r = len(hyp), len(ref)
    bp = 1.0 if c > r else (0.0 if c == 0 else math.exp(1 - r / c))
    s = sum(0.5 * math.log((num if num else 0.1) / den) for num, den in precisions)
    return bp * math.exp(s)


def _f1(test: set[Any], retrieved: set[Any]) -> float:
    tp = len(test & retrieved)
    p = tp / len(retrieved) if retrieved else 0.0
    r = tp / len(test) if test else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def _entities_relations(ann: dict[str, Any] | None) -> tuple[set[Any], set[Any]]:
    if not ann:
        return set(), set()
    ents = ann.get("entities") or {}
    entities = {(e["tokens"], e["label"]) for e in ents.values()}
    relations = {((e["tokens"], e["label"]), (ents[t]["tokens"], ents[t]["label"]), rel)
                 for e in ents.values() for rel, t in e["relations"]}
    return entities, relations


def radgraph_combined(hyp_ann: dict[str, Any] | None, ref_ann: dict[str, Any] | None) -> float:
    """(entity F1 + relation F1) / 2 of one pair, as ``radgraph_evaluate_model.py`` (reference = test set)."""
    he, hr = _entities_relations(hyp_ann)
    re_, rr = _entities_relations(ref_ann)
    return (_f1(re_, he) + _f1(rr, hr)) / 2
