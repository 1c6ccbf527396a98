"""R2Gen: relational memory and MCLN maths, tokenizer, beam search, and the Method life cycle on synthetic data."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
from rrgbench_plugins.methods.common.synthetic import SyntheticDataset
from rrgbench_plugins.methods.r2gen.beam import beam_search
from rrgbench_plugins.methods.r2gen.method import R2Gen
from rrgbench_plugins.methods.r2gen.model import language_model_loss
from rrgbench_plugins.methods.r2gen.tokenizer import R2GenTokenizer
from rrgbench_plugins.methods.r2gen.transformer import (
    ConditionalLayerNorm,
    RelationalMemory,
    subsequent_mask,
)

from rrgbench.api import RRGBenchError, RunContext

torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------- maths
def test_relational_memory_initial_state():
    rm = RelationalMemory(num_slots=3, d_model=5)
    mem = rm.init_memory(2)
    assert mem.shape == (2, 3, 5)
    assert torch.equal(mem[0, :, :3], torch.eye(3)) and not mem[:, :, 3:].any()
    assert torch.equal(RelationalMemory(num_slots=4, d_model=2).init_memory(1)[0], torch.eye(4)[:, :2])


def test_relational_memory_step_matches_the_equations():
    torch.manual_seed(0)
    slots, d, heads = 3, 8, 2
    rm = RelationalMemory(slots, d, heads).eval()
    memory = torch.randn(2, slots, d)
    y = torch.randn(2, d)

    # M~ = M + MHA(Q=M, K=V=[M; y]);  M~ += MLP(M~);  G_i, G_f = W y + U tanh(M)
    # M_t = sigmoid(G_i) * tanh(M~) + sigmoid(G_f) * M
    q_lin, k_lin, v_lin, o_lin = rm.attn.linears
    kv = torch.cat([memory, y[:, None]], 1)
    heads_out = []
    for h in range(heads):
        sl = slice(h * d // heads, (h + 1) * d // heads)
        q, k, v = q_lin(memory)[..., sl], k_lin(kv)[..., sl], v_lin(kv)[..., sl]
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d // heads), -1)
        heads_out.append(weights @ v)
    cand = memory + o_lin(torch.cat(heads_out, -1))
    cand = cand + rm.mlp(cand)
    gates = rm.W(y)[:, None] + rm.U(torch.tanh(memory))
    expected = torch.sigmoid(gates[..., :d]) * torch.tanh(cand) + torch.sigmoid(gates[..., d:]) * memory

    assert torch.allclose(rm.step(y, memory), expected, atol=1e-6)
    seq = rm(torch.stack([y, -y], 1), memory)
    assert seq.shape == (2, 2, slots * d)
    assert torch.allclose(seq[:, 0], expected.flatten(1), atol=1e-6)
    assert torch.allclose(seq[:, 1], rm.step(-y, expected).flatten(1), atol=1e-6)


def test_mcln_is_layer_norm_shifted_by_memory_mlps():
    torch.manual_seed(0)
    norm = ConditionalLayerNorm(d_model=6, rm_num_slots=2, rm_d_model=6)
    x, memory = torch.randn(2, 3, 6), torch.randn(2, 3, 12)
    mean = x.mean(-1, keepdim=True)
    std = torch.sqrt(((x - mean) ** 2).sum(-1, keepdim=True) / 5)  # unbiased std, as in R2Gen
    z = (x - mean) / (std + 1e-6)
    expected = (norm.gamma + norm.mlp_gamma(memory)) * z + norm.beta + norm.mlp_beta(memory)
    assert torch.allclose(norm(x, memory), expected, atol=1e-6)

    # with the memory MLPs silenced, MCLN is the plain (unbiased-std) layer norm
    for mlp in (norm.mlp_gamma, norm.mlp_beta):
        torch.nn.init.zeros_(mlp[-1].weight)
        torch.nn.init.zeros_(mlp[-1].bias)
    assert torch.allclose(norm(x, memory), z, atol=1e-6)
    assert torch.allclose(norm(x, torch.randn_like(memory)), z, atol=1e-6)

    with pytest.raises(ValueError):
        ConditionalLayerNorm(d_model=6, rm_num_slots=2, rm_d_model=4)


def test_subsequent_mask_and_loss_mask():
    assert subsequent_mask(3)[0].tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    ids = torch.tensor([[0, 5, 6, 0, 0], [0, 7, 0, 0, 0]])
    logprobs = torch.log_softmax(torch.randn(2, 4, 9), -1)
    # targets: [5, 6, eos] and [7, eos]; padding after the first eos is ignored
    terms = [logprobs[0, 0, 5], logprobs[0, 1, 6], logprobs[0, 2, 0], logprobs[1, 0, 7], logprobs[1, 1, 0]]
    assert torch.allclose(language_model_loss(logprobs, ids), -torch.stack(terms).mean())


def test_tokenizer_vocabulary_and_ids(tmp_path):
    tok = R2GenTokenizer.build(["b a .", "a c .", "a b ."], threshold=2)
    assert tok.idx2token == {1: ".", 2: "<unk>", 3: "a", 4: "b"}  # sorted, ids from 1
    assert tok.encode("a c zz .") == [0, 3, 2, 2, 1, 0]
    assert tok.decode([3, 4, 1, 0, 3]) == "a b ."
    tok.save(tmp_path / "tok.json")
    assert R2GenTokenizer.load(tmp_path / "tok.json").token2idx == tok.token2idx


def test_beam_search_finds_the_best_sequence_of_a_markov_model():
    torch.manual_seed(3)
    vocab, max_len = 4, 4
    table = torch.log_softmax(torch.randn(vocab, vocab) * 2, -1)  # next-token log-probs given the last token

    def step(rows, prefix):
        return table[prefix[:, -1]]

    def score(seq):
        prev, total = 0, 0.0
        for tok in seq:
            total += float(table[prev, tok])
            prev = tok
        return total

    # every finished hypothesis: ends with eos (0) or reaches max_len tokens
    candidates = [s + (0,) for n in range(max_len) for s in itertools.product(range(1, vocab), repeat=n)]
    candidates += list(itertools.product(range(1, vocab), repeat=max_len))
    best = max(candidates, key=score)
    found = beam_search(step, torch.zeros(2, 1), batch=2, beam_size=vocab ** max_len, max_len=max_len)
    assert found == [[t for t in best if t != 0]] * 2
    # a narrow beam returns some finished hypothesis no better than the exhaustive one
    narrow = beam_search(step, torch.zeros(1, 1), batch=1, beam_size=2, max_len=max_len)[0]
    assert score(narrow + ([0] if len(narrow) < max_len else [])) <= score(best) + 1e-6


# -------------------------------------------------------------------------------------- life cycle
def tiny_config(**overrides):
    cfg = R2Gen.default_config("tiny", "iu_xray_synthetic")
    cfg.update({"image_size": 32, "train_resize": 36, "d_model": 32, "d_ff": 32, "rm_d_model": 32,
                "num_heads": 2, "rm_num_heads": 2, "epochs": 1, "batch_size": 8, "threshold": 1,
                "max_seq_length": 24})
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="module")
def data():
    ds = SyntheticDataset(n=16, seed=1)
    ds.prepare()
    return ds


def make(tmp_path, data, seed=0, **overrides):
    method = R2Gen(tiny_config(**overrides), RunContext(run_dir=tmp_path, seed=seed))
    method.prepare(data)
    return method


def test_defaults_per_dataset_and_preset():
    iu, mimic = R2Gen.default_config("paper", "iu_xray"), R2Gen.default_config("paper", "mimic_cxr")
    assert (iu["threshold"], iu["max_seq_length"], iu["views"], iu["epochs"]) == (3, 60, 2, 100)
    assert (mimic["threshold"], mimic["max_seq_length"], mimic["views"], mimic["gamma"]) == (10, 100, 1, 0.8)
    assert (iu["d_model"], iu["num_layers"], iu["rm_num_slots"], iu["beam_size"]) == (512, 3, 3, 3)
    with pytest.raises(RRGBenchError):
        R2Gen.default_config("huge", "iu_xray")


def test_train_generate_save_load_roundtrip(tmp_path, data):
    method = make(tmp_path, data, max_steps=3)
    facts = method.train("train", data)
    assert facts["steps"] == 2  # one epoch of 16 samples in batches of 8
    test = data.split("test")[:6]
    reports = method.generate(test, data)
    assert len(reports) == 6 and all(isinstance(r, str) for r in reports)
    # generation never looks at the reference
    assert method.generate([dataclasses.replace(s, report="") for s in test], data) == reports
    method.save(tmp_path / "ckpt")
    again = R2Gen(tiny_config(max_steps=3), RunContext(run_dir=tmp_path, seed=5))
    again.load(tmp_path / "ckpt")
    assert again.generate(test, data) == reports
    assert "resnet-101 (ImageNet)" in method.ctx.substitutes
    (tmp_path / "ckpt" / "model.pt").unlink()
    with pytest.raises(RRGBenchError, match="model.pt"):
        again.load(tmp_path / "ckpt")


def test_loss_decreases_on_a_fixed_batch(tmp_path, data):
    method = make(tmp_path, data, dropout=0.0, drop_prob_lm=0.0)
    batch = data.split("train")[:4]
    optimizer = torch.optim.Adam(method.model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(25):
        loss = method.loss(batch, data, gen)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_output(tmp_path, data):
    runs = []
    for sub in ("a", "b"):
        method = make(tmp_path / sub, data, seed=7, max_steps=2)
        facts = method.train("train", data)
        runs.append((facts["epochs"][0]["loss"], method.generate(data.split("test")[:4], data)))
    assert runs[0] == runs[1]


def test_checkpoint_selection_on_validation_bleu(tmp_path, data):
    method = make(tmp_path, data, epochs=2, select_on_val="bleu_4", max_val_samples=4, max_seq_length=12)
    facts = method.train("train", data)
    assert facts["selected_epoch"] in (1, 2)
    assert facts["selected_val_bleu_4"] == max(e["val_bleu_4"] for e in facts["epochs"])


def test_visual_stage_pretrains_the_extractor_in_place(tmp_path, data):
    method = make(tmp_path, data, visual={**tiny_config()["visual"], "max_steps": 2, "bow_size": 8})
    assert method.stages == ("visual", "train") and method.pretrain_visual
    before = {k: v.clone() for k, v in method.model.visual_extractor.state_dict().items()}
    facts = method.train("visual", data)
    assert facts["steps"] == 2 and "train_positive_rate" in facts
    after = method.model.visual_extractor.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert "pretrained by rrgbench" in method.ctx.substitutes["resnet-101 (ImageNet)"]
    # the heads are not part of R2Gen's checkpoint
    assert not any(k.startswith(("state_head", "bow_head")) for k in method.model.state_dict())

    never = make(tmp_path / "never", data, visual_pretrain="never")
    assert never.train("visual", data) == {"skipped": "visual_pretrain='never'"}
    assert "from scratch" in never.ctx.substitutes["resnet-101 (ImageNet)"]


def test_configured_but_missing_pretrained_weights_is_an_error(tmp_path, data):
    with pytest.raises(RRGBenchError, match="does not exist"):
        make(tmp_path, data, arch="resnet101", assets={"resnet-101": str(tmp_path / "nope.pt")})
