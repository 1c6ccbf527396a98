"""``openi_hf``: a local copy of the Hugging Face ``ykumards/open-i`` parquet (RadVision-7B's source)."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_datasets(register):  # noqa: ANN001 - pluggy callback
    register("rrgbench_plugins.datasets.openi_hf.dataset:OpenIHF", name="openi_hf",
             description="Open-i from a local copy of the HF ykumards/open-i parquet (findings + impression); "
                         "`rrgbench data prepare openi_hf --parquet PATH`.")
