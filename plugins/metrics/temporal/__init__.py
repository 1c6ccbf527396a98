"""The ``temporal`` metric plugin: F1 over change / comparison words (offline, lexicon-only)."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.temporal.metric:TemporalMetric", name="temporal",
             description="Temporal F1: set F1 of change and comparison terms (new, stable, increased, "
                         "resolved, interval, prior, ...) from rrgbench's own versioned lexicon; offline")
