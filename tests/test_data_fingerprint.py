"""Dataset fingerprints do not depend on where the data sits; unchanged files are not read twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_data_layout import _png, iu, make_layout

from rrgbench.api import RRGBenchError
from rrgbench.rundir import load_record
from rrgbench.runner import Runner, build_spec

pytestmark = pytest.mark.usefixtures("isolated_cache")


def _no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail on any image read by the fingerprint (the annotation is always hashed)."""
    from rrgbench.io import sha256_file

    def boom(*_a, **_k):
        raise AssertionError("an image was read although its stat is cached")

    def annotation_only(path, *a):
        if Path(path).name != "annotation.json":
            boom()
        return sha256_file(path, *a)

    monkeypatch.setattr("rrgbench.data.manifest.sha256_file", annotation_only)
    monkeypatch.setattr("rrgbench.data.manifest.check_image", boom)
    monkeypatch.setattr("rrgbench.data.manifest.fast_digest", boom)


def test_same_data_in_two_places_and_through_a_symlink_has_one_fingerprint(tmp_path: Path) -> None:
    a = tmp_path / "a" / "iu"
    make_layout(a)
    h = iu(a).manifest_hash()
    b = tmp_path / "elsewhere" / "deeper" / "iu"
    shutil.copytree(a, b)
    assert iu(b).manifest_hash() == h
    # images/ as a symlink to a folder somewhere else (how the MIMIC import lays data out)
    c = tmp_path / "linked"
    c.mkdir()
    shutil.copy(a / "annotation.json", c / "annotation.json")
    shutil.move(str(b / "images"), tmp_path / "store")
    (c / "images").symlink_to(tmp_path / "store", target_is_directory=True)
    ds = iu(c)
    assert ds.manifest_hash() == h
    assert all(k.startswith("images/CXR") for k in ds.manifest()["images"])
    # content still counts: a changed image changes the fingerprint wherever the data is
    _png(tmp_path / "store" / "CXR3_IM-0003" / "1.png", 201)
    assert iu(c).manifest_hash() != h


def test_unchanged_and_moved_files_are_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = tmp_path / "a"
    make_layout(a)
    h = iu(a).manifest_hash()
    assert (tmp_path / "cache" / "file_hashes.sqlite").is_file()
    moved = tmp_path / "b"
    a.rename(moved)  # same filesystem: inodes and mtimes are kept
    with monkeypatch.context() as m:
        _no_reads(m)
        assert iu(moved).manifest_hash() == h
    # a touched file is read again
    _png(moved / "images" / "CXR0_IM-0000" / "0.png", 0)
    (moved / "images" / "CXR0_IM-0000" / "0.png").touch()
    assert iu(moved).manifest_hash() == h


def test_fast_mode_is_stable_distinct_and_named(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    full = iu(root).manifest()
    fast = iu(root, fingerprint="fast").manifest()
    assert fast["mode"] == "fast" and full["mode"] == "full"
    assert fast["hash"] != full["hash"] and fast["hash"] == iu(root, fingerprint="fast").manifest_hash()
    assert all(d.startswith("fast:") for d in fast["images"].values())
    _png(root / "images" / "CXR3_IM-0003" / "1.png", 201)
    assert iu(root, fingerprint="fast").manifest_hash() != fast["hash"]
    with pytest.raises(RRGBenchError, match="unknown fingerprint mode 'quick'"):
        iu(root, fingerprint="quick")


def test_run_reuses_finished_stages_after_the_data_moves(tmp_path: Path) -> None:
    src = tmp_path / "data" / "iu"
    make_layout(src)
    runs = tmp_path / "runs"
    spec = build_spec("majority", "iu_xray", metrics=("token",))
    run_dir = Runner(spec, runs, data_dir=src, bootstrap=10).run()
    first = load_record(run_dir)
    assert set(first["status"].values()) == {"done"}
    gen = run_dir / "generations.jsonl"
    mtime = gen.stat().st_mtime_ns
    dst = tmp_path / "moved" / "iu"
    dst.parent.mkdir()
    shutil.copytree(src, dst)  # a copy: new inodes, so the files are hashed again
    shutil.rmtree(src)
    Runner(spec, runs, data_dir=dst, bootstrap=10).run()
    again = load_record(run_dir)
    assert again["dataset"]["manifest_hash"] == first["dataset"]["manifest_hash"]
    assert again["timings"] == first["timings"] and gen.stat().st_mtime_ns == mtime
    assert "fingerprint" not in again["dataset"]  # the default mode is not written


def test_fast_mode_is_named_in_the_run_record(tmp_path: Path) -> None:
    src = tmp_path / "iu"
    make_layout(src)
    spec = build_spec("majority", "iu_xray", metrics=("token",), dataset_options={"fingerprint": "fast"})
    record = load_record(Runner(spec, tmp_path / "runs", data_dir=src, bootstrap=10).run())
    assert record["dataset"]["fingerprint"] == "fast"


def test_links_inside_images_that_leave_the_dataset_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    outside = tmp_path / "outside"
    _png(outside / "x.png", 5)
    target = root / "images" / "CXR2_IM-0002" / "1.png"
    target.unlink()
    target.symlink_to(outside / "x.png")
    with pytest.raises(RRGBenchError, match="CXR2_IM-0002.*escapes the data root"):
        iu(root).split("train")
    target.unlink()
    target.symlink_to(root / "images" / "CXR1_IM-0001" / "1.png")  # a link that stays inside is fine
    assert len(iu(root).split("train")) == 6
    shutil.rmtree(root / "images" / "CXR3_IM-0003")
    (root / "images" / "CXR3_IM-0003").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RRGBenchError, match="CXR3_IM-0003.*escapes the data root"):
        iu(root).split("train")


@pytest.mark.parametrize("rel", ["a/b.png", "a//b.png", "./a.png", "a/./b.png", "a/", "a/.", ".", "a/../b.png",
                                 ".hidden/x.png", "a/..b.png", "x.png", "a\\b.png"])
def test_image_keys_are_the_pathlib_form(rel: str) -> None:
    from rrgbench.data.manifest import _images_key

    assert _images_key(rel) == Path("images", rel).as_posix()  # the key the fingerprint has always hashed
