"""``chexpert_rules``: clinical efficacy (CE) with rrgbench's offline rule-based CheXpert labeler."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.chexpert_rules.metric:ChexpertRulesCE", name="chexpert_rules",
             description="CE P/R/F1/accuracy (micro, macro, weighted, example; 14/5 labels) with the offline "
                         "rule-based CheXpert labeler; presets: rrgbench ce-presets")


@hookimpl
def rrgbench_register_labelers(register):
    register("rrgbench.clinical.rules:RuleLabeler", name="chexpert_rules",
             description="rule-based CheXpert labeler: mention phrases, NegEx/ConText-style negation and "
                         "uncertainty scope, the No Finding rule (offline, no weights)")
