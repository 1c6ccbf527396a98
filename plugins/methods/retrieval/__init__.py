"""Retrieval baseline: nearest training report by image embedding. See README.md."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register) -> None:  # noqa: ANN001 - pluggy callback
    register("rrgbench_plugins.methods.retrieval.method:Retrieval", name="retrieval",
             description="Baseline: nearest training report by image embedding (encoder trained on the train split)")
