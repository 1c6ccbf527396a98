"""R2Gen baseline (relational memory + memory-driven conditional layer norm). See README.md."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register) -> None:  # noqa: ANN001 - pluggy callback
    register("rrgbench_plugins.methods.r2gen.method:R2Gen", name="r2gen",
             description="R2Gen (EMNLP 2020): relational memory + MCLN transformer on ResNet patches; beam 3")
