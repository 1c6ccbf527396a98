"""PromptMRG family core: prompt decoder, attention-intervention hook, classifier heads, text bank."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from rrgbench_plugins.methods.common.labels import STATE_TOKENS
from rrgbench_plugins.methods.common.tokenizer import train_wordpiece
from rrgbench_plugins.methods.promptmrg_family.config import family_config, generation_lengths
from rrgbench_plugins.methods.promptmrg_family.decoder import PromptDecoder
from rrgbench_plugins.methods.promptmrg_family.heads import (
    RetrievalMemory,
    TextBank,
    logit_adjusted_loss,
    pos_prior_from_labels,
    update_pos_prior,
)

torch.set_num_threads(1)
TEXTS = ["the heart is enlarged .", "no pleural effusion .", "lungs are clear .", "there is a pneumothorax ."] * 3


@pytest.fixture(scope="module")
def tok():
    return train_wordpiece(TEXTS, vocab_size=120, min_frequency=1, extra_special=STATE_TOKENS)


def small_decoder(tok, memory_dim=8):
    torch.manual_seed(0)
    return PromptDecoder(tok, memory_dim, {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                           "intermediate_size": 64, "max_position_embeddings": 64}, n_obs=3)


def test_generation_lengths_and_presets():
    assert generation_lengths("mimic_cxr") == {"max_new_tokens": 150, "min_length": 100}
    assert generation_lengths("iu_xray_phantom") == {"max_new_tokens": 110, "min_length": 60}
    paper = family_config("paper", "mimic_cxr")
    assert paper["image_arch"] == "resnet101" and paper["decoder"]["num_hidden_layers"] == 12
    assert paper["lr"] == 5e-5 and paper["weight_decay"] == 0.05 and paper["generation"]["num_beams"] == 3


def test_prompt_layout_and_lm_loss_learns(tok):
    dec = small_decoder(tok)
    states = torch.tensor([[1, 2, 0], [0, 3, 2]])
    prompt = dec.prompt(states)
    assert prompt[0].tolist() == [tok.bos_id] + [tok.token_id(t) for t in ("[POS]", "[NEG]", "[BLA]")]
    reports = [tok.encode(TEXTS[0]), tok.encode(TEXTS[1])]
    memory = torch.randn(2, 4, 8)
    opt = torch.optim.AdamW(dec.parameters(), lr=3e-3)
    losses = []
    for _ in range(120):
        loss = dec.lm_loss(states, reports, memory)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    dec.eval()
    out = dec.generate(states, memory, num_beams=3, max_new_tokens=8, min_length=1)
    assert out[0] == reports[0][:8]  # memorised, prompt stripped, [SEP] removed


def test_intervention_hook_sees_self_attention_only(tok):
    dec = small_decoder(tok).eval()
    calls = []

    def spy(layer, probs):
        calls.append((layer, tuple(probs.shape)))
        return probs

    states = torch.tensor([[1, 2, 0]])
    memory = torch.randn(1, 5, 8)
    plain = dec.generate(states, memory, num_beams=3, max_new_tokens=4, min_length=1)
    spied = dec.generate(states, memory, num_beams=3, max_new_tokens=4, min_length=1, intervention=spy)
    assert plain == spied
    assert {layer for layer, _ in calls} == {0, 1}
    first = calls[0][1]
    assert first[0] == 3 and first[-1] == first[-2] == 4  # beams, full prompt self-attention (not 5 memory keys)
    keys = [shape[-1] for layer, shape in calls if layer == 0]
    assert keys == list(range(4, 4 + len(keys)))  # grows with the sequence (cross-attention would stay 5)


def test_logit_adjusted_loss_and_prior_updates():
    logits = torch.randn(5, 4, 3)
    states = torch.randint(0, 4, (5, 3))
    prior = torch.tensor([0.5, 1.0, 0.1])
    adjusted = logits.clone()
    adjusted[:, 1] += torch.log(prior)
    assert torch.allclose(logit_adjusted_loss(logits, states, prior), F.cross_entropy(adjusted, states))
    labels = np.array([[1, 2], [1, 1], [2, 0], [0, 2]])
    assert np.allclose(pos_prior_from_labels(labels), [1.0, 0.5])
    probs = np.array([[0.8, 0.1], [0.4, 0.3], [0.9, 0.9], [0.1, 0.2]])
    new = update_pos_prior(probs, labels, np.array([1.0, 1.0], dtype=np.float32))
    assert np.allclose(new, [1.0, 0.3 / 0.6])  # mean POS prob on true-POS rows, divided by the max


def test_text_bank_and_retrieval_memory():
    ids = [[1, 2, 3], [1, 2, 4], [5, 6, 7], [5, 6, 8]]
    bank = TextBank.fit(ids, vocab_size=10, dim=4)
    emb = bank.embed(ids)
    assert emb.shape == (4, 4) and torch.allclose(emb.norm(dim=1), torch.ones(4), atol=1e-5)
    sims = emb @ emb.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[2, 0]
    torch.manual_seed(0)
    mem = RetrievalMemory(img_dim=6, bank=emb, d_model=8, k=2, heads=2, ff=16)
    avg = torch.randn(4, 6)
    idx = mem.retrieve(avg, exclude=torch.arange(4))
    assert idx.shape == (4, 2) and not (idx == torch.arange(4)[:, None]).any()
    assert mem(avg).shape == (4, 8)
    opt = torch.optim.Adam(mem.retriever.parameters(), lr=0.1)
    for _ in range(30):
        loss = mem.retrieval_loss(avg, torch.arange(4))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (mem.retrieve(avg)[:, 0] == torch.arange(4)).all()
