"""The R2Gen layout loader on a small generated fixture: samples, sections, manifest, image cache, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rrgbench.api import RRGBenchError
from rrgbench.plugins import get_host

pytestmark = pytest.mark.usefixtures("isolated_cache")


def _png(path: Path, value: int, size: int = 40) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size, size + 8), value, dtype=np.uint8)
    arr[: size // 2] = 255 - value
    Image.fromarray(arr).save(path)


def make_layout(root: Path, n: int = 10) -> dict:
    """A tiny R2Gen IU-style layout: two PNG views per study, 6/2/2 split."""
    ann: dict[str, list] = {"train": [], "val": [], "test": []}
    for i in range(n):
        sid = f"CXR{i}_IM-{i:04d}"
        split = "train" if i < 6 else "val" if i < 8 else "test"
        for k in range(2):
            _png(root / "images" / sid / f"{k}.png", 20 * i + k)
        ann[split].append({"id": sid, "report": f"The heart is normal. Study {i}.", "impression": f"Normal {i}.",
                           "image_path": [f"{sid}/0.png", f"{sid}/1.png"], "split": split})
    write_ann(root, ann)
    return ann


def write_ann(root: Path, ann: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "annotation.json").write_text(json.dumps(ann), encoding="utf-8")


def iu(root: Path, **kw):
    return get_host().datasets.get("iu_xray")(data_dir=root, **kw)


def test_loads_splits_with_absolute_paths(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    ds = iu(root)
    ds.prepare()  # a user layout is already prepared: no-op
    train, val, test = ds.split("train"), ds.split("val"), ds.split("test")
    assert [len(train), len(val), len(test)] == [6, 2, 2]
    s = train[0]
    assert s.id == "CXR0_IM-0000" and s.report == "The heart is normal. Study 0." and s.split == "train"
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in s.image_paths)
    assert s.meta["impression"] == "Normal 0."
    assert ds.cleaning == "r2gen_iu" and not ds.credentialed


def test_sections(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    assert iu(root, section="impression").split("test")[0].report == "Normal 8."
    both = iu(root, section="findings_impression").split("test")[0].report
    assert both == "The heart is normal. Study 8. Normal 8."
    with pytest.raises(RRGBenchError, match="unknown report section"):
        iu(root, section="summary")


def test_manifest_hash_is_stable_and_tracks_images(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    h1 = iu(root).manifest_hash()
    assert h1 == iu(root).manifest_hash()
    assert iu(root).manifest()["n_images"] == 20
    _png(root / "images" / "CXR3_IM-0003" / "1.png", 200)
    assert iu(root).manifest_hash() != h1


def test_load_images_shape_range_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    ds = iu(root)
    s = ds.split("train")[2]
    x = ds.load_images(s, 32)
    assert x.shape == (2, 32, 32) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert abs(float(x[0, -1, 5]) - 40 / 255) < 0.02  # bottom half keeps the study's grey value
    from rrgbench.data.imagecache import cache_location

    cached = list(cache_location("iu_xray", ds.manifest_hash(), 32).glob("train-*.npy"))
    assert len(cached) == 1
    # a new dataset object reads the cache: no PNG is decoded again
    def boom(*_a, **_k):
        raise AssertionError("decoded a PNG although the cache exists")

    monkeypatch.setattr("rrgbench.data.imagecache.decode_views", boom)
    ds2 = iu(root)
    assert np.array_equal(ds2.load_images(s, 32), x)
    assert ds2.load_images(ds2.split("train")[5], 32).shape == (2, 32, 32)


# ---------------------------------------------------------------------------------------- bad input


def _bad(root: Path, mutate) -> tuple[Path, dict]:
    ann = make_layout(root)
    mutate(root, ann)
    if not (root / "annotation.json").read_bytes().startswith(b"RAW"):
        write_ann(root, ann)
    return root, ann


BAD_CASES = {
    "missing image": (lambda r, a: (r / "images" / "CXR1_IM-0001" / "0.png").unlink(), "CXR1_IM-0001", "not found"),
    "corrupt png": (lambda r, a: (r / "images" / "CXR2_IM-0002" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken"),
                    "CXR2_IM-0002", "corrupt image"),
    "empty report": (lambda r, a: a["train"][3].update(report="   "), "CXR3_IM-0003", "empty findings report"),
    "duplicate id": (lambda r, a: a["test"][0].update(id="CXR4_IM-0004"), "CXR4_IM-0004", "duplicate id"),
    "path escapes root": (lambda r, a: a["val"][0].update(image_path=["../../etc/passwd", "CXR6_IM-0006/1.png"]),
                          "CXR6_IM-0006", "escapes the data root"),
    "absolute path": (lambda r, a: a["val"][1].update(image_path=["/etc/hosts", "CXR7_IM-0007/1.png"]),
                      "CXR7_IM-0007", "absolute"),
    "no image_path": (lambda r, a: a["train"][5].pop("image_path"), "CXR5_IM-0005", "image_path"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_sample_raises_naming_sample_and_file_or_is_skipped(tmp_path: Path, case: str) -> None:
    mutate, sample_id, words = BAD_CASES[case]
    root, _ = _bad(tmp_path / "iu", mutate)
    with pytest.raises(RRGBenchError) as err:
        iu(root).split("train")
    msg = str(err.value)
    assert sample_id in msg and words in msg, msg
    assert "annotation.json" in msg or ".png" in msg
    ds = iu(root, skip_bad=True)
    n = sum(len(ds.split(s)) for s in ("train", "val", "test"))
    assert n == 9 and len(ds.skipped) == 1 and sample_id in ds.skipped[0]
    ds.manifest_hash()  # the remaining samples hash fine


def test_non_utf8_text_names_the_sample(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    raw = (root / "annotation.json").read_bytes().replace(b"Study 2.", b"Study \xff\xfe 2.")
    (root / "annotation.json").write_bytes(raw)
    with pytest.raises(RRGBenchError, match=r"CXR2_IM-0002.*not valid UTF-8"):
        iu(root).split("train")
    ds = iu(root, skip_bad=True)
    assert len(ds.split("train")) == 5 and "CXR2_IM-0002" in ds.skipped[0]


@pytest.mark.parametrize(("content", "words"), [
    (b"{\"train\": [", "not valid JSON"),
    (b"[1, 2]", "expected an object"),
    (b"{\"train\": [], \"val\": [], \"    \": []}", "missing split(s) test"),
    (b"{\"train\": {}, \"val\": [], \"test\": []}", "must be a list"),
])
def test_malformed_annotation(tmp_path: Path, content: bytes, words: str) -> None:
    root = tmp_path / "iu"
    make_layout(root)
    (root / "annotation.json").write_bytes(content)
    with pytest.raises(RRGBenchError, match="annotation.json") as err:
        iu(root, skip_bad=True).split("train")
    assert words in str(err.value)


def test_missing_annotation_explains_how_to_prepare(tmp_path: Path) -> None:
    with pytest.raises(RRGBenchError, match="rrgbench data prepare iu_xray"):
        iu(tmp_path / "nothing").split("test")
