"""REVTAF (ICCV 2025): learnable retrieval enhancer + optimal-transport visual-text alignment and fusion."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register):
    register("rrgbench_plugins.methods.revtaf.method:REVTAF", name="revtaf",
             description="REVTAF (ICCV 2025): retrieval-enhanced visual-text alignment and fusion (Poincare "
                         "retrieval enhancer, Sinkhorn OT cross-attention, IoU consistency).")
