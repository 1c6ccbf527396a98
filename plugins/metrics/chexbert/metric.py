"""CE with CheXbert labels (:mod:`rrgbench.clinical.chexbert`); see :mod:`rrgbench.clinical.ce` for the keys.

Options: ``checkpoint`` (path of chexbert.pth), ``bert_dir``, ``device``, ``batch_size``, plus the CE options
``preset`` / ``labels`` / ``uncertain`` / ``averages``. RadEval's numbers correspond to ``preset=radeval``.
"""

from __future__ import annotations

from rrgbench.clinical.ce_metric import CEMetric


class CheXbertCE(CEMetric):
    """Clinical efficacy from CheXbert labels; unavailable (never 0) without the checkpoint."""

    name = "chexbert"
    labeler_name = "chexbert"
    label_prefix = "CheXbert"
    default_suite = True
    sensitivity_keys = (("ce_f1_micro", "ce_f1"),)  # `rrgbench sensitivity`: micro F1; per report: ce_f1

    @classmethod
    def model_assets(cls) -> list:
        """The checkpoint this metric needs (``rrgbench models``)."""
        from rrgbench.clinical.chexbert import model_assets

        return model_assets()
