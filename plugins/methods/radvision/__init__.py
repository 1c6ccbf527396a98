"""RadVision-7B (Lingshu7B_Finetuning notebook): Qwen2.5-VL + QLoRA in three stages."""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_methods(register):
    register("rrgbench_plugins.methods.radvision.method:RadVision", name="radvision",
             description="RadVision-7B: Lingshu-7B (Qwen2.5-VL) + NF4 QLoRA, three stages (vision, projector, "
                         "language model); tiny preset = small random Qwen2.5-VL on CPU")
