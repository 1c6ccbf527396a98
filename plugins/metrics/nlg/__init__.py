"""The ``nlg`` metric plugin: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D via pycocoevalcap."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.nlg.metric:NLG", name="nlg",
             description="BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (pycocoevalcap 1.2) with a named "
                         "tokenization protocol: r2gen (default), ptb, raw.")
