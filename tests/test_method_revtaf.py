"""REVTAF: Poincaré-ball maths, ranking loss, log-domain Sinkhorn, IoU consistency, and the method cycle."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from rrgbench_plugins.methods.common.synthetic import SyntheticDataset, smoke_config
from rrgbench_plugins.methods.revtaf.hyperbolic import (
    PoincareEncoder,
    distance,
    expmap0,
    hamming_targets,
    logmap0,
    mobius_add,
    rank_loss,
)
from rrgbench_plugins.methods.revtaf.method import REVTAF
from rrgbench_plugins.methods.revtaf.ot import OTAttention, consistency_loss, sinkhorn_log

from rrgbench.api import RunContext

torch.set_num_threads(1)
C = 0.01


def test_poincare_maps_and_distance():
    torch.manual_seed(0)
    u = torch.randn(5, 4)
    x = expmap0(u, C)
    assert (x.norm(dim=1) < 1 / math.sqrt(C)).all()
    assert torch.allclose(logmap0(x, C), u, atol=1e-4)
    zero = torch.zeros(1, 4)
    assert torch.allclose(mobius_add(zero, x, C), x, atol=1e-6)
    d = distance(x, x, C)
    assert torch.allclose(d, d.T, atol=1e-4) and torch.allclose(d.diagonal(), torch.zeros(5), atol=1e-3)
    # distance from the origin has the closed form 2/sqrt(c) * artanh(sqrt(c) |y|) = 2 |logmap0(y)|
    d0 = distance(zero, x, C)[0]
    assert torch.allclose(d0, 2 * u.norm(dim=1), rtol=1e-3)
    y = x[:3]
    assert (distance(x[:3], x[3:], C) <= distance(x[:3], y.new_zeros(3, 4), C)[:, :1]
            + distance(y.new_zeros(1, 4), x[3:], C) + 1e-4).all()  # triangle inequality through 0


def test_hamming_targets_and_rank_loss():
    states = torch.tensor([[1, 2, 0], [1, 2, 3], [0, 0, 0], [0, 0, 1]])
    onehot = F.one_hot(states, 4).flatten(1)
    assert hamming_targets(onehot).tolist() == [1, 0, 3, 2]
    enc = PoincareEncoder(12, 8, layers=3, c=C)
    torch.manual_seed(0)
    scores = torch.rand(4, 12)
    opt = torch.optim.Adam(enc.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        loss = rank_loss(enc(scores), onehot, C)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first
    assert float(rank_loss(enc(scores[:1]), onehot[:1], C).detach()) == 0.0  # a batch of one has no neighbour


def test_sinkhorn_marginals_and_masking():
    torch.manual_seed(0)
    cost = torch.rand(2, 5, 4)
    plan = sinkhorn_log(cost, eps=0.05, iters=200)
    assert torch.allclose(plan.sum(-1), torch.full((2, 5), 1 / 5), atol=1e-3)
    assert torch.allclose(plan.sum(-2), torch.full((2, 4), 1 / 4), atol=1e-3)
    mask = torch.tensor([[True, True, False, True], [True, True, True, True]])
    plan = sinkhorn_log(cost, eps=0.05, iters=200, key_mask=mask)
    assert (plan[0, :, 2] == 0).all() and torch.allclose(plan[0].sum(-2)[[0, 1, 3]], torch.full((3,), 1 / 3),
                                                          atol=1e-3)
    # with a tiny epsilon, a permutation cost gives the permutation plan
    perm = torch.tensor([2, 0, 1])
    cost = 1 - F.one_hot(perm, 3).float()
    plan = sinkhorn_log(cost.unsqueeze(0), eps=0.01, iters=100)[0]
    assert torch.equal(plan.argmax(1), perm)
    attn = OTAttention(8, 2)
    out, weights = attn(torch.randn(2, 5, 8), torch.randn(2, 3, 8))
    assert out.shape == (2, 5, 8) and torch.allclose(weights.sum(-1), torch.ones(2, 5), atol=1e-3)


def test_consistency_loss_iou():
    attn = torch.zeros(1, 4, 1)
    attn[0, :2, 0] = 1.0  # top half of a 2x2 map
    txt = torch.ones(1, 1, 3)
    same = consistency_loss(attn, attn.clone(), txt, txt, size=8)
    assert math.isclose(float(same), 1 - 1 / (1 + math.exp(-1)), rel_tol=1e-5)  # IoU 1, cos 1
    other = torch.zeros(1, 4, 1)
    other[0, 2:, 0] = 1.0
    disjoint = consistency_loss(attn, other, txt, txt, size=8)
    assert float(disjoint) > float(same)
    masked = consistency_loss(attn, torch.cat([attn, other], 2), txt, torch.cat([txt, txt], 1), size=8,
                              global_mask=torch.tensor([[True, False]]))
    assert torch.allclose(masked, same)


def _run(tmp_path, data, epochs=1):
    cfg = smoke_config(REVTAF.default_config("tiny", "synthetic"), epochs=epochs)
    method = REVTAF(cfg, RunContext(run_dir=tmp_path, seed=0))
    method.prepare(data)
    return method, method.train("train", data)


def test_cycle_save_load_and_seed(tmp_path):
    data = SyntheticDataset(n=16)
    test = data.split("test")[:6]
    method, facts = _run(tmp_path / "a", data)
    assert {"lm", "cls", "align", "rank", "retr"} <= set(facts["epochs"][0])
    assert method.train_scores.shape == (16, 56)
    reports = method.generate(test, data)
    assert len(reports) == 6
    method.save(tmp_path / "ckpt")
    again = REVTAF(method.config, RunContext(run_dir=tmp_path / "b"))
    again.prepare(data)
    again.load(tmp_path / "ckpt")
    assert again.generate(test, data) == reports
    twin, _ = _run(tmp_path / "c", data)
    assert twin.generate(test, data) == reports


def test_loss_decreases_on_fixed_batch(tmp_path):
    _, facts = _run(tmp_path, SyntheticDataset(n=8), epochs=5)
    losses = [e["loss"] for e in facts["epochs"]]
    assert losses[-1] < losses[0], losses
