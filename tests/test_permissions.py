"""Files rrgbench writes keep the permissions the umask gives (0644 under umask 022): run records,
prepared data and the leaderboard site are readable by a web server or a lab-mate."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_leaderboard import standard_runs

from rrgbench.io import atomic_write_json


@pytest.fixture
def umask022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _modes(root: Path) -> set[str]:
    return {oct(stat.S_IMODE(p.stat().st_mode)) for p in root.rglob("*") if p.is_file()}


def test_atomic_writes_follow_the_umask(tmp_path: Path, umask022: None) -> None:
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    assert oct(stat.S_IMODE((tmp_path / "a.json").stat().st_mode)) == "0o644"
    os.umask(0o077)  # a user who wants private files still gets them
    atomic_write_json(tmp_path / "b.json", {"x": 1})
    assert oct(stat.S_IMODE((tmp_path / "b.json").stat().st_mode)) == "0o600"
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_site_run_records_and_prepared_data_are_world_readable(tmp_path: Path, umask022: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.data.imagecache import _write_shard
    from rrgbench.leaderboard import build_site
    from rrgbench.plugins import get_host

    monkeypatch.setenv("RRGBENCH_DATA", str(tmp_path / "data"))
    runs = standard_runs(tmp_path)
    assert _modes(runs) == {"0o644"}
    build_site(runs, tmp_path / "site")
    assert _modes(tmp_path / "site") == {"0o644"}
    data = get_host().datasets.get("synthetic")(n_studies=12, size=32)
    data.prepare()
    _write_shard(tmp_path / "data" / "cache.npy", np.zeros(3))
    assert _modes(tmp_path / "data") == {"0o644"}
