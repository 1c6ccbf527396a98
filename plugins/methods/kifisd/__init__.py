"""KIF-ISD (Appl. Sci. 2025): knowledge-graph fusion + information self-distillation."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register):
    register("rrgbench_plugins.methods.kifisd.method:KIFISD", name="kifisd",
             description="KIF-ISD (Appl. Sci. 2025): 27-node knowledge-graph fusion and teacher->student "
                         "self-distillation (logit KD T=4 + relational).")
