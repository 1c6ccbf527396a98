"""The three training stages: which parameters each one trains.

Names follow ``Qwen2_5_VLForConditionalGeneration`` (``model.visual.*``, ``model.visual.merger.*``,
``model.language_model.*``, ``lm_head``), wrapped or not by peft. As in the notebook's
``set_training_stage``: ``merger`` parameters are the projector, other ``visual`` ones the vision encoder,
everything else the language model (embeddings and ``lm_head`` included).
"""

from __future__ import annotations

from torch import nn

from rrgbench.api import RRGBenchError

STAGES = ("vision", "projector", "llm")


def component(name: str) -> str:
    if "merger" in name:
        return "projector"
    if "visual" in name:
        return "vision"
    return "llm"


def select_stage(model: nn.Module, stage: str, mode: str = "float",
                 components: list[str] | None = None) -> list[str]:
    """Make only ``stage``'s parameters trainable (those of ``components``, default ``[stage]``); return
    their names.

    ``mode="float"``: every floating-point parameter of the component (the notebook; with a 4-bit base the
    quantised weights are not floating point, so LoRA adapters, norms, biases and embeddings remain).
    ``mode="lora"``: the component's LoRA adapters only.
    """
    if stage not in STAGES:
        raise RRGBenchError(f"unknown radvision stage {stage!r}; stages are {', '.join(STAGES)}")
    if mode not in ("float", "lora"):
        raise RRGBenchError(f"stage_params must be 'float' or 'lora', not {mode!r}")
    parts = set(components or [stage])
    chosen = []
    for name, p in model.named_parameters():
        train = component(name) in parts and p.is_floating_point() and (mode == "float" or "lora_" in name)
        p.requires_grad = train
        if train:
            chosen.append(name)
    return chosen
