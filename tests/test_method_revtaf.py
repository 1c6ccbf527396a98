"""REVTAF: Poincaré-ball maths, ranking loss, log-domain Sinkhorn, IoU consistency, and the method cycle."""

from __future__ import annotations

import math

import pytest
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
from rrgbench_plugins.methods.revtaf.ot import OTAttention, ReleasedOTLayer, consistency_loss, sinkhorn_log

from rrgbench.api import RRGBenchError, RunContext

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


def _released_reference(layer, img, txt, eps=0.05):
    """Transcription of REVTAF-RRG ``ot_cross_attention`` → ``TPN_DecoderLayer`` → ``AttentionOT`` and
    ``Sinkhorn_log_exp_sum`` (eval mode): patches enter as ``[Nq=1, M, B, C]``."""
    xq = img.transpose(0, 1).unsqueeze(0)
    nq, m, b, _ = xq.shape
    q = F.normalize(layer.q(xq), dim=-1, p=2)
    k = F.normalize(layer.k(txt), dim=-1, p=2)
    v = layer.v(txt)
    kk = k.shape[1]
    sim = torch.einsum("bkc,nmbc->bnkm", k, q).permute(0, 2, 3, 1).contiguous().view(b * kk, m, nq)
    cost = 1.0 - sim
    mu, nu = torch.full((b * kk, m), 1.0 / m), torch.full((b * kk, nq), 1.0 / nq)
    u, w = torch.zeros_like(mu), torch.zeros_like(nu)

    def kern(u, w):
        return (-cost + u.unsqueeze(-1) + w.unsqueeze(-2)) / eps

    for _ in range(100):
        u0 = u
        u = eps * (torch.log(mu + 1e-8) - torch.logsumexp(kern(u, w), dim=2)) + u
        w = eps * (torch.log(nu + 1e-8) - torch.logsumexp(kern(u, w).permute(0, 2, 1), dim=2)) + w
        if (u - u0).abs().mean().item() < 1e-6:
            break
    plan = torch.exp(kern(u, w))
    score = (m * nq * sim * plan).view(b, kk, m, nq)
    attn = plan.view(b, kk, m, nq).permute(3, 0, 1, 2)  # n b k m
    x = layer.proj(torch.einsum("nbkm,bkc->nmbc", attn, v))
    tgt = layer.norm2(xq + x)
    tgt = layer.norm3(tgt + layer.linear2(F.relu(layer.linear1(tgt))))
    return tgt.squeeze(0).permute(1, 0, 2), score.squeeze(-1)


def test_released_ot_layer_matches_the_released_code():
    torch.manual_seed(0)
    layer = ReleasedOTLayer(8).eval()
    img, txt = torch.randn(2, 9, 8), torch.randn(2, 5, 8)
    out, maps = layer(img, txt)
    ref_out, ref_score = _released_reference(layer, img, txt)
    assert out.shape == (2, 9, 8) and maps.shape == (2, 9, 5)
    assert torch.allclose(out, ref_out, atol=1e-4)
    assert torch.allclose(maps.transpose(1, 2), ref_score, atol=1e-4)
    # Nq = 1: a uniform plan, so every patch receives the same text average and maps ≈ cosine similarities
    y, _ = layer.attend(img, txt)
    assert torch.allclose(y, y[:, :1].expand_as(y), atol=1e-5)
    cos = F.normalize(layer.k(txt), dim=-1) @ F.normalize(layer.q(img), dim=-1).transpose(1, 2)
    assert torch.allclose(maps.transpose(1, 2), cos, atol=1e-4)


def _original_overlap_loss(loc, glob, s, threshold=0.5):
    """Transcription of REVTAF-RRG ``overlap_loss`` on upsampled maps ``[B, K, H, W]``."""
    loc = (loc - loc.min()) / (loc.max() - loc.min() + 1e-6)
    glob = (glob - glob.min()) / (glob.max() - glob.min() + 1e-6)
    lb, gb = (loc >= threshold).float().unsqueeze(2), (glob >= threshold).float().unsqueeze(1)
    inter = (lb * gb).sum(dim=(-1, -2))
    union = (lb + gb - lb * gb).sum(dim=(-1, -2))
    return (1 - torch.sigmoid(s) * inter / (union + 1e-8)).mean()


def test_released_iou_matches_and_trains_only_the_texts():
    torch.manual_seed(0)
    r_attn, g_attn = torch.rand(2, 49, 4, requires_grad=True), torch.rand(2, 49, 3, requires_grad=True)
    r_txt, g_txt = torch.randn(2, 4, 6, requires_grad=True), torch.randn(2, 3, 6)
    loss = consistency_loss(r_attn, g_attn, r_txt, g_txt, size=16, mode="released")

    def up(a):
        return F.interpolate(a.detach().transpose(1, 2).reshape(2, -1, 7, 7), size=(16, 16), mode="bilinear",
                             align_corners=False)

    sim = F.cosine_similarity(r_txt.unsqueeze(2), g_txt.unsqueeze(1), dim=-1)
    assert torch.allclose(loss, _original_overlap_loss(up(r_attn), up(g_attn), sim), atol=1e-6)
    loss.backward()
    assert r_attn.grad is None and g_attn.grad is None and r_txt.grad.abs().sum() > 0
    paper = consistency_loss(r_attn, g_attn, r_txt, g_txt, size=16)  # per-map min-max, straight-through
    assert not torch.allclose(paper, loss)


def test_released_mode_shares_one_layer(tmp_path):
    cfg = smoke_config(REVTAF.default_config("tiny", "synthetic"))
    assert cfg["ot"] == "paper" and cfg["iou"] == "paper"
    method = REVTAF({**cfg, "ot": "released", "iou": "released"}, RunContext(run_dir=tmp_path))
    data = SyntheticDataset(n=8)
    method.prepare(data)
    assert method.model.region_layer is method.model.global_layer
    facts = method.train("train", data)
    assert "align" in facts["epochs"][0] and len(method.generate(data.split("test")[:2], data)) == 2
    bad = REVTAF({**cfg, "ot": "neither"}, RunContext(run_dir=tmp_path / "x"))
    with pytest.raises(RRGBenchError, match="'paper' or 'released'"):
        bad.prepare(data)
