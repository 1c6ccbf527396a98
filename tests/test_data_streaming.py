"""Images streamed through torch.utils.data: same crops with 0 or 2 workers as the in-RAM path, nothing kept
in RAM with ``image_cache: false``, training identical either way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rrgbench_plugins.methods.common.batching import StudyCrops, crop_loader, crop_offsets
from rrgbench_plugins.methods.common.synthetic import SyntheticDataset, smoke_config
from rrgbench_plugins.methods.osrrg.method import OSRRG
from test_data_layout import iu, make_layout

from rrgbench.api import RunContext

torch.set_num_threads(1)


def _family(tmp_path: Path, data: SyntheticDataset, **overrides) -> OSRRG:
    cfg = smoke_config(OSRRG.default_config("tiny", "synthetic"), load_size=40, **overrides)
    method = OSRRG(cfg, RunContext(run_dir=tmp_path, seed=0))
    method.prepare(data)
    return method


def test_streamed_batches_equal_the_in_ram_path_for_any_worker_count(tmp_path: Path) -> None:
    data = SyntheticDataset(n=12)
    ram = _family(tmp_path / "a", data)
    plan = [([3, 1, 7, 0], 11), ([2, 5], 12), ([11, 4, 9], 13)]
    expected = [ram.images([ram.train_samples[i] for i in idx], data, train=True, seed=seed) for idx, seed in plan]
    assert not torch.equal(expected[0][0], ram.images([ram.train_samples[3]], data, train=False)[0])  # cropped
    for workers in (0, 2):
        streamed = _family(tmp_path / f"w{workers}", data, image_cache=False, loader_workers=workers)
        got = [b["images"] for b in streamed.streamed_train_batches(plan, data)]
        assert all(torch.equal(g, e) for g, e in zip(got, expected, strict=True))
        assert [b["idx"].tolist() for b in streamed.streamed_train_batches(plan[:1], data)] == [plan[0][0]]
        assert streamed._image_cache == {}
    one = _family(tmp_path / "one", data, image_cache=False)
    assert torch.equal(one.images([one.train_samples[i] for i in plan[1][0]], data, True, plan[1][1]), expected[1])
    assert one._image_cache == {}


def test_training_streams_without_keeping_images_and_learns_the_same(tmp_path: Path) -> None:
    data = SyntheticDataset(n=8)
    ram = _family(tmp_path / "ram", data)
    streamed = _family(tmp_path / "stream", data, image_cache=False, loader_workers=2)
    stage = OSRRG.stages[0]
    facts_ram, facts_stream = ram.train(stage, data), streamed.train(stage, data)
    assert facts_stream["epochs"] == facts_ram["epochs"]
    assert ram._image_cache and streamed._image_cache == {}


def test_loader_over_the_disk_cache_with_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "iu"
    make_layout(root)
    ds = iu(root)
    train = ds.split("train")
    crops = StudyCrops(train, ds, 40, 32, view=1)
    plan = [[(i, top, left) for i, (top, left) in zip(idx, crop_offsets(len(idx), 40, 32, True, seed))]
            for idx, seed in (([0, 2, 4], 1), ([5, 1], 2), ([3], 3))]
    serial = list(crop_loader(crops, plan))
    parallel = list(crop_loader(crops, plan, workers=2, prefetch=1))
    assert [b.shape for b in serial] == [(3, 32, 32), (2, 32, 32), (1, 32, 32)]
    assert all(torch.equal(a, b) for a, b in zip(serial, parallel, strict=True))
    x = ds.load_images(train[0], 40)[1]
    top, left = plan[0][0][1:]
    assert torch.equal(serial[0][0], torch.from_numpy(x[top:top + 32, left:left + 32].copy()).half())
