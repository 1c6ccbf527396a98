"""Batched beam search with the semantics of R2Gen's ``CaptionModel.beam_search`` (group size 1).

* Step 0 expands the single bos hypothesis; every later step keeps the ``beam_size`` best of
  ``beam_size x vocab`` continuations by summed log-probability (no length penalty).
* A hypothesis that emits eos (id 0), or reaches ``max_len`` tokens, is moved to the finished list with
  its score, and its live copy is pushed down by 1000 so it is not expanded again.
* The answer is the finished hypothesis with the highest score.
* Trigram blocking is *not* applied: R2Gen's ``block_trigrams`` only acts in greedy sampling.

Stopping early once no live hypothesis can beat the best finished one gives the same answer, because
scores only decrease as tokens are added.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

EOS = 0


@torch.no_grad()
def beam_search(step: Callable[[Tensor, Tensor], Tensor], context: Tensor, batch: int, beam_size: int,
                max_len: int) -> list[list[int]]:
    """Decode ``batch`` sequences; ``step(context_rows, prefix) -> log-probs [rows, vocab]``.

    ``context`` has one row per sample; it is repeated per beam. Returns token ids without bos/eos.
    """
    device = context.device
    rows = context.repeat_interleave(beam_size, 0)
    prefix = torch.zeros(batch * beam_size, 1, dtype=torch.long, device=device)
    scores = torch.zeros(batch, beam_size, device=device)
    scores[:, 1:] = float("-inf")  # only beam 0 is live at step 0
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    active = torch.ones(batch, dtype=torch.bool)

    for t in range(max_len):
        logprobs = step(rows, prefix)  # [B*k, V]
        vocab = logprobs.size(-1)
        candidates = (scores.unsqueeze(-1) + logprobs.view(batch, beam_size, vocab)).view(batch, -1)
        top, index = candidates.topk(beam_size, dim=-1)
        beam_ix, token = index // vocab, index % vocab
        source = (beam_ix + torch.arange(batch, device=device).unsqueeze(1) * beam_size).view(-1)
        prefix = torch.cat([prefix[source], token.view(-1, 1)], 1)
        scores = top.clone()
        ended = (token == EOS) | (t == max_len - 1)
        for b, k in ended.nonzero().tolist():
            if active[b] and top[b, k] > -500:
                finished[b].append((float(top[b, k]), prefix[b * beam_size + k, 1:].tolist()))
        scores[ended] -= 1000.0
        for b in range(batch):
            if finished[b] and float(scores[b].max()) < max(s for s, _ in finished[b]):
                active[b] = False
        if not bool(active.any()):
            break

    out = []
    for b in range(batch):
        _, ids = max(finished[b], key=lambda item: item[0])
        out.append([i for i in ids if i != EOS])
    return out
