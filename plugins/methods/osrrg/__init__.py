"""OS-RRG (IEEE TNNLS 2025): state-aware balancing diagnosis + state-guided attention intervention."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register):
    register("rrgbench_plugins.methods.osrrg.method:OSRRG", name="osrrg",
             description="OS-RRG (TNNLS 2025): PromptMRG-style decoder with SBD experts and SAI attention "
                         "intervention at generation.")
