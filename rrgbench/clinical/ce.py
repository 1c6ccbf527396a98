"""Clinical efficacy (CE): precision / recall / F1 / accuracy of CheXpert labels, hypothesis vs reference.

A report's labels (``{observation: 1 | 0 | -1 | None}``) become a *positive set*: state 1 always counts,
state -1 (uncertain) counts only with ``uncertain="positive"``, 0 and blank never. Over the observations
of a label set (``14`` = :data:`~rrgbench.api.CHEXPERT_LABELS` including No Finding; ``5`` =
:data:`~rrgbench.api.CHEXPERT_5`) the positive sets of n reports form two binary n x L matrices H
(hypotheses) and R (references); TP = H & R, FP = H & ~R, FN = ~H & R. Every division by zero gives 0.

Averaging modes (score keys, prefix ``ce_`` for 14 labels and ``ce5_`` for 5):

``micro``     sum TP / FP / FN over reports and labels, then P, R, F1          ``ce_f1_micro`` ...
``macro``     P, R, F1 per label, unweighted mean over the L labels            ``ce_f1_macro`` ...
``weighted``  per-label values averaged with weights = reference support      ``ce_f1_weighted`` ...
``example``   P, R, F1 per report (0 when undefined), mean over reports        ``ce_f1_example`` ...
              (PromptMRG's ``ce_precision/recall/f1``)
accuracy      ``ce_accuracy`` = share of the n x L decisions that agree;
              ``ce_accuracy_exact`` = share of reports whose L decisions all agree (f1chexbert's accuracy)
per label     ``ce_precision/<Label>``, ``ce_recall/<Label>``, ``ce_f1/<Label>`` (the per-label table;
              keys with a ``/`` are the table rows), for the largest label set computed.

F1 is ``2 TP / (2 TP + FP + FN)``, which equals the harmonic mean of P and R wherever both are defined.

Presets (a preset sets ``labels``, ``uncertain`` and ``averages``; explicit options override it; the
full definitions, with the labeler each protocol used and its source, are :data:`PRESET_INFO`, printed by
``rrgbench ce-presets``):

``default``     labels 14 and 5, uncertain as negative, micro + macro + weighted + example
``r2gen``       14 labels, uncertain (and blank) as negative, micro + macro — R2Gen-family ``compute_ce.py``
``ifcc``        5 labels, uncertain as positive, micro + per class — Miura et al. (IFCC)
``wcl``         14 labels, uncertain as positive, macro (per-label binary F1 averaged) — WCL / ORGan
``cvt``         14 labels, only state 1 positive, macro + micro + example — CvT2DistilGPT2
``promptmrg``   14 labels, only state 1 positive, example-based — PromptMRG / KIF-ISD / OS-RRG
``radeval``     14 and 5 labels, uncertain as positive (f1chexbert "rrg" mode), micro + macro + weighted;
                per sample: label accuracy
``weighted14``  14 labels, uncertain as positive, support-weighted — BioViL-T / RECAP / CCD
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import CHEXPERT_5, CHEXPERT_LABELS, RRGBenchError

AVERAGES = ("micro", "macro", "weighted", "example")
LABEL_SETS: dict[str, tuple[str, ...]] = {"14": CHEXPERT_LABELS, "5": CHEXPERT_5}
_PREFIX = {"14": "ce", "5": "ce5"}
_BIT = {name: i for i, name in enumerate(CHEXPERT_LABELS)}

PRESETS: dict[str, dict[str, Any]] = {
    "default": {"labels": ("14", "5"), "uncertain": "negative", "averages": AVERAGES},
    "r2gen": {"labels": ("14",), "uncertain": "negative", "averages": ("micro", "macro")},
    "ifcc": {"labels": ("5",), "uncertain": "positive", "averages": ("micro",)},
    "wcl": {"labels": ("14",), "uncertain": "positive", "averages": ("macro",)},
    "cvt": {"labels": ("14",), "uncertain": "negative", "averages": ("macro", "micro", "example")},
    "promptmrg": {"labels": ("14",), "uncertain": "negative", "averages": ("example",)},
    "radeval": {"labels": ("14", "5"), "uncertain": "positive", "averages": ("micro", "macro", "weighted")},
    "weighted14": {"labels": ("14",), "uncertain": "positive", "averages": ("weighted",)},
}

# What each preset reproduces: the labeler the original protocol ran, the headline keys, the source.
PRESET_INFO: dict[str, dict[str, str]] = {
    "default": {"protocol": "rrgbench's full table (every averaging mode, 14 and 5 labels)",
                "labeler": "any", "headline": "ce_f1_micro, ce_f1_macro, ce_f1_example",
                "per_sample": "example P/R/F1 and label accuracy", "source": "rrgbench"},
    "r2gen": {"protocol": "labeler CSV states, NaN (blank) -> 0, uncertain -1 -> 0, 14 labels, micro and macro",
              "labeler": "CheXpert labeler (rule-based)", "headline": "ce_f1_micro, ce_f1_macro",
              "per_sample": "example P/R/F1", "source": "cuhksz-nlp/R2Gen family compute_ce.py (R2Gen#8)"},
    "ifcc": {"protocol": "CheXbert, uncertain -> positive, 5 labels (Atelectasis, Cardiomegaly, Consolidation, "
                         "Edema, Pleural Effusion), micro P/R/F1 plus per-class table",
             "labeler": "CheXbert", "headline": "ce5_f1_micro, ce_f1/<Label>",
             "per_sample": "example P/R/F1 over the 5 labels", "source": "ysmiura/ifcc (Miura et al. 2021; ifcc#9)"},
    "wcl": {"protocol": "rule labeler, states 1 and -1 positive, per-label binary P/R/F1 macro-averaged over 14",
            "labeler": "CheXpert labeler (rule-based)", "headline": "ce_f1_macro",
            "per_sample": "example P/R/F1", "source": "zzxslp/WCL, wjhou/ORGan (ORGan#4)"},
    "cvt": {"protocol": "CheXbert, only state 1 positive (uncertain, negative, blank -> 0), 14 labels, "
                        "macro, micro and example-based", "labeler": "CheXbert",
            "headline": "ce_f1_macro, ce_f1_micro, ce_f1_example", "per_sample": "example P/R/F1",
            "source": "aehrc/cvt2distilgpt2 (Nicolson et al. 2023)"},
    "promptmrg": {"protocol": "CheXbert, only state 1 positive, 14 labels, example-based P/R/F1",
                  "labeler": "CheXbert", "headline": "ce_f1_example", "per_sample": "example P/R/F1",
                  "source": "jhb86253817/PromptMRG (also KIF-ISD, OS-RRG)"},
    "radeval": {"protocol": "CheXbert 'rrg' mode ({1, -1} -> 1), 14 labels and top 5, micro, macro and weighted",
                "labeler": "CheXbert", "headline": "ce_f1_micro, ce5_f1_micro, ce_f1_weighted",
                "per_sample": "label accuracy over the 14 labels (ce_accuracy)",
                "source": "jbdel/RadEval f1chexbert (same as ViLMedic chexbert)"},
    "weighted14": {"protocol": "CheXbert, uncertain -> positive, 14 labels, P/R/F1 weighted by reference support",
                   "labeler": "CheXbert", "headline": "ce_f1_weighted",
                   "per_sample": "example P/R/F1",
                   "source": "BioViL-T / RECAP, X-iZhang/CCD (CCD#3: f1chexbert weighted avg)"},
}

def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.replace("+", ",").split(",") if v.strip())
    if isinstance(value, int):
        return (str(value),)
    return tuple(str(v) for v in value)


@dataclass(frozen=True)
class CEConfig:
    """What determines CE numbers (apart from the labeler)."""

    preset: str = "default"
    labels: tuple[str, ...] = ("14", "5")
    uncertain: str = "negative"
    averages: tuple[str, ...] = AVERAGES

    @classmethod
    def from_options(cls, preset: str | None = None, labels: Any = None, uncertain: str | None = None,
                     averages: Any = None) -> CEConfig:
        """A config from a preset name plus explicit overrides; bad values raise one clear error."""
        name = preset or "default"
        if name not in PRESETS:
            raise RRGBenchError(f"unknown CE preset '{name}'; choose one of: {', '.join(PRESETS)}")
        base = PRESETS[name]
        cfg = cls(preset=name,
                  labels=_as_tuple(labels) if labels is not None else base["labels"],
                  uncertain=uncertain or base["uncertain"],
                  averages=_as_tuple(averages) if averages is not None else base["averages"])
        if not cfg.labels or any(x not in LABEL_SETS for x in cfg.labels):
            raise RRGBenchError(f"CE labels must be 14 and/or 5, got {cfg.labels}")
        if cfg.uncertain not in ("negative", "positive"):
            raise RRGBenchError(f"CE uncertain must be 'negative' or 'positive', got '{cfg.uncertain}'")
        if not cfg.averages or any(a not in AVERAGES for a in cfg.averages):
            raise RRGBenchError(f"CE averages must be among {', '.join(AVERAGES)}, got {cfg.averages}")
        return cfg

    def definition(self) -> dict[str, Any]:
        """This config as plain data plus, for a preset, what it reproduces (``rrgbench ce-presets``)."""
        return {"preset": self.preset, "labels": list(self.labels), "uncertain": self.uncertain,
                "blank": "negative", "averages": list(self.averages), "zero_division": 0,
                **PRESET_INFO.get(self.preset, {})}

    def signature(self) -> str:
        return (f"labels:{'+'.join(self.labels)}|uncertain:{self.uncertain}|blank:negative|"
                f"avg:{'+'.join(self.averages)}|zero_division:0|preset:{self.preset}")


def positive_mask(labels: Mapping[str, int | None], uncertain: str = "negative") -> int:
    """Bit i set when observation ``CHEXPERT_LABELS[i]`` counts as positive under the uncertain policy."""
    mask = 0
    for name, value in labels.items():
        if value == 1 or (value == -1 and uncertain == "positive"):
            mask |= 1 << _BIT[name]
    return mask


def _div(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def ce_scores(hyp_masks: Sequence[int] | np.ndarray, ref_masks: Sequence[int] | np.ndarray,
              config: CEConfig, per_label: bool = True) -> dict[str, float]:
    """CE scores of paired positive masks (see the module docstring for the keys)."""
    n = len(hyp_masks)
    batch = ce_scores_weighted(hyp_masks, ref_masks, config, np.ones((1, n)), per_label)
    return {k: float(v[0]) for k, v in batch.items()}


def ce_scores_weighted(hyp_masks: Sequence[int] | np.ndarray, ref_masks: Sequence[int] | np.ndarray,
                       config: CEConfig, weights: np.ndarray, per_label: bool = True) -> dict[str, np.ndarray]:
    """CE scores for each row of ``weights`` ``[B, n]`` (how often each pair counts: bootstrap resamples,
    permutations); every key maps to a ``[B]`` array. All-ones weights give :func:`ce_scores`."""
    h_all = np.asarray(hyp_masks, dtype=np.int64).reshape(-1)
    r_all = np.asarray(ref_masks, dtype=np.int64).reshape(-1)
    W = np.asarray(weights, dtype=float)
    total_w = W.sum(1)
    out: dict[str, np.ndarray] = {}
    table_set = max(config.labels, key=lambda s: len(LABEL_SETS[s]))
    for set_name in config.labels:
        names = LABEL_SETS[set_name]
        bits = np.array([_BIT[n] for n in names], dtype=np.int64)
        H = ((h_all[:, None] >> bits) & 1).astype(bool)
        R = ((r_all[:, None] >> bits) & 1).astype(bool)
        tp, fp, fn = (H & R).astype(float), (H & ~R).astype(float), (~H & R).astype(float)
        p = _PREFIX[set_name]
        tp_l, fp_l, fn_l = W @ tp, W @ fp, W @ fn  # [B, L]
        prec_l, rec_l, f1_l = _div(tp_l, tp_l + fp_l), _div(tp_l, tp_l + fn_l), _div(2 * tp_l, 2 * tp_l + fp_l + fn_l)
        for avg in config.averages:
            if avg == "micro":
                t, f_p, f_n = tp_l.sum(1), fp_l.sum(1), fn_l.sum(1)
                vals = (_div(t, t + f_p), _div(t, t + f_n), _div(2 * t, 2 * t + f_p + f_n))
            elif avg == "macro":
                vals = (prec_l.mean(1), rec_l.mean(1), f1_l.mean(1))
            elif avg == "weighted":
                support = tp_l + fn_l
                vals = tuple(_div((x * support).sum(1), support.sum(1)) for x in (prec_l, rec_l, f1_l))
            else:  # example: per-report values, weighted mean over reports
                t, f_p, f_n = tp.sum(1), fp.sum(1), fn.sum(1)
                per = (_div(t, t + f_p), _div(t, t + f_n), _div(2 * t, 2 * t + f_p + f_n))
                vals = tuple(_div(W @ x, total_w) for x in per)
            for stat, v in zip(("precision", "recall", "f1"), vals):
                out[f"{p}_{stat}_{avg}"] = np.asarray(v, dtype=float)
        agree = (H == R).astype(float)
        out[f"{p}_accuracy"] = _div(W @ agree.sum(1), total_w * len(names))
        out[f"{p}_accuracy_exact"] = _div(W @ agree.all(1).astype(float), total_w)
        if per_label and set_name == table_set:
            for i, name in enumerate(names):
                out[f"ce_precision/{name}"] = prec_l[:, i]
                out[f"ce_recall/{name}"] = rec_l[:, i]
                out[f"ce_f1/{name}"] = f1_l[:, i]
    return out


def example_scores(hyp_mask: int, ref_mask: int, config: CEConfig) -> dict[str, float]:
    """Per-report P / R / F1 / accuracy on the first label set (the per-sample display row)."""
    names = LABEL_SETS[config.labels[0]]
    bits = [_BIT[n] for n in names]
    h = [(hyp_mask >> b) & 1 for b in bits]
    r = [(ref_mask >> b) & 1 for b in bits]
    tp = sum(a & b for a, b in zip(h, r))
    fp = sum(a & (1 - b) for a, b in zip(h, r))
    fn = sum((1 - a) & b for a, b in zip(h, r))
    p = _PREFIX[config.labels[0]]
    return {f"{p}_precision": tp / (tp + fp) if tp + fp else 0.0,
            f"{p}_recall": tp / (tp + fn) if tp + fn else 0.0,
            f"{p}_f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
            f"{p}_accuracy": sum(a == b for a, b in zip(h, r)) / len(names)}
