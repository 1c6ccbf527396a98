"""Embedded default datasets with phantom radiographs: ``iu_xray_phantom`` and ``synthetic``."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_datasets(register):  # noqa: ANN001 - pluggy callback
    register("rrgbench_plugins.datasets.phantom.datasets:IUXrayPhantom", name="iu_xray_phantom",
             description="Real IU X-ray (Open-i) findings text with phantom radiographs rendered from each "
                         "study's MeSH tags; text from the torchxrayvision 1.5.7 wheel, prepared on first use "
                         "(CC BY-NC-ND 4.0).")
    register("rrgbench_plugins.datasets.phantom.datasets:Synthetic", name="synthetic",
             description="Licence-free phantom radiographs with reports from a small findings grammar "
                         "(seeded, fast; for tests).")
