"""The shared method toolkit: tokenizer, assets, backbones, batching, training loop, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from rrgbench_plugins.methods.common.assets import resolve_asset
from rrgbench_plugins.methods.common.backbones import ImageEncoder
from rrgbench_plugins.methods.common.batching import batches, image_tensor
from rrgbench_plugins.methods.common.checkpoint import load_checkpoint, save_checkpoint
from rrgbench_plugins.methods.common.labels import state_priors
from rrgbench_plugins.methods.common.synthetic import SyntheticDataset
from rrgbench_plugins.methods.common.tokenizer import ReportTokenizer, from_vocab_file, train_wordpiece
from rrgbench_plugins.methods.common.training import FitConfig, fit, lr_at, param_groups

from rrgbench.api import RRGBenchError, RunContext
from rrgbench.seeding import seed_everything

torch.set_num_threads(1)
REPORTS = ["the heart is enlarged .", "no pleural effusion .", "the lungs are clear . no pneumothorax ."] * 5


def test_wordpiece_roundtrip_and_specials(tmp_path):
    tok = train_wordpiece(REPORTS, vocab_size=200, min_frequency=1, extra_special=["[POS]", "[NEG]"])
    ids = tok.encode("the heart is enlarged . no pneumothorax .")
    assert tok.unk_id not in ids
    assert tok.decode(ids) == "the heart is enlarged . no pneumothorax ."
    assert tok.decode([tok.token_id("##e"), *tok.encode("heart")]) == "e heart"
    assert tok.encode("[POS] heart")[0] == tok.token_id("[POS]")
    assert tok.decode([tok.bos_id, tok.token_id("[POS]"), *ids, tok.eos_id]).startswith("the heart")
    again = train_wordpiece(REPORTS, vocab_size=200, min_frequency=1, extra_special=["[POS]", "[NEG]"])
    assert again.tok.get_vocab() == tok.tok.get_vocab()  # canonical ids: same input, same model
    tok.save(tmp_path / "tok.json")
    again = ReportTokenizer.load(tmp_path / "tok.json")
    assert again.encode("no pleural effusion .") == tok.encode("no pleural effusion .")
    with pytest.raises(RRGBenchError, match="not found"):
        ReportTokenizer.load(tmp_path / "missing.json")


def test_tokenizer_from_bert_vocab_file(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "heart",
                                                   "en", "##larged", "."]) + "\n")
    tok = from_vocab_file(tmp_path, extra_special=["[BLA]"])
    assert tok.decode(tok.encode("The heart enlarged.")) == "the heart enlarged ."
    assert tok.token_id("[DEC]") >= 10 and tok.token_id("[BLA]") >= 10


def test_resolve_asset(tmp_path, monkeypatch):
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path))
    assert resolve_asset("resnet-101", {}) is None
    (tmp_path / "resnet-101").mkdir()
    assert resolve_asset("resnet-101", {}) == tmp_path / "resnet-101"
    assert resolve_asset("x", {"assets": {"x": str(tmp_path)}}) == tmp_path
    with pytest.raises(RRGBenchError, match="does not exist"):
        resolve_asset("x", {"assets": {"x": str(tmp_path / "nope")}})


def test_backbone_shapes_and_local_weights(tmp_path):
    torch.manual_seed(0)
    enc = ImageEncoder("tiny").eval()
    patches, avg = enc(torch.randn(2, 3, 64, 64))
    assert patches.shape == (2, 4, 128) and avg.shape == (2, 128)
    torch.save(enc.resnet.state_dict(), tmp_path / "w.pt")
    enc2 = ImageEncoder("tiny", pretrained=tmp_path / "w.pt").eval()
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(enc(x)[0], enc2(x)[0])
    torch.save({"foo": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(RRGBenchError, match="miss"):
        ImageEncoder("tiny", pretrained=tmp_path / "bad.pt")


def test_image_tensor_and_batches():
    data = SyntheticDataset(n=4)
    samples = data.split("train")
    x = image_tensor(samples, data, 32)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x[:, 0] * 0.229 + 0.485, x[:, 1] * 0.224 + 0.456) or torch.allclose(
        x[:, 0] * 0.229 + 0.485, x[:, 1] * 0.224 + 0.456, atol=1e-6)
    assert batches(5, 2, shuffle=False) == [[0, 1], [2, 3], [4]]
    assert batches(7, 3, True, seed=1) == batches(7, 3, True, seed=1)


def test_param_groups_and_schedule():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3))
    decay, no_decay = param_groups(model.named_parameters(), 0.05)
    assert len(decay["params"]) == 1 and len(no_decay["params"]) == 3
    cfg = FitConfig(epochs=4, lr=1e-3, min_lr=1e-4, warmup_lr=0.0, warmup_steps=10)
    assert lr_at(cfg, 0, 0) == 0.0 and lr_at(cfg, 0, 5) == pytest.approx(5e-4) and lr_at(cfg, 0, 50) == 1e-3
    assert lr_at(cfg, 1, 99) == pytest.approx(1e-4 + 0.9e-3 * 0.5)


def test_schedule_matches_promptmrg_per_epoch():
    """Transcription of PromptMRG ``modules/optims.py`` + trainer (epochs 1..E): epoch 1 warms up, epoch
    e >= 2 runs at min + (init - min)·½(1 + cos(π e / E)); the last epoch is at min_lr."""
    epochs, init, low, start, warm = 5, 5e-5, 5e-6, 5e-7, 20

    def original(e: int, step: int) -> float:
        if e == 1:
            return min(init, start + (init - start) * step / max(warm, 1))
        return (init - low) * 0.5 * (1.0 + math.cos(math.pi * e / epochs)) + low

    cfg = FitConfig(epochs=epochs, lr=init, min_lr=low, warmup_lr=start, warmup_steps=warm)
    for e in range(1, epochs + 1):
        for step in (0, 7, 20, 300):
            assert lr_at(cfg, e - 1, step) == pytest.approx(original(e, step), rel=1e-12), (e, step)
    assert lr_at(cfg, epochs - 1, 0) == pytest.approx(low)


def test_fit_precision_is_recorded(tmp_path):
    """``precision: bf16`` autocasts training steps on CUDA only; the facts say what ran."""
    model = torch.nn.Linear(4, 1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    seen = []

    def step(_):
        out = model(x)
        seen.append(out.dtype)
        return {"loss": torch.nn.functional.mse_loss(out, y)}

    cfg = FitConfig(epochs=1, lr=0.01, warmup_steps=0, precision="bf16", save_every=None)
    facts = fit(model, step, lambda e: range(2), cfg, RunContext(run_dir=tmp_path))
    want = "bf16-autocast" if next(model.parameters()).is_cuda else "fp32"
    assert facts["precision"] == want and seen[0] == torch.float32
    with pytest.raises(ValueError, match="precision"):
        fit(model, step, lambda e: range(1), FitConfig(precision="fp8"), RunContext(run_dir=tmp_path / "b"))


def test_fit_decreases_loss_and_is_seeded(tmp_path):
    def run():
        seed_everything(3, deterministic=True)
        model = torch.nn.Linear(4, 1)
        x, y = torch.randn(16, 4), torch.randn(16, 1)

        def step(_):
            return {"loss": torch.nn.functional.mse_loss(model(x), y)}

        cfg = FitConfig(epochs=3, lr=0.05, warmup_steps=0, clip_value=None)
        return fit(model, step, lambda e: range(5), cfg, RunContext(run_dir=tmp_path))

    facts = run()
    losses = [e["loss"] for e in facts["epochs"]]
    assert facts["steps"] == 15 and losses[-1] < losses[0]
    assert run()["epochs"] == facts["epochs"]


class _Killed(Exception):
    pass


def test_fit_resumes_bit_identically_after_an_interruption(tmp_path):
    """Kill the loop mid-epoch (after a save), start it again on a fresh model: same weights, losses, state."""

    def run(resume_dir, kill_at=None):
        seed_everything(5, deterministic=True)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))
        x, y = torch.randn(40, 4), torch.randn(40, 1)
        calls = [0]
        owner = {"seen": 0}

        def step(idx):
            calls[0] += 1
            if calls[0] == kill_at:
                raise _Killed
            owner["seen"] += len(idx)
            return {"loss": torch.nn.functional.mse_loss(model(x[idx]), y[idx])}

        cfg = FitConfig(epochs=3, lr=0.05, warmup_steps=2, clip_value=None, save_every=3)
        ctx = RunContext(run_dir=tmp_path, resume_dir=resume_dir)
        facts = fit(model, step, lambda e: batches(40, 8, True, e), cfg, ctx,
                    state_hooks=(lambda: dict(owner), owner.update))
        return facts, model, owner

    plain, plain_model, plain_owner = run(None)
    resume_dir = tmp_path / "state"
    resume_dir.mkdir()
    with pytest.raises(_Killed):
        run(resume_dir, kill_at=8)  # epoch 2, batch 3: the last save was after step 6
    resumed, model, owner = run(resume_dir)
    assert resumed["steps"] == plain["steps"] == 15
    assert resumed["epochs"] == plain["epochs"]
    assert owner == plain_owner == {"seen": 120}
    for a, b in zip(model.parameters(), plain_model.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_roundtrip_and_errors(tmp_path):
    model = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path / "c.pt", {"model": model.state_dict(), "prior": [0.1, 0.2], "name": "x"})
    state = load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(state["model"]["weight"], model.weight) and state["prior"] == [0.1, 0.2]
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RRGBenchError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(RRGBenchError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")


def test_state_priors():
    states = np.array([[1, 0], [2, 0], [1, 3], [0, 0]])
    pri = state_priors(states, floor=0.0)
    assert pri.shape == (4, 2) and np.allclose(pri.sum(0), 1)
    assert pri[1, 0] == 0.5 and pri[3, 1] == 0.25
