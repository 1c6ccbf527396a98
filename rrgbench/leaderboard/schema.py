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
          "example": "(example)", "weighted": "(weighted)", "exact": "exact"}
_PREFIXES = {"chexpert_rules": "CE", "chexbert": "CheXbert", "radgraph": "RadGraph", "umls": "UMLS",
             "bertscore": "BERTScore", "token": "Token"}
_ORDER = {"ce": 0, "ce5": 1, "f1": 0, "precision": 1, "recall": 2, "accuracy": 3, "micro": 0, "macro": 1,
          "weighted": 2, "example": 3, "exact": 4}


def display_name(metric: str, key: str) -> str:
    if key in DISPLAY:
        return DISPLAY[key]
    label = label_of(key)
    rest = key.replace(label, " ") if label and label in key else key
    words = [w for w in re.split(r"[_/\s]+", rest) if w]
    prefix = _PREFIXES.get(metric, "")
    if words and words[0].lower() in ("ce", "ce5", metric.lower(), prefix.lower()):
        first = words.pop(0).lower()
        if first == "ce5":
            prefix = f"{prefix}-5" if prefix else "5-label"
    out = " ".join(([prefix] if prefix else []) + [_WORDS.get(w.lower(), w) for w in words])
    return f"{out} · {label}" if label else out


def key_order(key: str) -> tuple:
    """Sort key for score names: known NLG keys in display order, then CE-style keys by token rank."""
    known = list(DISPLAY)
    if key in known:
        return (0, known.index(key), ())
    label = label_of(key)
    tokens = re.split(r"[_/\s]+", key.replace(label, "") if label else key.lower())
    return (1 + bool(label), 0, tuple((_ORDER.get(t.lower(), 9), t) for t in tokens if t), label or "")


def is_headline(metric: str, key: str) -> bool:
    if key in HEADLINE:
        return True
    if metric in ("nlg", "bertscore", "token") or is_per_label(key):
        return False
    low = key.lower()
    if low.startswith("ce5_"):
        return low == "ce5_f1_micro"
    if low.startswith("ce_"):
        return low in ("ce_f1_micro", "ce_f1_macro", "ce_f1_example")
    return "f1" in low
