"""The on-disk decoded image cache: sharded, location-independent, and resumable after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_data_layout import iu, make_layout

from rrgbench.data.imagecache import cache_location

# Builds the train cache of the layout at argv[1] with one study per shard and a slow decoder, printing
# nothing; the parent kills it with SIGKILL part-way.
BUILDER = """
import sys, time
import rrgbench.data.imagecache as ic
from rrgbench.plugins import get_host
ic.SHARD_BYTES = 2 * 32 * 32  # one study (2 views at 32 px) per shard
slow = float(sys.argv[2])
decode = ic.decode_views
def slow_decode(sample, size):
    time.sleep(slow)
    return decode(sample, size)
ic.decode_views = slow_decode
ds = get_host().datasets.get("iu_xray")(data_dir=sys.argv[1])
ds.image_cache("train", 32)
"""


def _build(root: Path, env: dict[str, str], slow: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BUILDER, str(root), str(slow)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_mid_build_resumes_to_an_identical_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "iu"
    make_layout(root)  # 6 train studies -> 6 shards
    env = {**os.environ, "RRGBENCH_DECODE_THREADS": "1"}
    ds = iu(root)
    directory = cache_location("iu_xray", ds.manifest_hash(), 32)
    proc = _build(root, env, slow=0.5)
    deadline = time.monotonic() + 120
    while len(list(directory.glob("train-*.npy"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = sorted(p.name for p in directory.glob("train-*.npy"))
    assert 2 <= len(done) < 6
    # the restart keeps the finished shards and continues
    mtimes = {n: (directory / n).stat().st_mtime_ns for n in done}
    proc = _build(root, env, slow=0.0)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert {n: (directory / n).stat().st_mtime_ns for n in done} == mtimes
    assert len(list(directory.glob("train-*.npy"))) == 6 and not list(directory.glob(".*.tmp"))
    # identical to a cache built in one go elsewhere
    other = {**env, "RRGBENCH_CACHE": str(tmp_path / "cache2")}
    proc = _build(root, other, slow=0.0)
    assert proc.wait(timeout=120) == 0
    again = cache_location("iu_xray", ds.manifest_hash(), 32).relative_to(tmp_path / "cache")
    for shard in sorted(directory.glob("*.npy")) + [directory / "index.json"]:
        assert shard.read_bytes() == (tmp_path / "cache2" / again / shard.name).read_bytes(), shard.name


def test_cache_is_sharded_read_lazily_and_survives_a_move(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("rrgbench.data.imagecache.SHARD_BYTES", 2 * 3 * 16 * 16)  # 3 studies per shard
    root = tmp_path / "a"
    make_layout(root)
    ds = iu(root)
    train = ds.split("train")
    first = [ds.load_images(s, 16) for s in train]
    cache = ds.image_cache("train", 16)
    assert len(list(cache.directory.glob("train-*.npy"))) == 2 and cache._shards.keys() <= {0, 1}
    moved = tmp_path / "b"
    root.rename(moved)

    def boom(*_a, **_k):
        raise AssertionError("decoded an image although the cache exists")

    monkeypatch.setattr("rrgbench.data.imagecache.decode_views", boom)
    ds2 = iu(moved)
    fresh = ds2.image_cache("train", 16)
    assert fresh.get(train[4].id) is not None and set(fresh._shards) == {1}  # only the shard it needed
    assert all(np.array_equal(ds2.load_images(s, 16), x) for s, x in zip(ds2.split("train"), first))


def test_image_cache_false_decodes_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRGBENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "iu"
    make_layout(root)
    ds = iu(root, image_cache=False)
    x = ds.load_images(ds.split("train")[1], 16)
    assert x.shape == (2, 16, 16) and not (tmp_path / "cache" / "images").exists()
