"""CE with the ``chexpert_rules`` labeler (:mod:`rrgbench.clinical.rules`); see :mod:`rrgbench.clinical.ce`."""

from __future__ import annotations

from rrgbench.clinical.ce_metric import CEMetric


class ChexpertRulesCE(CEMetric):
    """Clinical efficacy from rule-based CheXpert labels (offline; not CheXbert — compare like with like)."""

    name = "chexpert_rules"
    labeler_name = "chexpert_rules"
    default_suite = True
    sensitivity_keys = (("ce_f1_micro", "ce_f1"),)  # `rrgbench sensitivity`: micro F1; per report: ce_f1
    primary = "ce_f1_micro"  # CE F1 (micro) of the offline labeler: the default headline that ranks a board
    rank_priority = 100
