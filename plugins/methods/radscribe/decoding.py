"""Decoding settings: a fixed deterministic beam search (default) or the original's epoch schedule.

The original (``utils/generator_scheduler.py``) changes decoding with the training epoch: 2 beams before
epoch 2, 5 beams from epoch 4, and from epoch 4 on *sampling* with top-p 0.8 -> 0.95 and temperature
1.2 -> 0.8, ``no_repeat_ngram_size`` 2 -> 3, repetition penalty 1.3 -> 1.0. Sampling makes scores depend
on the random state, so a benchmark evaluates with ``decode_schedule: fixed``; ``original`` is an option.
"""

from __future__ import annotations

from typing import Any

from rrgbench.api import RRGBenchError


def original_schedule(epoch: int) -> dict[str, Any]:
    """The original's decoding parameters at 0-based ``epoch``."""
    e = epoch
    return {
        "max_new_tokens": 128,
        "min_new_tokens": 64,
        "num_beams": int(2 if e < 2 else (2 + (e - 2) / 2 * 3 if e < 4 else 5)),
        "do_sample": e >= 4,
        "top_p": 0.8 + min(e, 6) / 6 * 0.15,
        "temperature": 1.2 - min(e, 6) / 6 * 0.4,
        "no_repeat_ngram_size": int(2 if e < 4 else 3),
        "repetition_penalty": 1.3 - min(e, 6) / 6 * 0.3,
    }


def decoding_params(config: dict[str, Any], epochs_trained: int) -> dict[str, Any]:
    """``generate`` keyword arguments for the configured schedule."""
    schedule = config.get("decode_schedule", "fixed")
    if schedule == "fixed":
        return {**config["decoding"], "do_sample": False}
    if schedule == "original":
        params = original_schedule(max(0, epochs_trained - 1))
        # keep the configured length limits (the original's 64..128 tokens are MIMIC-sized)
        params.update({k: config["decoding"][k] for k in ("max_new_tokens", "min_new_tokens")})
        if not params["do_sample"]:
            params.pop("top_p")
            params.pop("temperature")
        return params
    raise RRGBenchError(f"decode_schedule must be 'fixed' or 'original', not {schedule!r}")
