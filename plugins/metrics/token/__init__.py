"""The ``token`` metric plugin: RadScribe's token accuracy / precision / recall / F1."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.token.metric:TokenMetric", name="token",
             description="RadScribe token accuracy / precision / recall / F1 over corpus-pooled subword "
                         "tokens (offline default: uncased WordPiece; t5-base from a local copy).")
