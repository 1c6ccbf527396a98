"""KIF-ISD: graph adjacency mask, masked graph encoder, KD losses, and the teacher → student cycle."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from rrgbench_plugins.methods.common.synthetic import SyntheticDataset, smoke_config
from rrgbench_plugins.methods.kifisd.distill import logit_kd, relational_kd
from rrgbench_plugins.methods.kifisd.graph import NODES, KnowledgeGraphEncoder, adjacency_mask
from rrgbench_plugins.methods.kifisd.method import KIFISD

from rrgbench.api import RunContext

torch.set_num_threads(1)


def pos(name: str) -> int:
    return 1 + NODES.index(name)  # position 0 is the global node


def test_adjacency_mask():
    mask = adjacency_mask()
    assert len(NODES) == 27 and mask.shape == (28, 28)
    assert torch.equal(mask, mask.T) and mask.diagonal().all() and mask[0].all() and mask[:, 0].all()
    assert mask[pos("heart"), pos("cardiomegaly")]  # same organ group
    assert mask[pos("heart"), pos("lung")]  # both organ nodes
    assert mask[pos("effusion"), pos("pneumothorax")]  # pleural group
    assert mask[pos("emphysema"), pos("lesion")]  # lung findings
    assert not mask[pos("cardiomegaly"), pos("scoliosis")]
    assert not mask[pos("effusion"), pos("hernia")]


def test_graph_encoder_respects_mask():
    torch.manual_seed(0)
    ids = [[i + 1] for i in range(27)]
    enc = KnowledgeGraphEncoder(ids, vocab_size=40, dim=8, heads=2, ff=16, layers=1, dropout=0.0).eval()
    base = enc()
    with torch.no_grad():
        enc.embed.weight[pos("scoliosis")] += 3 * torch.randn(8)  # token id of node i is i+1 = its position
    moved = enc()
    changed = (moved - base).abs().sum(-1) > 1e-5
    assert changed[pos("scoliosis")] and changed[pos("spine")] and changed[0]
    assert not changed[pos("cardiomegaly")]  # not adjacent: one masked layer cannot reach it


def test_logit_kd_matches_kl_div():
    torch.manual_seed(0)
    s, t = torch.randn(3, 5, 7), torch.randn(3, 5, 7)
    expected = F.kl_div(F.log_softmax(s / 4, -1), F.softmax(t / 4, -1), reduction="batchmean") * 16
    assert torch.allclose(logit_kd(s, t, temperature=4.0), expected, atol=1e-5)
    assert float(logit_kd(t, t)) < 1e-5
    mask = torch.zeros(3, 5, dtype=torch.bool)
    assert float(logit_kd(s, t, mask)) == 0.0


def test_relational_kd_any_batch_size():
    torch.manual_seed(0)
    for b in (1, 3, 5):
        f, g = torch.randn(b, 4, 6), torch.randn(b, 4, 14)
        assert float(relational_kd(f, g, f.clone(), g.clone())) < 1e-4
        other = relational_kd(f, g, torch.randn(b, 4, 6), g)
        assert other.shape == () and (b == 1 or float(other) > 0)
    # invariant to a global feature scale (rows are normalised)
    f, g = torch.randn(4, 10), torch.randn(4, 3)
    assert float(relational_kd(3 * f, 3 * g, f, g)) < 1e-4


def _run(tmp_path, data, epochs=1):
    cfg = smoke_config(KIFISD.default_config("tiny", "synthetic"), epochs=epochs)
    method = KIFISD(cfg, RunContext(run_dir=tmp_path, seed=0))
    method.prepare(data)
    return method, {stage: method.train(stage, data) for stage in KIFISD.stages}


def test_teacher_student_cycle(tmp_path):
    data = SyntheticDataset(n=16)
    test = data.split("test")[:6]
    method, facts = _run(tmp_path / "a", data)
    assert "kd" in facts["student"]["epochs"][0] and "kd" not in facts["teacher"]["epochs"][0]
    assert facts["student"]["selected_on"] == "val"
    assert all(not p.requires_grad for p in method.teacher.parameters())
    reports = method.generate(test, data)
    method.save(tmp_path / "ckpt")
    again = KIFISD(method.config, RunContext(run_dir=tmp_path / "b"))
    again.prepare(data)
    again.load(tmp_path / "ckpt")
    assert again.generate(test, data) == reports
    twin, _ = _run(tmp_path / "c", data)
    assert twin.generate(test, data) == reports


def test_student_resumes_from_teacher_checkpoint(tmp_path):
    """The runner may run stage ``student`` in a new process after loading the ``teacher`` checkpoint."""
    data = SyntheticDataset(n=8)
    cfg = smoke_config(KIFISD.default_config("tiny", "synthetic"))
    first = KIFISD(cfg, RunContext(run_dir=tmp_path))
    first.prepare(data)
    first.train("teacher", data)
    first.save(tmp_path / "ckpt")
    second = KIFISD(cfg, RunContext(run_dir=tmp_path))
    second.prepare(data)
    second.load(tmp_path / "ckpt")
    second.train("student", data)
    teacher_w = second.teacher.state_dict()
    saved = first.model.state_dict()
    assert all(torch.equal(teacher_w[k], saved[k]) for k in saved)


def test_loss_decreases_on_fixed_batch(tmp_path):
    _, facts = _run(tmp_path, SyntheticDataset(n=8), epochs=5)
    for stage in ("teacher", "student"):
        losses = [e["loss"] for e in facts[stage]["epochs"]]
        assert losses[-1] < losses[0], (stage, losses)


def _original_loss_mid(img_s, cls_s, img_t, cls_t):
    """Transcription of KIF-ISD ``_train_epoch_blip``'s ``loss_mid`` (any batch size instead of 16)."""
    b = img_s.shape[0]
    f_s, f_t = img_s.contiguous().view(b, -1), img_t.contiguous().view(b, -1)
    h = torch.cat((f_s @ f_s.T, cls_s @ cls_s.T), dim=1)
    h_t = torch.cat((f_t @ f_t.T, cls_t @ cls_t.T), dim=1)
    diff = h / torch.norm(h, p=2, dim=1, keepdim=True) - h_t / torch.norm(h_t, p=2, dim=1, keepdim=True)
    return torch.norm(diff, p=2, dim=1).sum(0)


