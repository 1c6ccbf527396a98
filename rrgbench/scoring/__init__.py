"""The scoring engine: per-sample sufficient statistics → corpus scores, CIs, paired tests, cache."""

from .engine import MetricResult, check_inputs, make_metric, sample_stats, score

__all__ = ["MetricResult", "check_inputs", "make_metric", "sample_stats", "score"]
