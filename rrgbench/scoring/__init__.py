"""The scoring engine: per-sample sufficient statistics → corpus scores, CIs, paired tests, cache."""

from .engine import MetricResult, score, write_results

__all__ = ["MetricResult", "score", "write_results"]
