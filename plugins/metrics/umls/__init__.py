"""``umls``: RadScribe's UMLS concept factuality (CUI-set P/R/F1/accuracy, length factor, tanh)."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.umls.metric:UMLSFactuality", name="umls",
             description="UMLS CUI-set precision/recall/F1/accuracy with RadScribe's length factor and tanh; "
                         "offline lexicon backend (spaCy, negation-aware) or scispaCy UMLS linker")
