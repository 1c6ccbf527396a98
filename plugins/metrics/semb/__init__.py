"""The ``semb`` metric plugin: SembScore, the cosine of CheXbert report embeddings (ReXrank)."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.semb.metric:SembScore", name="semb",
             description="SembScore (ReXrank / CXR-Report-Metric): cosine of the CheXbert [CLS] embeddings of "
                         "hypothesis and reference; needs a local chexbert.pth")
