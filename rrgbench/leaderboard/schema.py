"""How metrics are shown: column groups, display names, which keys are headline columns.

Unknown metrics and keys still appear (group ``Other``, key as its own name); this table only makes the
known ones look right.
"""

from __future__ import annotations

import re

from ..api import CHEXPERT_LABELS

GROUP_ORDER: tuple[str, ...] = ("NLG", "CE", "RadGraph", "UMLS", "BERTScore", "Other")

# metric plugin name -> column group
METRIC_GROUPS: dict[str, str] = {
    "nlg": "NLG",
    "token": "NLG",
    "chexpert_rules": "CE",
    "chexbert": "CE",
    "radgraph": "RadGraph",
    "umls": "UMLS",
    "bertscore": "BERTScore",
}

DISPLAY: dict[str, str] = {
    "bleu_1": "BLEU-1", "bleu_2": "BLEU-2", "bleu_3": "BLEU-3", "bleu_4": "BLEU-4",
    "meteor": "METEOR", "rouge_l": "ROUGE-L", "cider": "CIDEr",
    "bertscore_f1": "BERTScore F1", "bertscore_precision": "BERTScore P", "bertscore_recall": "BERTScore R",
    "token_f1": "Token F1", "token_accuracy": "Token Acc", "token_precision": "Token P", "token_recall": "Token R",
}

# keys shown by default; the rest appear behind "show all metrics"
HEADLINE: frozenset[str] = frozenset({
    "bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider", "bertscore_f1", "token_f1",
})

def group_of(metric: str) -> str:
    return METRIC_GROUPS.get(metric, "Other")


def is_per_label(key: str) -> bool:
    """Keys such as ``f1_Cardiomegaly`` or ``pleural_effusion/f1`` belong to the per-label chart."""
    return label_of(key) is not None


def label_of(key: str) -> str | None:
    flat = re.sub(r"[^a-z]", "", key.lower())
    for lab in CHEXPERT_LABELS:
        if re.sub(r"[^a-z]", "", lab.lower()) in flat:
            return lab
    return None


_WORDS = {"f1": "F1", "precision": "P", "recall": "R", "accuracy": "Acc", "micro": "(micro)", "macro": "(macro)",
          "example": "(example)", "weighted": "(weighted)", "entity": "entity", "relation": "relation"}


def display_name(metric: str, key: str) -> str:
    if key in DISPLAY:
        return DISPLAY[key]
    words = [_WORDS.get(w.lower(), w) for w in re.split(r"[_\s]+", key) if w]
    prefix = {"chexpert_rules": "CE", "chexbert": "CheXbert", "radgraph": "RadGraph", "umls": "UMLS",
              "bertscore": "BERTScore", "token": "Token"}.get(metric)
    if prefix and words and words[0].lower() in (prefix.lower(), metric.lower(), "ce"):
        words = words[1:]
    return " ".join(([prefix] if prefix else []) + words)


def is_headline(metric: str, key: str) -> bool:
    if key in HEADLINE:
        return True
    if metric in ("nlg", "bertscore", "token"):
        return False
    low = key.lower()
    return "f1" in low and ("micro" in low or metric in ("radgraph", "umls") or "example" in low) \
        or low in ("f1", "ce_f1")
