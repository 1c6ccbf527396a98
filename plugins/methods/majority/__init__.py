"""The ``majority`` baseline: every study gets the most frequent training report."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register):
    register("rrgbench_plugins.methods.majority.method:Majority", name="majority",
             description="Baseline: the most frequent training report, for every study.")
