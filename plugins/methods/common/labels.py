"""Diagnosis states for training: the 14 CheXpert observations labelled from the training reports.

State ids follow the PromptMRG convention (notes §1.2): 0 = BLA (blank/not mentioned), 1 = POS, 2 = NEG,
3 = UNC. Labels come from the harness labeler, never from dataset metadata, and are used for training
only: generation uses predicted states.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rrgbench.api import CHEXPERT_LABELS

BLA, POS, NEG, UNC = 0, 1, 2, 3
STATE_TOKENS = ("[BLA]", "[POS]", "[NEG]", "[UNC]")
_FROM_LABELER = {1: POS, 0: NEG, -1: UNC, None: BLA}


def report_states(texts: Sequence[str], labeler: str = "chexpert_rules") -> np.ndarray:
    """``[N, 14]`` int64 states of each report, in :data:`rrgbench.api.CHEXPERT_LABELS` order."""
    from rrgbench.clinical import label_reports

    rows = label_reports(list(texts), labeler=labeler)
    out = np.zeros((len(rows), len(CHEXPERT_LABELS)), dtype=np.int64)
    for i, row in enumerate(rows):
        for j, name in enumerate(CHEXPERT_LABELS):
            value = row.get(name)
            out[i, j] = _FROM_LABELER[None if value is None else int(value)]
    return out


def state_priors(states: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """``[4, C]`` frequency of each state per observation (columns sum to 1), floored at ``floor``."""
    counts = np.stack([(states == s).sum(0) for s in range(4)]).astype(np.float64)
    freq = counts / max(1, states.shape[0])
    return np.maximum(freq, floor)
