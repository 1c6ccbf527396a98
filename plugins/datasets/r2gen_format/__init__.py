"""Datasets in the R2Gen layout: ``iu_xray`` and ``mimic_cxr``."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_datasets(register):  # noqa: ANN001 - pluggy callback
    register("rrgbench_plugins.datasets.r2gen_format.datasets:IUXray", name="iu_xray",
             description="IU X-ray in the R2Gen layout (annotation.json + images/); "
                         "`rrgbench data prepare iu_xray` builds it from Open-i (CC BY-NC-ND 4.0).")
    register("rrgbench_plugins.datasets.r2gen_format.datasets:MimicCXR", name="mimic_cxr",
             description="MIMIC-CXR in the R2Gen layout; `rrgbench data prepare mimic_cxr --from DIR` "
                         "(credentialed: text and images are never published).")
