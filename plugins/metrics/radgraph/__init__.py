"""``radgraph``: RadGraph entity / relation F1 (simple, partial, complete) with local RadGraph weights."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.radgraph.metric:RadGraphF1", name="radgraph",
             description="RadGraph F1 at simple (RG_E), partial (RG_ER) and complete (RG_ER_bar) reward levels; "
                         "radgraph / radgraph-xl weights from a local path")
