"""The phantom renderer: each finding visibly changes the pixels where it should, deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from rrgbench_plugins.datasets.phantom.findings import parse_mesh, parse_tag
from rrgbench_plugins.datasets.phantom.renderer import render_study

S = 128  # image side for tests; anatomy is resolution independent


def views(tags: list[str], seed: int = 3) -> tuple[np.ndarray, np.ndarray, dict]:
    (pa, lat), info = render_study(tags, seed, S)
    return pa.astype(np.int16), lat.astype(np.int16), info


def diff_box(a: np.ndarray, b: np.ndarray, thresh: int = 12) -> tuple[int, int, int, int]:
    """Bounding box (x0, x1, y0, y1) of pixels that changed by more than ``thresh``."""
    ys, xs = np.nonzero(np.abs(a - b) > thresh)
    assert len(xs), "the finding changed no pixel"
    return int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())


def test_deterministic_and_varied() -> None:
    a, la, _ = views(["normal"], 7)
    b, lb, _ = views(["normal"], 7)
    c, _, _ = views(["normal"], 8)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert np.abs(a - c).mean() > 2  # per-study size / rotation / exposure / noise
    assert a.dtype == np.int16 and a.shape == (S, S) and la.shape == (S, S)


def test_mesh_parsing() -> None:
    f = parse_tag("Pleural Effusion/left/small")
    assert (f.kind, f.side, f.severity) == ("effusion", "left", 1)
    f = parse_tag("Opacity/lung/base/right/patchy")
    assert (f.kind, f.side, f.zone) == ("opacity", "right", "lower")
    assert parse_tag("Cardiomegaly/borderline").severity == 0
    assert parse_tag("Calcinosis/aorta").kind == "aortic_calcification"
    assert parse_tag("Lung/hypoinflation").kind == "hypoinflation"
    assert parse_tag("Surgical Instruments/mediastinum").kind == "sternal_wires"
    f = parse_tag("Costophrenic Angle/left/blunted/mild")
    assert (f.kind, f.side, f.severity) == ("effusion", "left", 1)
    assert parse_tag("Opacity/lung/bilateral/interstitial/diffuse").kind == "interstitial"
    assert parse_tag("Epicardial Fat") is None and parse_mesh(["normal", "No Indexing"]) == []


def test_cardiomegaly_ratio_and_left_heart_border() -> None:
    n, _, ni = views(["normal"])
    c, lc, ci = views(["Cardiomegaly/severe"])
    assert ni["ctr"] <= 0.48 < 0.5 < ci["ctr"]
    assert views(["Cardiomegaly/borderline"])[2]["ctr"] > 0.5
    x0, x1, y0, y1 = diff_box(n, c)
    assert y0 > S * 0.35  # the heart sits in the lower chest
    # the enlarged heart spills into both lungs, more to the patient's left (image right)
    changed = np.abs(n - c) > 12
    assert changed[:, S // 2:].sum() > changed[:, : S // 2].sum()


@pytest.mark.parametrize(("side", "half"), [("right", 0), ("left", 1)])
def test_effusion_blunts_the_named_costophrenic_angle(side: str, half: int) -> None:
    n, nl, _ = views(["normal"])
    e, el, info = views([f"Pleural Effusion/{side}/moderate"])
    assert info["effusion"] == [side]
    x0, x1, y0, y1 = diff_box(n, e)
    assert y0 > S * 0.5  # lung base only
    in_half = (x1 < S // 2) if half == 0 else (x0 > S // 2)
    assert in_half, (x0, x1)
    assert e[y0:y1 + 1, x0:x1 + 1].mean() > n[y0:y1 + 1, x0:x1 + 1].mean() + 10  # fluid is white
    lx0, _, ly0, _ = diff_box(nl, el)
    assert lx0 > S * 0.4 and ly0 > S * 0.5  # lateral view: posterior sulcus


def test_pneumothorax_is_dark_without_markings_beyond_a_pleural_line() -> None:
    n, _, _ = views(["normal"], 11)
    p, _, info = views(["Pneumothorax/left/large"], 11)
    assert info["pneumothorax"] == ["left"]
    x0, x1, y0, y1 = diff_box(n, p, 6)
    assert x0 > S // 2  # patient's left = image right
    region = (np.abs(n - p) > 6)
    assert p[region].mean() < n[region].mean() + 5  # mostly darker air, plus the thin white line
    assert (p - n)[region].max() > 15  # the visceral pleural line


@pytest.mark.parametrize(("tag", "half", "rows"), [
    ("Opacity/lung/base/right", 0, (0.45, 1.0)),
    ("Consolidation/lung/upper lobe/left", 1, (0.0, 0.6)),
    ("Nodule/lung/upper lobe/right", 0, (0.0, 0.55)),
    ("Pulmonary Atelectasis/base/left", 1, (0.45, 1.0)),
])
def test_focal_findings_in_the_named_zone(tag: str, half: int, rows: tuple[float, float]) -> None:
    n, _, _ = views(["normal"], 5)
    f, _, _ = views([tag], 5)
    x0, x1, y0, y1 = diff_box(n, f)
    assert (x1 < S // 2) if half == 0 else (x0 > S // 2)
    assert rows[0] * S <= y0 and y1 <= rows[1] * S
    assert f[y0:y1 + 1, x0:x1 + 1].mean() > n[y0:y1 + 1, x0:x1 + 1].mean()  # denser


def test_calcified_granulomas_are_small_bright_spots() -> None:
    n, _, _ = views(["normal"], 2)
    g, _, _ = views(["Granulomatous Disease"], 2)
    d = g - n
    assert d.max() > 60 and (d > 30).sum() < 0.01 * S * S


def test_scoliosis_curves_the_spine() -> None:
    n, _, _ = views(["normal"], 4)
    s, _, _ = views(["Scoliosis/severe"], 4)
    x0, x1, y0, y1 = diff_box(n, s)
    assert y1 - y0 > S * 0.4  # along the spine
    assert np.abs(n - s)[:, : S // 4].max() < 12 and np.abs(n - s)[:, -S // 8:].max() < 12  # not the chest wall


def test_devices_add_metal_density() -> None:
    n, nl, _ = views(["normal"], 9)
    for tags in (["Catheters, Indwelling/right"], ["Implanted Medical Device/left"],
                 ["Surgical Instruments/mediastinum"], ["Tube, Inserted/trachea"]):
        d, dl, _ = views(tags, 9)
        assert (d - n).max() > 60, tags
    pm, _, _ = views(["Implanted Medical Device/left"], 9)
    x0, x1, y0, y1 = diff_box(n, pm, 60)
    assert x1 > S * 0.6 and y0 < S * 0.3  # generator box in the upper left chest (image right)


def test_lung_volume_findings_move_the_diaphragm() -> None:
    n, _, _ = views(["normal"], 6)
    hyper, _, _ = views(["Emphysema"], 6)
    hypo, _, _ = views(["Lung/hypoinflation"], 6)
    col = slice(S // 5, S // 3)  # a column through the right lung
    dark = lambda img: int((img[:, col].mean(1) < img.mean() * 0.8).sum())  # noqa: E731 - rows of dark lung
    assert dark(hyper) > dark(n) > dark(hypo)