def test_relational_kd_inputs_are_raw_patches_and_adjusted_logits(tmp_path):
    """``loss_mid`` uses ``image_embeds_feature`` (backbone patches, before the graph fusion) and
    ``cls_preds_feature`` — the 4×C logits after the in-place ``+ log(base_probs)`` on the POS row."""
    data = SyntheticDataset(n=8)
    method = KIFISD(smoke_config(KIFISD.default_config("tiny", "synthetic")), RunContext(run_dir=tmp_path))
    method.prepare(data)
    torch.manual_seed(5)
    method.teacher = method.build_model().eval().requires_grad_(False)
    method.model.eval()
    method.pos_prior = (torch.rand(14) * 0.9 + 0.1).numpy()
    batch = method.train_batch([0, 1, 2, 3], data, seed=0)
    with torch.no_grad():
        got = method.losses(batch, "student")
        outs = []
        for model in (method.model, method.teacher):
            _, logits, _, patches = model(batch["images"], exclude=batch["idx"])
            cls = logits.clone().view(-1, 4, 14)
            cls[:, 1, :] += torch.log(torch.from_numpy(method.pos_prior)).view(1, -1)
            outs.append((patches, cls.flatten(1)))
    expected = _original_loss_mid(outs[0][0], outs[0][1], outs[1][0], outs[1][1])
    assert torch.allclose(got["mid"], expected, rtol=1e-4)
    # logit KD covers every position, the prompt included (the original's SoftTarget on all logits)
    assert float(got["kd"]) > 0
