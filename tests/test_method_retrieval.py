"""Retrieval baseline: encoder supervision, nearest-neighbour bank, and the Method life cycle."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from rrgbench_plugins.methods.common.labels import report_states
from rrgbench_plugins.methods.common.report_encoder import bow_targets, bow_vocabulary
from rrgbench_plugins.methods.common.synthetic import SyntheticDataset
from rrgbench_plugins.methods.retrieval.method import Retrieval

from rrgbench.api import RRGBenchError, RunContext

torch.set_num_threads(1)


def tiny_config(**overrides):
    cfg = Retrieval.default_config("tiny", "iu_xray_synthetic")
    cfg.update({"image_size": 32, "train_resize": 36, "epochs": 1, "batch_size": 8, "bow_size": 16})
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="module")
def data():
    ds = SyntheticDataset(n=16, seed=2)
    ds.prepare()
    return ds


def make(tmp_path, data, seed=0, **overrides):
    method = Retrieval(tiny_config(**overrides), RunContext(run_dir=tmp_path, seed=seed))
    method.prepare(data)
    return method


def test_bag_of_words_vocabulary_and_targets():
    reports = ["a b . a", "b c .", "b d ."]
    vocab = bow_vocabulary(reports, 3)
    assert vocab == ["b", "a", "c"]  # by document frequency, ties alphabetical; "." excluded
    assert bow_targets(reports, vocab).tolist() == [[1, 1, 0], [1, 0, 1], [1, 0, 0]]


def test_labeler_states_used_for_training():
    states = report_states(["the heart is enlarged .", "no pleural effusion ."])
    assert states.shape == (2, 14)
    assert states[0, 1] == 1 and states[1, 9] == 2  # cardiomegaly positive; effusion negative


def test_train_generate_save_load_roundtrip(tmp_path, data):
    method = make(tmp_path, data)
    facts = method.train("train", data)
    assert facts["steps"] == 2 and facts["bank_size"] == 16
    train, test = data.split("train"), data.split("test")
    # every training study is its own nearest neighbour (the bank holds exactly their embeddings)
    assert method.nearest(train, data) == list(range(len(train)))
    reports = method.generate(test, data)
    assert set(reports) <= {" ".join(s.report.split()) for s in train}
    assert method.generate([dataclasses.replace(s, report="") for s in test], data) == reports
    method.save(tmp_path / "ckpt")
    again = Retrieval(tiny_config(), RunContext(run_dir=tmp_path, seed=9))
    again.load(tmp_path / "ckpt")
    assert again.generate(test, data) == reports
    (tmp_path / "ckpt" / "bank.json").unlink()
    with pytest.raises(RRGBenchError, match="bank.json"):
        again.load(tmp_path / "ckpt")


def test_loss_decreases_on_a_fixed_batch(tmp_path, data):
    method = make(tmp_path, data)
    train = data.split("train")[:8]
    states = torch.from_numpy(report_states([s.report for s in train]))
    bow = bow_targets([s.report for s in train], method.bow_vocab)
    images = method._images(train, data, train=False)
    optimizer = torch.optim.Adam(method.encoder.parameters(), lr=3e-3)
    method.encoder.train()
    losses = []
    for _ in range(15):
        loss = method.encoder.losses(images, states, bow, 1.0)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_output(tmp_path, data):
    runs = []
    for sub in ("a", "b"):
        method = make(tmp_path / sub, data, seed=3)
        facts = method.train("train", data)
        runs.append((facts["epochs"], method.bank.tolist(), method.generate(data.split("test"), data)))
    assert runs[0] == runs[1]


def test_generate_before_training_is_an_error(tmp_path, data):
    with pytest.raises(RRGBenchError, match="before train"):
        make(tmp_path, data).generate(data.split("test")[:2], data)
