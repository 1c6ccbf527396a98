"""The ``radcliq`` metric plugin: RadCliQ v0 and v1 from RadGraph, BERTScore, SembScore and BLEU-2."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.radcliq.metric:RadCliQ", name="radcliq",
             description="RadCliQ v0 / v1 (CXR-Report-Metric coefficients), raw per sample, LOWER is better; "
                         "needs the original radgraph model, distilroberta-base and chexbert.pth locally")
