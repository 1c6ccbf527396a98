"""State-guided Attention Intervention (OS-RRG ``models/med.py`` ≈ l.213-233; notes §5).

Inference only, decoder self-attention layers ``0 .. n_layers-1`` (7 in the paper). For every query, the
attention mass on the state-token positions ``start .. start+C-1`` is summed and given entirely to the
single most-attended state token whose predicted state is not blank; the other state tokens get zero.

As in the original, only cached decoding steps are rewritten: attention whose key length is at most the
prompt length (``start + C`` = 15, the prompt pass that fills the key/value cache) is left alone, so the
cached keys/values of the prompt and the first generated token are those of the plain decoder.
Departure kept on purpose: samples whose predicted states are all blank are left unchanged (the original
moves their whole state mass onto the first state token, an arbitrary choice).
"""

from __future__ import annotations

import torch


def intervene(probs: torch.Tensor, keep: torch.Tensor, start: int = 1) -> torch.Tensor:
    """``probs [N, H, Q, K]`` attention; ``keep [N, C]`` bool (state ≠ BLA). Returns rewritten probs."""
    n_obs = keep.shape[1]
    if probs.shape[-1] <= start + n_obs:  # the prompt pass (key length 15): never rewritten
        return probs
    states = probs[..., start:start + n_obs]
    total = states.sum(-1, keepdim=True)
    allowed = keep[:, None, None, :].to(probs.device)
    top = states.masked_fill(~allowed, -1.0).argmax(-1, keepdim=True)
    moved = torch.zeros_like(states).scatter(-1, top, total)
    any_kept = keep.any(-1).to(probs.device)[:, None, None, None]
    out = probs.clone()
    out[..., start:start + n_obs] = torch.where(any_kept, moved, states)
    return out


def sai_hook(keep: torch.Tensor, n_layers: int = 7, start: int = 1):
    """An ``AttentionIntervention`` for :meth:`PromptDecoder.generate` (``keep`` already beam-expanded)."""
    def fn(layer: int, probs: torch.Tensor) -> torch.Tensor:
        return intervene(probs, keep, start) if layer < n_layers else probs
    return fn
