"""``rrgbench cache clean`` lists (``--dry-run``) and deletes image caches of changed or missing data and
score-cache entries whose signature the installed metrics no longer give; current entries stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from test_data_layout import iu, make_layout

from rrgbench.data.imagecache import cache_location
from rrgbench.scoring import engine


def _fake_dir(path: Path, nbytes: int) -> Path:
    path.mkdir(parents=True)
    (path / "index.json").write_bytes(b"x" * nbytes)
    return path


def test_dry_run_lists_stale_entries_with_sizes_then_clean_deletes_only_them(
        tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("RRGBENCH_DATA", str(data))
    make_layout(data / "iu_xray")
    current = iu(data / "iu_xray").manifest_hash()
    keep_img = _fake_dir(cache_location("iu_xray", current, 64), 10)
    old_img = _fake_dir(cache_location("iu_xray", "0" * 64, 64), 3000)
    gone_img = _fake_dir(isolated_cache / "images" / f"no_such_dataset-{'a' * 16}-64", 200)
    engine.score(["token"], ["a"], ["no effusion"], ["small effusion"], bootstrap=0)  # a current entry
    scores = isolated_cache / "scores"
    (keep_sig,) = list(scores.iterdir())
    old_sig = _fake_dir(scores / "0123456789abcdef", 500)
    (old_sig / "signature.txt").write_text("metric:token|rrgbench:0.0.1|tok:split\n")
    env = {"RRGBENCH_CACHE": str(isolated_cache), "RRGBENCH_DATA": str(data), "RRGBENCH_RUNS": str(tmp_path / "runs")}

    dry = run_cli("cache", "clean", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    out = json.loads(dry.stdout)
    assert {Path(e["path"]) for e in out["entries"]} == {old_img, gone_img, old_sig}
    assert out["bytes"] == sum(e["bytes"] for e in out["entries"]) >= 3000 + 200 + 500 and out["freed_bytes"] == 0
    assert all(p.exists() for p in (keep_img, old_img, gone_img, keep_sig, old_sig))
    text = run_cli("cache", "clean", "--dry-run", env=env).stdout
    assert "would delete" in text and "nothing deleted" in text and "not registered" in text

    done = run_cli("cache", "clean", env=env)
    assert done.returncode == 0, done.stderr
    assert "3 stale cache entries" in done.stdout
    assert keep_img.exists() and keep_sig.exists()
    assert not old_img.exists() and not gone_img.exists() and not old_sig.exists()
    again = json.loads(run_cli("cache", "clean", "--json", env=env).stdout)
    assert again["entries"] == []
