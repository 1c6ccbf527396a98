"""BERT LM-head report decoder with cross-attention, prompted by diagnosis state tokens (notes §2).

Training input: ``[DEC] s_1 .. s_14 report [SEP]`` with the ground-truth states ``s_i`` (one of
``[BLA] [POS] [NEG] [UNC]``); the prompt positions are masked out of the LM loss, which uses label
smoothing 0.1 as BLIP's ``med.py``. Generation feeds ``[DEC] s_1 .. s_14`` built from *predicted* states
to Hugging Face beam search and strips the prompt from the output.

BLIP's decoder cross-attends to the 2048-d image features directly (``encoder_width``); transformers'
``BertLMHeadModel`` needs memory of the hidden size, so a linear ``memory_proj`` maps it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertLMHeadModel
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from ..common.labels import STATE_TOKENS
from ..common.tokenizer import ReportTokenizer

# fn(layer_index, attention_probs [N, heads, q, k]) -> new attention probs
AttentionIntervention = Callable[[int, torch.Tensor], torch.Tensor]


class PromptDecoder(nn.Module):
    """Decoder + prompt builder. ``n_obs`` state tokens follow ``[DEC]`` (positions 1..n_obs)."""

    def __init__(self, tokenizer: ReportTokenizer, memory_dim: int, bert: dict[str, Any], n_obs: int = 14,
                 label_smoothing: float = 0.1, pretrained: Path | None = None) -> None:
        super().__init__()
        self.n_obs = n_obs
        self.pad_id, self.bos_id, self.eos_id = tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id
        self.label_smoothing = label_smoothing
        self.register_buffer("state_ids", torch.tensor([tokenizer.token_id(t) for t in STATE_TOKENS]),
                             persistent=False)
        common = dict(is_decoder=True, add_cross_attention=True, attn_implementation="eager")
        if pretrained is not None:  # faithful path: bert-base-uncased weights, cross-attention newly initialised
            self.bert = BertLMHeadModel.from_pretrained(str(pretrained), local_files_only=True, **common)
            self.bert.resize_token_embeddings(tokenizer.vocab_size)
        else:
            config = BertConfig(vocab_size=tokenizer.vocab_size, pad_token_id=self.pad_id, **bert, **common)
            self.bert = BertLMHeadModel(config)
        hidden = self.bert.config.hidden_size
        self.memory_proj = nn.Linear(memory_dim, hidden) if memory_dim != hidden else nn.Identity()

    @property
    def prompt_length(self) -> int:
        return 1 + self.n_obs

    def prompt(self, states: torch.Tensor) -> torch.Tensor:
        """``[B, 1 + n_obs]`` ids ``[DEC] s_1 .. s_n`` for integer states ``[B, n_obs]`` in 0..3."""
        bos = torch.full((states.shape[0], 1), self.bos_id, dtype=torch.long, device=states.device)
        return torch.cat([bos, self.state_ids.to(states.device)[states]], 1)

    def lm_loss(self, states: torch.Tensor, reports: Sequence[Sequence[int]], memory: torch.Tensor,
                return_logits: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced LM loss over report tokens (and ``[SEP]``); prompt and padding are ignored."""
        prompt = self.prompt(states)
        length = max(len(r) for r in reports) + 1
        body = torch.full((len(reports), length), self.pad_id, dtype=torch.long, device=states.device)
        for i, ids in enumerate(reports):
            body[i, :len(ids)] = torch.tensor(list(ids), dtype=torch.long)
            body[i, len(ids)] = self.eos_id
        input_ids = torch.cat([prompt, body], 1)
        attention = (input_ids != self.pad_id).long()
        out = self.bert(input_ids=input_ids, attention_mask=attention,
                        encoder_hidden_states=self.memory_proj(memory), return_dict=True)
        targets = input_ids.masked_fill(input_ids == self.pad_id, -100)
        targets[:, :self.prompt_length] = -100
        logits = out.logits[:, :-1]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[:, 1:].reshape(-1),
                               ignore_index=-100, label_smoothing=self.label_smoothing)
        return (loss, logits) if return_logits else loss

    @torch.no_grad()
    def generate(self, states: torch.Tensor, memory: torch.Tensor, *, num_beams: int = 3,
                 max_new_tokens: int = 110, min_length: int = 60, repetition_penalty: float = 1.0,
                 intervention: AttentionIntervention | None = None) -> list[list[int]]:
        """Beam-search report ids (prompt stripped, ``[SEP]``/padding removed) for each sample.

        ``min_length`` counts the prompt tokens, as in the original (HF decoder-only semantics).
        ``intervention`` rewrites decoder self-attention probabilities during generation only.
        """
        prompt = self.prompt(states)
        with self._intervene(intervention):
            out = self.bert.generate(
                input_ids=prompt, attention_mask=torch.ones_like(prompt),
                encoder_hidden_states=self.memory_proj(memory),
                past_key_values=EncoderDecoderCache(DynamicCache(), DynamicCache()),
                num_beams=num_beams, max_new_tokens=max_new_tokens, min_length=min_length,
                repetition_penalty=repetition_penalty, eos_token_id=self.eos_id, pad_token_id=self.pad_id,
                bos_token_id=self.bos_id, do_sample=False, early_stopping=False)
        result = []
        for row in out[:, prompt.shape[1]:].tolist():
            ids = []
            for t in row:
                if t in (self.eos_id, self.pad_id):
                    break
                ids.append(t)
            result.append(ids)
        return result

    @contextmanager
    def _intervene(self, fn: AttentionIntervention | None):
        """Hook each layer's self-attention dropout (eager attention) so ``fn`` can rewrite the probabilities."""
        handles = []
        if fn is not None:
            for i, layer in enumerate(self.bert.bert.encoder.layer):
                def hook(_mod, _inp, out, i=i):
                    return fn(i, out)
                handles.append(layer.attention.self.dropout.register_forward_hook(hook))
        try:
            yield
        finally:
            for h in handles:
                h.remove()
