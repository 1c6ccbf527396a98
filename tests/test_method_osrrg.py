"""OS-RRG: SBD experts / diverse losses / prior update, SAI maths, and the full method cycle."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from rrgbench_plugins.methods.common.synthetic import SyntheticDataset, smoke_config
from rrgbench_plugins.methods.osrrg.method import OSRRG
from rrgbench_plugins.methods.osrrg.sai import intervene
from rrgbench_plugins.methods.osrrg.sbd import (
    PriorEstimator,
    adjusted_logits,
    diverse_expert_loss,
    predict_states,
)

from rrgbench.api import RunContext

torch.set_num_threads(1)


def test_expert_adjustments_and_loss():
    logits = [torch.zeros(2, 4, 14) for _ in range(3)]
    prior = torch.full((4, 14), 0.5)
    prior[1] = 0.05  # clamped to 0.1
    e1, e2, e3 = adjusted_logits(logits, prior, alpha=1.0)
    lp, lh = torch.log(torch.tensor(0.1)), torch.log(torch.tensor(0.5))
    assert torch.allclose(e1[:, 3], lh.expand(2, 14)) and torch.allclose(e1[:, 1], lp.expand(2, 14))
    assert torch.allclose(e2[:, 1], lp.expand(2, 14)) and (e2[:, [0, 2, 3]] == 0).all()
    assert torch.allclose(e3[:, 1], lp.expand(2, 14)) and torch.allclose(e3[:, 2], lh.expand(2, 14))
    states = torch.randint(0, 4, (2, 14))
    expected = sum(F.cross_entropy(e, states) for e in (e1, e2, e3))
    assert torch.allclose(diverse_expert_loss(logits, states, prior), expected)


def test_most_confident_expert_decides():
    a, b, c = (torch.zeros(1, 4, 1) for _ in range(3))
    a[0, 1, 0] = 1.0  # expert 1 mildly prefers POS
    c[0, 3, 0] = 5.0  # expert 3 strongly prefers UNC
    assert predict_states([a, b, c]).tolist() == [[3]]


def test_prior_update_rule():
    est = PriorEstimator(n_obs=14)
    states = torch.full((2, 14), 1)
    states[1] = 2
    logits = [torch.zeros(2, 4, 14) for _ in range(3)]
    logits[1][0, 1] = 10.0  # expert 2 is sure of POS on the true-POS sample
    est.add(logits, states)
    old = torch.full((4, 14), 0.3)
    new = est.updated(old)
    assert torch.allclose(new[1], torch.full((14,), 1.0), atol=1e-3)  # expert-2 p(POS) on true POS
    assert torch.allclose(new[2, :13], torch.full((13,), 0.25))  # expert-3 p(NEG) on true NEG (uniform)
    assert new[2, 13] == 1.0 and new[3, 13] == 1.0  # No Finding NEG/UNC fixed
    assert torch.allclose(new[3, :13], old[3, :13]) and torch.allclose(new[0], old[0])  # unseen / BLA kept


def test_sai_moves_state_mass_to_top_non_blank_token():
    probs = torch.tensor([[[[0.1, 0.3, 0.2, 0.1, 0.3]]]])  # one query; keys: [DEC], 3 state tokens, 1 word
    keep = torch.tensor([[False, True, True]])  # first state token is blank
    out = intervene(probs, keep, start=1)
    assert torch.allclose(out, torch.tensor([[[[0.1, 0.0, 0.6, 0.0, 0.3]]]]))
    assert torch.allclose(out.sum(-1), probs.sum(-1))
    none = intervene(probs, torch.tensor([[False, False, False]]), start=1)
    assert torch.equal(none, probs)


def _run(tmp_path, data, seed=0, epochs=1):
    cfg = smoke_config(OSRRG.default_config("tiny", "synthetic"), epochs=epochs)
    method = OSRRG(cfg, RunContext(run_dir=tmp_path, seed=seed))
    torch.manual_seed(seed)
    method.prepare(data)
    facts = {stage: method.train(stage, data) for stage in OSRRG.stages}
    return method, facts


def test_cycle_save_load_and_seed(tmp_path):
    data = SyntheticDataset(n=16)
    test = data.split("test")[:6]
    method, facts = _run(tmp_path / "a", data)
    assert set(facts) == {"align", "sbd"} and facts["sbd"]["priors_per_epoch"] == 1
    reports = method.generate(test, data)
    assert len(reports) == 6 and all(isinstance(r, str) for r in reports)
    assert "bert-base-uncased" in method.ctx.substitutes and "resnet-101" in method.ctx.substitutes
    method.save(tmp_path / "ckpt")
    again = OSRRG(method.config, RunContext(run_dir=tmp_path / "b"))
    again.prepare(data)
    again.load(tmp_path / "ckpt")
    assert again.generate(test, data) == reports
    assert torch.allclose(again.prior, method.prior)
    twin, _ = _run(tmp_path / "c", data)
    assert twin.generate(test, data) == reports


def test_loss_decreases_on_fixed_batch(tmp_path):
    data = SyntheticDataset(n=8)
    _, facts = _run(tmp_path, data, epochs=5)
    for stage in ("align", "sbd"):
        losses = [e["loss"] for e in facts[stage]["epochs"]]
        assert losses[-1] < losses[0], (stage, losses)


def test_unknown_stage(tmp_path):
    data = SyntheticDataset(n=8)
    method = OSRRG(smoke_config(OSRRG.default_config("tiny", "synthetic")), RunContext(run_dir=tmp_path))
    method.prepare(data)
    with pytest.raises(Exception, match="unknown stage"):
        method.train("nope", data)


def _original_prior_update(logits, states, prior, alpha=1.0):
    """Transcription of OS_RRG ``DiverseExpertLoss`` (in-place adjustment) + ``train_dynamic_logit_adj``."""
    p = torch.where(prior < 0.1, torch.tensor(0.1), prior)
    e1, e2, e3 = (lg.clone() for lg in logits)
    e1[:, 3, :14] += torch.log(p[3].view(1, -1) + 1e-9)
    e1[:, 1, :14] += alpha * torch.log(p[1].view(1, -1) + 1e-9)
    e2[:, 1, :14] += torch.log(p[1].view(1, -1) + 1e-9)
    e3[:, 1, :14] += alpha * torch.log(p[1].view(1, -1) + 1e-9)
    e3[:, 2, :14] += torch.log(p[2].view(1, -1) + 1e-9)
    p1, p2, p3 = (F.softmax(e, dim=1) for e in (e1, e2, e3))  # what the SBD forward returns after the loss
    new = prior.clone()
    for state, probs in ((1, p2), (2, p3), (3, p1)):
        mask = (states == state).float()
        count = mask.sum(0)
        new[state] = (probs[:, state] * mask).sum(0) / torch.where(count == 0, 1.0, count)
    new[2, -1] = new[3, -1] = 1.0
    return new


def test_prior_update_uses_logit_adjusted_probabilities():
    torch.manual_seed(0)
    logits = [torch.randn(64, 4, 14) for _ in range(3)]
    states = torch.randint(0, 4, (64, 14))
    prior = torch.rand(4, 14) * 0.9 + 0.02  # some entries below the 0.1 clamp
    est = PriorEstimator(14)
    loss = diverse_expert_loss(logits, states, prior, 1.0, estimator=est)
    assert torch.allclose(loss, diverse_expert_loss(logits, states, prior))  # recording changes nothing
    new = est.updated(prior)
    expected = _original_prior_update(logits, states, prior)
    assert torch.allclose(new[1:], expected[1:], atol=1e-5)  # every state has samples in this batch
    assert torch.equal(new[0], prior[0])  # BLA is never updated
    raw = PriorEstimator(14)
    raw.add(logits, states)  # the old rule (softmax of raw logits) gives a visibly different prior
    assert (raw.updated(prior)[1] - expected[1]).abs().max() > 0.05


def test_sai_leaves_the_prompt_pass_alone():
    """The original intervenes only when the key length exceeds the 15-token prompt (cached steps)."""
    torch.manual_seed(0)
    keep = torch.zeros(2, 14, dtype=torch.bool)
    keep[0, [2, 5]] = True  # sample 1: all blank
    prompt = F.softmax(torch.randn(2, 3, 15, 15), -1)
    assert torch.equal(intervene(prompt, keep), prompt)
    step = F.softmax(torch.randn(2, 3, 1, 16), -1)
    out = intervene(step, keep)
    mass = step[0, :, :, 1:15].sum(-1)
    top = torch.where(step[0, :, :, 3] >= step[0, :, :, 6], 3, 6)  # state tokens 2 and 5 sit at keys 3, 6
    for h in range(3):
        assert out[0, h, 0, top[h, 0]] == pytest.approx(float(mass[h, 0]), abs=1e-6)
    assert torch.equal(out[0, ..., [0, 15]], step[0, ..., [0, 15]])
    assert torch.equal(out[1], step[1])  # all-blank sample untouched (departure kept on purpose)
    assert torch.allclose(out.sum(-1), step.sum(-1))


def test_sai_hook_sees_prompt_then_cached_steps(tmp_path):
    """In generation the first self-attention call is the 15×15 prompt pass, then one query per step."""
    data = SyntheticDataset(n=8)
    method = OSRRG(smoke_config(OSRRG.default_config("tiny", "synthetic")), RunContext(run_dir=tmp_path))
    method.prepare(data)
    method.model.eval()
    seen = []
    images = method.images(data.split("test")[:2], data, train=False)
    patches, _ = method.model.encoder(images)
    states = torch.ones(2, 14, dtype=torch.long)
    method.model.decoder.generate(states, patches, num_beams=1, max_new_tokens=4, min_length=0,
                                  intervention=lambda layer, p: seen.append(tuple(p.shape[-2:])) or p)
    assert seen[0] == (15, 15) and all(q == 1 and k > 15 for q, k in seen[len(method.model.decoder.bert.bert.encoder.layer):])
