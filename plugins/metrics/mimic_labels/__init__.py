"""``mimic_labels``: CE against MIMIC-CXR's official reference labels (CheXpert or NegBio label CSVs)."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_metrics(register):
    register("rrgbench_plugins.metrics.mimic_labels.metric:MimicLabelsCE", name="mimic_labels",
             description="CE with MIMIC-CXR's official reference labels (mimic-cxr-2.0.0-chexpert/negbio.csv) "
                         "and an offline labeler for the generated reports")
