"""How scores are shown, read from each result's own display facts (:class:`rrgbench.api.Display`).

The host names no metric: a score file says its group, each key's direction, display name, whether it is a
headline or a per-label key (:meth:`rrgbench.rundir.ScoreFile.display_facts`). This module only orders what
the metrics declare.
"""

from __future__ import annotations

from typing import Any

# Preferred left-to-right order of column groups; groups no metric here declares are skipped, a group not
# listed follows in alphabetical order, and "Other" comes last.
GROUP_ORDER: tuple[str, ...] = ("NLG", "CE", "RadGraph", "UMLS", "BERTScore")
OTHER = "Other"

# per-label statistics, in the order a label x statistic matrix shows them
STATS: tuple[str, ...] = ("f1", "precision", "recall", "accuracy", "support")
STAT_NAMES = {"f1": "F1", "precision": "P", "recall": "R", "accuracy": "Acc", "support": "support"}


def group_name(group: Any) -> str:
    """A declared group as shown (blank or any spelling of "other" -> ``Other``)."""
    text = str(group or "").strip()
    return OTHER if not text or text.lower() == OTHER.lower() else text


def group_rank(group: str) -> tuple[int, str]:
    """Sort key of a column group."""
    group = group_name(group)
    if group in GROUP_ORDER:
        return (GROUP_ORDER.index(group), "")
    return (len(GROUP_ORDER) + (group == OTHER), group)


def stat_of(key: str, label: str) -> str:
    """The statistic of a per-label key (``ce_f1/Edema`` about ``Edema`` -> ``f1``)."""
    return next((t for t in STATS if t in key.lower()), key.replace(label, "").strip("_/ "))
