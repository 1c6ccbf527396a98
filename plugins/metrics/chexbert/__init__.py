"""``chexbert``: clinical efficacy (CE) with CheXbert labels (needs a local chexbert.pth)."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.chexbert.metric:CheXbertCE", name="chexbert",
             description="CE P/R/F1/accuracy (micro, macro, weighted, example; 14/5 labels) with CheXbert "
                         "(f1chexbert model, strict load of a local chexbert.pth); presets: rrgbench ce-presets")


@hookimpl
def rrgbench_register_labelers(register):
    register("rrgbench.clinical.chexbert:CheXbertLabeler", name="chexbert",
             description="CheXbert (Smit et al. 2020) through f1chexbert's model class, with a local chexbert.pth")
