"""RadScribe plugin: tiny CPU runs on a toy dataset whose images encode the reported findings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from rrgbench.api import Dataset, RRGBenchError, RunContext, Sample

SENT = {
    "cardio": ("the heart is enlarged .", "the heart size is normal ."),
    "effusion": ("there is a right pleural effusion .", "no pleural effusion ."),
    "opacity": ("there is a left lower lobe opacity .", "the lungs are clear ."),
}


class ToyDataset(Dataset):
    """Findings drawn into grey images (big heart, bright base, patch); reports from fixed sentences."""

    name = "toy"
    cleaning = "r2gen_iu"

    def __init__(self, n_train: int = 48, n_val: int = 8, n_test: int = 8, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self._splits: dict[str, list[Sample]] = {}
        self.flags: dict[str, np.ndarray] = {}
        for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
            rows = []
            for i in range(n):
                flags = rng.random(3) < 0.4
                sid = f"{split}{i}"
                self.flags[sid] = flags
                text = " ".join(SENT[k][0 if f else 1] for k, f in zip(SENT, flags))
                rows.append(Sample(id=sid, report=text.capitalize(), image_paths=(f"/toy/{sid}.png",), split=split,
                                   meta={"labels": flags.astype(int).tolist()}))
            self._splits[split] = rows

    def prepare(self) -> None:
        pass

    def split(self, name: str) -> list[Sample]:
        return list(self._splits[name])

    def manifest_hash(self) -> str:
        return hashlib.sha256(b"toy").hexdigest()

    def load_images(self, sample: Sample, size: int) -> np.ndarray:
        flags = self.flags[sample.id]
        rng = np.random.default_rng(int(hashlib.sha256(sample.id.encode()).hexdigest()[:8], 16))
        img = rng.normal(0.3, 0.05, (size, size)).astype(np.float32)
        yy, xx = np.mgrid[0:size, 0:size] / size
        r = 0.25 if flags[0] else 0.12
        img[(yy - 0.55) ** 2 + (xx - 0.5) ** 2 < r * r] += 0.4
        if flags[1]:
            img[int(size * 0.75):, : size // 2] += 0.4
        if flags[2]:
            img[int(size * 0.5):int(size * 0.7), size // 2:] += 0.3
        return np.clip(img, 0, 1)[None]


class PoisonSample(Sample):
    """A sample whose reference report cannot be read: generate() must not touch it."""

    def __getattribute__(self, name: str):
        if name == "report":
            raise AssertionError("generate() read sample.report")
        return super().__getattribute__(name)


class NoPeekMeta(dict):
    def __getitem__(self, key):
        raise AssertionError(f"generate() read sample.meta[{key!r}]")

    def get(self, key, default=None):
        raise AssertionError(f"generate() read sample.meta.get({key!r})")


def assert_generate_ignores_references(method, data) -> None:
    """Generating for the test split with unreadable reports and metadata gives the same reports."""
    test = data.split("test")
    poisoned = [PoisonSample(id=s.id, report="", image_paths=s.image_paths, split=s.split, meta=NoPeekMeta())
                for s in test]
    assert method.generate(poisoned, data) == method.generate(test, data)


@pytest.fixture(scope="module")
def data() -> ToyDataset:
    return ToyDataset()


def make(tmp_path: Path, **overrides):
    from rrgbench_plugins.methods.radscribe.method import RadScribe

    torch.set_num_threads(1)
    cfg = RadScribe.default_config("tiny", "toy")
    cfg.update({"epochs": 2, "batch_size": 8, **overrides})
    return RadScribe(cfg, RunContext(run_dir=tmp_path, seed=3, preset="tiny"))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    method = make(tmp_path_factory.mktemp("rs"))
    method.prepare(data)
    facts = method.train("train", data)
    return method, facts


def test_train_facts_and_generation(trained, data):
    method, facts = trained
    assert facts["steps"] == 12 and len(facts["epochs"]) == 2
    assert facts["epochs"][1]["lm"] < facts["epochs"][0]["lm"]
    # label-head thresholds tuned on the validation split, one per observation
    assert len(facts["label_thresholds"]) == 14 and all(0 < t < 1 for t in facts["label_thresholds"])
    out = method.generate(data.split("test"), data)
    assert len(out) == 8 and all(isinstance(r, str) and r for r in out)
    assert method.ctx.substitutes  # tiny preset records its fidelity gap


def test_save_load_round_trip(trained, data, tmp_path):
    method, _ = trained
    before = method.generate(data.split("test"), data)
    method.save(tmp_path / "ck")
    again = make(tmp_path)
    again.load(tmp_path / "ck")
    assert again.generate(data.split("test"), data) == before


def test_load_rejects_missing_checkpoint(tmp_path):
    with pytest.raises(RRGBenchError, match="meta.json"):
        make(tmp_path).load(tmp_path / "nothing")


def test_training_is_deterministic(data, tmp_path):
    runs = []
    for i in range(2):
        method = make(tmp_path / str(i), epochs=1)
        method.prepare(data)
        facts = method.train("train", data)
        runs.append((facts["epochs"], method.generate(data.split("test")[:4], data)))
    assert runs[0] == runs[1]


def test_loss_decreases_on_fixed_batch(data, tmp_path):
    from rrgbench_plugins.methods.radscribe.text import target_ids

    from rrgbench.text import clean

    method = make(tmp_path)
    method.prepare(data)
    model = method._build(pretrained=True)
    batch = data.split("train")[:8]
    images = method._images(batch, data)
    lid, lmask = method._label_tensors(["'Cardiomegaly'"] * 8)
    tgt = torch.from_numpy(target_ids([clean(s.report, "r2gen_iu") for s in batch], method.decoder_codec, 80))
    pos = torch.zeros(8, 14)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    for _ in range(8):
        loss = model.loss(images, lid, lmask, tgt, pos, 1.0)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_ground_truth_never_reaches_generate(trained, data):
    method, _ = trained
    assert_generate_ignores_references(method, data)
    test = data.split("test")
    # the label text fed to the fusion encoder is the label head's prediction from the image alone
    model = method.model
    with torch.no_grad():
        logits = model.encode_image(method._images(test, data))[2]
    assert method.last_label_texts == method._predicted_label_texts(logits)


def test_label_source_none_and_encoders(data, tmp_path):
    for encoder in ("vit", "densenet121"):
        method = make(tmp_path / encoder, img_encoder=encoder, label_source="none", max_steps=2, epochs=1)
        method.prepare(data)
        method.train("train", data)
        assert method.model.label_head is None and not method.model.fusion.cross_layers
        assert len(method.generate(data.split("test")[:2], data)) == 2


def test_densenet121_has_the_reference_size():
    from rrgbench_plugins.methods.radscribe.densenet import DenseNet

    net = DenseNet()
    assert net.out_channels == 1024
    assert sum(p.numel() for p in net.parameters()) == 6_953_856  # torchvision densenet121().features
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 1024, 2, 2)


def test_decode_schedules():
    from rrgbench_plugins.methods.radscribe.decoding import decoding_params, original_schedule
    from rrgbench_plugins.methods.radscribe.method import RadScribe

    cfg = RadScribe.default_config("paper", "iu_xray")
    assert decoding_params(cfg, 20)["do_sample"] is False and cfg["decoding"]["num_beams"] == 5
    assert original_schedule(0)["num_beams"] == 2 and not original_schedule(0)["do_sample"]
    assert original_schedule(6)["do_sample"] and original_schedule(6)["num_beams"] == 5
    assert decoding_params({**cfg, "decode_schedule": "original"}, 10)["do_sample"] is True
    with pytest.raises(RRGBenchError):
        decoding_params({**cfg, "decode_schedule": "nope"}, 1)


def _tiny_local_assets(root: Path) -> dict[str, str]:
    """Tiny stand-ins for MedViLL, ClinicalT5 (+ tokenizer) and ViT-in21k saved the way users would supply them."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        BertConfig,
        BertModel,
        PreTrainedTokenizerFast,
        T5Config,
        T5ForConditionalGeneration,
        ViTConfig,
        ViTModel,
    )

    words = sorted({w for s in SENT.values() for t in s for w in t.split()})
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(["<pad>", "</s>", "<unk>", *words])}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    t5_dir = root / "clinical-t5"
    hf_tok.save_pretrained(str(t5_dir))
    T5ForConditionalGeneration(T5Config(vocab_size=len(hf_tok), d_model=32, d_ff=64, d_kv=16, num_layers=1,
                                        num_heads=2, decoder_start_token_id=0)).save_pretrained(str(t5_dir))
    vit_dir = root / "vit"
    ViTModel(ViTConfig(image_size=32, patch_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=64), add_pooling_layer=False).save_pretrained(str(vit_dir))
    medvill = root / "medvill"
    medvill.mkdir()
    from rrgbench_plugins.methods.common.tokenizer import BASE_SPECIAL

    vocab = [*BASE_SPECIAL, *words, "'", ",", "cardiomegaly", "lung", "opacity", "pleural", "effusion"]
    (medvill / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    bert_cfg = BertConfig(vocab_size=len(dict.fromkeys(vocab)), hidden_size=32, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    bert_cfg.save_pretrained(str(medvill))
    bert = BertModel(bert_cfg, add_pooling_layer=False)
    state = {"enc.txt_" + k if k.startswith("embeddings.") else "enc." + k: v for k, v in bert.state_dict().items()}
    torch.save(state, medvill / "pytorch_model.bin")
    return {"clinical-t5": str(t5_dir), "vit-base-patch16-224-in21k": str(vit_dir), "medvill": str(medvill)}


def test_paper_preset_loads_local_pretrained_assets(data, tmp_path, monkeypatch):
    from rrgbench_plugins.methods.radscribe.method import RadScribe

    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "empty"))
    assets = _tiny_local_assets(tmp_path)
    cfg = RadScribe.default_config("paper", "toy")
    cfg.update({"assets": assets, "img_size": 64, "num_image_embeds": 4, "label_seq_len": 20, "epochs": 1,
                "batch_size": 8, "grad_accum": 1, "max_steps": 2, "vit_frozen_layers": 1,
                "decoding": {**cfg["decoding"], "num_beams": 2, "max_new_tokens": 8, "min_new_tokens": 0}})
    method = RadScribe(cfg, RunContext(run_dir=tmp_path, seed=0, preset="paper"))
    method.prepare(data)
    model = method._build(pretrained=True)
    from transformers import T5ForConditionalGeneration, ViTModel

    t5 = T5ForConditionalGeneration.from_pretrained(assets["clinical-t5"])
    assert torch.equal(model.decoder.lm_head.weight, t5.lm_head.weight)
    vit = ViTModel.from_pretrained(assets["vit-base-patch16-224-in21k"], add_pooling_layer=False)
    assert torch.equal(model.image_encoder.vit.encoder.layer[1].output.dense.weight, vit.encoder.layer[1].output.dense.weight)
    assert not model.image_encoder.vit.encoder.layer[0].output.dense.weight.requires_grad  # lower block frozen
    medvill = torch.load(Path(assets["medvill"]) / "pytorch_model.bin", weights_only=True)
    assert torch.equal(model.fusion.encoder.layer[0].output.dense.weight, medvill["enc.encoder.layer.0.output.dense.weight"])
    assert set(method.ctx.substitutes) == {"t5-base", "bert-base-uncased"}  # looked up, not needed
    method.train("train", data)
    before = method.generate(data.split("test")[:3], data)
    method.save(tmp_path / "ck")
    again = RadScribe(cfg, RunContext(run_dir=tmp_path, seed=0, preset="paper"))
    again.load(tmp_path / "ck")  # rebuilt from the saved configs, without reading the assets
    assert again.generate(data.split("test")[:3], data) == before
