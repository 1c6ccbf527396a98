"""RadVision plugin: a tiny random Qwen2.5-VL trained in three LoRA stages on the toy dataset (CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_method_radscribe import ToyDataset, assert_generate_ignores_references

from rrgbench.api import RRGBenchError, RunContext, UnavailableError


@pytest.fixture(scope="module")
def data() -> ToyDataset:
    return ToyDataset()


def make(tmp_path: Path, preset: str = "tiny", **overrides):
    from rrgbench_plugins.methods.radvision.method import RadVision

    torch.set_num_threads(1)
    cfg = RadVision.default_config(preset, "toy")
    labels = overrides.pop("vision_labels", {})
    cfg.update({"batch_size": 8, "image_size": 112, "epochs": {"vision": 1, "projector": 1, "llm": 2}, **overrides})
    if cfg["vision_labels"]:
        cfg["vision_labels"] = {**cfg["vision_labels"], "steps": 6, "batch_size": 8, "warmup": 1, **labels}
    return RadVision(cfg, RunContext(run_dir=tmp_path, seed=5, preset=preset))


def run_all(method, data) -> dict:
    method.prepare(data)
    return {stage: method.train(stage, data) for stage in method.stages}


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    method = make(tmp_path_factory.mktemp("rv"))
    return method, run_all(method, data)


def test_three_stages_train_their_own_parameters(trained):
    method, facts = trained
    # tiny preset: vision tower + merger learn the reports' labels, the projector stage is skipped, the llm
    # stage trains the language model only (the notebook's split)
    assert facts["projector"] == {"skipped": True}
    assert facts["vision"]["objective"] == "report_labels" and facts["vision"]["steps"] == 6
    assert facts["llm"]["steps"] == 12 and facts["llm"]["train_loss"][-1] < facts["llm"]["train_loss"][0]
    visual = sum(p.numel() for n, p in method.model.named_parameters() if "visual" in n)
    assert facts["vision"]["trainable_params"] == visual
    assert facts["llm"]["trainable_params"] == sum(p.numel() for p in method.model.parameters()) - visual


def test_paper_preset_keeps_the_notebook_stages():
    from rrgbench_plugins.methods.radvision.method import RadVision

    cfg = RadVision.default_config("paper", "iu_xray")
    assert cfg["stages"] == ["vision", "projector", "llm"] and cfg["vision_objective"] == "lm"
    assert cfg["stage_components"] == {"vision": ["vision"], "projector": ["projector"], "llm": ["llm"]}
    assert cfg["warmup_steps"] == 0 and not cfg["cosine"] and cfg["lr"] == 1e-4


def test_vision_stage_learns_report_labels_and_leaves_the_llm_alone(data, tmp_path):
    """The label objective trains tower + merger only, and its loss falls well below where it starts."""
    method = make(tmp_path, stages=["vision"], vision_labels={"steps": 40, "lr": 3e-3})
    method.prepare(data)
    method._ensure_model()
    before = {n: p.detach().clone() for n, p in method.model.named_parameters()}
    facts = method.train("vision", data)
    changed = {n for n, p in method.model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all("visual" in n for n in changed)
    assert facts["label_loss_last"] < 0.6 * facts["label_loss_first"]


def test_lr_schedule():
    from rrgbench_plugins.methods.radvision.vision_labels import lr_factor

    assert lr_factor(0, 100, 10, False) == pytest.approx(0.1) and lr_factor(50, 100, 10, False) == 1.0
    assert lr_factor(50, 100, 0, True) == pytest.approx(0.5) and lr_factor(100, 100, 0, True) == pytest.approx(0.0)


def test_stage_selection_by_component():
    from rrgbench_plugins.methods.radvision.stages import component, select_stage

    assert component("base_model.model.model.visual.merger.mlp.0.lora_A.default.weight") == "projector"
    assert component("base_model.model.model.visual.blocks.0.attn.qkv.weight") == "vision"
    assert component("base_model.model.lm_head.weight") == "llm"
    model = torch.nn.Module()
    model.visual = torch.nn.Linear(2, 2)
    with pytest.raises(RRGBenchError):
        select_stage(model, "decoder")


def test_lora_only_mode_and_skipped_stage(data, tmp_path):
    method = make(tmp_path, stage_params="lora", stages=["llm"], max_steps=1, stage_components={"llm": ["llm"]})
    facts = run_all(method, data)
    assert facts["vision"] == {"skipped": True} and facts["projector"] == {"skipped": True}
    trainable = [n for n, p in method.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "visual" not in n for n in trainable)


def test_prompt_and_image_tokens_are_masked(trained, data):
    method, _ = trained
    batch = method.chat.train_batch(method._grey(data.split("train")[:2], data), ["the heart is enlarged .", "x"])
    image_id = method.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    labels, ids = batch["labels"], batch["input_ids"]
    assert (ids == image_id).sum() == 2 * 16  # 112 px -> 8x8 patches -> 2x2 merge -> 16 tokens per image
    assert (labels[ids == image_id] == -100).all()
    supervised = method.tokenizer.decode(labels[0][labels[0] != -100])
    assert supervised == "the heart is enlarged . <|im_end|>"
    # training and inference use one prompt: the generation prompt is the training prefix
    gen = method.chat.generation_batch(method._grey(data.split("train")[:1], data))["input_ids"][0]
    assert gen.tolist() == ids[0][: len(gen)].tolist()


def test_save_load_round_trip(trained, data, tmp_path):
    method, _ = trained
    before = method.generate(data.split("test"), data)
    assert len(before) == 8 and any(before)
    method.save(tmp_path / "ck")
    again = make(tmp_path)
    again.load(tmp_path / "ck")
    assert again.generate(data.split("test"), data) == before


def test_training_is_deterministic(data, tmp_path):
    runs = []
    for i in range(2):
        method = make(tmp_path / str(i), max_steps=2)
        facts = run_all(method, data)
        runs.append((facts, method.generate(data.split("test")[:3], data)))
    for stage in ("vision", "projector", "llm"):
        runs[0][0][stage].pop("seconds", None)
        runs[1][0][stage].pop("seconds", None)
    assert runs[0] == runs[1]


def test_ground_truth_never_reaches_generate(trained, data):
    method, _ = trained
    assert_generate_ignores_references(method, data)


def test_paper_preset_refuses_without_weights(data, tmp_path, monkeypatch):
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "models"))
    method = make(tmp_path, preset="paper")
    with pytest.raises(UnavailableError, match="Lingshu-7B"):
        method.prepare(data)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU refusal")
def test_paper_preset_refuses_without_gpu(data, tmp_path, monkeypatch):
    (tmp_path / "models" / "lingshu-7b").mkdir(parents=True)
    (tmp_path / "models" / "lingshu-7b" / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "models"))
    with pytest.raises(UnavailableError, match="CUDA"):
        make(tmp_path, preset="paper").prepare(data)


def test_loss_decreases_on_fixed_batch(data, tmp_path):
    from rrgbench_plugins.methods.radvision.stages import select_stage

    method = make(tmp_path)
    method.prepare(data)
    method._ensure_model()
    batch = method.chat.train_batch(method._grey(data.split("train")[:8], data),
                                    [s.report.lower() for s in data.split("train")[:8]])
    select_stage(method.model, "llm")
    opt = torch.optim.AdamW([p for p in method.model.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    for _ in range(6):
        loss = method.model(**batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_paper_processor_builds_without_torchvision(tmp_path):
    """The paper path's processor: Qwen2-VL image processor + tokenizer + chat template, no video processor
    (transformers' Qwen2.5-VL AutoProcessor needs torchvision for that), from a local directory."""
    import importlib.util

    from rrgbench_plugins.methods.radvision.backend import (
        LocalProcessor,
        tiny_image_processor,
        train_tokenizer,
    )
    from rrgbench_plugins.methods.radvision.chat import processor_chat_prompt

    tok = train_tokenizer(["no acute disease", "heart size normal"], 200, "Describe the findings")
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{% for c in m.content %}"
                         "{% if c.type == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
                         "{% else %}{{ c.text }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tok.save_pretrained(tmp_path)
    tiny_image_processor(112).save_pretrained(tmp_path)
    processor = LocalProcessor(tmp_path)
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessor"
    text = processor_chat_prompt(processor)("Describe the findings")
    assert text.startswith("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe")
    assert text.endswith("<|im_start|>assistant\n")
    if importlib.util.find_spec("torchvision") is None:
        import sys

        assert "torchvision" not in sys.modules
    (tmp_path / "tokenizer_config.json").unlink()
    (tmp_path / "tokenizer.json").unlink()
    with pytest.raises(RRGBenchError, match="cannot load the Qwen2.5-VL image processor / tokenizer"):
        LocalProcessor(tmp_path)
