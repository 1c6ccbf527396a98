"""MIMIC-CXR import like R2Gen, on a fake MIMIC-CXR-JPG tree built here: section parsing of hand-written
report files with header variants, studies without findings dropped and counted, label CSVs, partial
downloads, and a default `rrgbench run` on the result."""

from __future__ import annotations

import gzip
import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from rrgbench.api import CHEXPERT_LABELS, RRGBenchError
from rrgbench.data.importers import import_mimic_cxr
from rrgbench.data.report_sections import canonical_section, report_parts, split_sections
from rrgbench.plugins import get_host

# Hand-written report files in the shapes real MIMIC-CXR reports take.
REPORTS = {
    "standard": ("                                 FINAL REPORT\n"
                 " EXAMINATION:  CHEST (PA AND LAT)\n \n INDICATION:  ___ with cough\n \n"
                 " COMPARISON:  ___\n \n FINDINGS:\n \n PA and lateral views of the chest provided.  No focal\n"
                 " consolidation, effusion or pneumothorax.\n \n IMPRESSION:\n \n No acute intrathoracic process.\n"),
    "combined": (" WET READ: ___ ___ 10:12 PM\n  no pneumonia\n\n                             FINAL REPORT\n"
                 " FINDINGS AND IMPRESSION:  Heart size is normal.  Small left pleural effusion.\n"),
    "report_header": ("                             FINAL REPORT\n REPORT:  Portable AP chest.  Lines and tubes are "
                      "unchanged.  Mild pulmonary edema.\n"),
    "lower_case": "Findings: The lungs are clear.\nNote: heart size is normal.\nImpression: Normal chest.\n",
    "impression_only": " INDICATION:  Fever.\n \n IMPRESSION:  No pneumonia.\n",
    "no_sections": "Chest radiograph.  No change from prior.\n",
    "slash_and_findings": (" FINDINGS:  Cardiomegaly.\n FINDINGS/IMPRESSION:  Cardiomegaly without edema.\n"
                           " NOTIFICATION:  Discussed with Dr. ___.\n"),
}


def test_section_parser_header_variants() -> None:
    assert report_parts(REPORTS["standard"]) == (
        "PA and lateral views of the chest provided. No focal consolidation, effusion or pneumothorax.",
        "No acute intrathoracic process.")
    assert report_parts(REPORTS["combined"]) == ("Heart size is normal. Small left pleural effusion.", "")
    assert split_sections(REPORTS["combined"])["wet read"].startswith("___ ___ 10:12 PM no pneumonia")
    assert report_parts(REPORTS["report_header"])[0] == ("Portable AP chest. Lines and tubes are unchanged. "
                                                         "Mild pulmonary edema.")
    # mixed case: known headers count, "Note:" inside the text does not
    assert report_parts(REPORTS["lower_case"]) == ("The lungs are clear. Note: heart size is normal.",
                                                   "Normal chest.")
    assert report_parts(REPORTS["impression_only"]) == ("", "No pneumonia.")
    assert report_parts(REPORTS["no_sections"]) == ("", "")
    # a combined block next to a separate FINDINGS section is the impression; NOTIFICATION ends it
    assert report_parts(REPORTS["slash_and_findings"]) == ("Cardiomegaly.", "Cardiomegaly without edema.")
    assert canonical_section(" Impression and  Recommendations ") == "impression"
    assert canonical_section("FINDINGS AND IMPRESSION") == "findings_impression"


# ------------------------------------------------------------------------------------ a fake tree

STUDIES = [  # study, subject, split, report kind, dicoms
    ("50000001", "10000001", "train", "standard", ["d1", "d2"]),
    ("50000002", "10000002", "train", "combined", ["d3"]),
    ("50000003", "10000003", "train", "report_header", ["d4"]),
    ("50000004", "10000004", "train", "impression_only", ["d5"]),
    ("50000005", "10000005", "validate", "lower_case", ["d6"]),
    ("50000006", "10000006", "validate", "no_sections", ["d7"]),
    ("50000007", "10000007", "test", "standard", ["d8", "d9"]),
    ("50000008", "10000008", "test", "impression_only", ["d10"]),
    ("50000009", "10000009", "test", "slash_and_findings", ["d11"]),
]


def _label_csv(path: Path, states: dict[str, dict[str, str]]) -> None:
    head = ["subject_id", "study_id", *CHEXPERT_LABELS]
    lines = [",".join(head)]
    for study, subject, *_ in STUDIES:
        row = states.get(study, {})
        lines.append(",".join([subject, study, *(row.get(k, "") for k in CHEXPERT_LABELS)]))
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def make_mimic(src: Path, zip_reports: bool = False) -> Path:
    """A MIMIC-CXR-JPG root: split CSV, CheXpert + NegBio label CSVs (gzipped), reports, small JPGs."""
    src.mkdir(parents=True)
    rows = ["dicom_id,study_id,subject_id,split"]
    rng = np.random.default_rng(0)
    for study, subject, split, kind, dicoms in STUDIES:
        d = src / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        d.mkdir(parents=True)
        for dicom in dicoms:
            rows.append(f"{dicom},{study},{subject},{split}")
            Image.fromarray(rng.integers(0, 255, (24, 20), dtype=np.uint8)).save(d / f"{dicom}.jpg", quality=90)
        if not zip_reports:
            (d.parent / f"s{study}.txt").write_text(REPORTS[kind], encoding="utf-8")
    if zip_reports:
        with zipfile.ZipFile(src / "mimic-cxr-reports.zip", "w") as zf:
            for study, subject, _, kind, _ in STUDIES:
                zf.writestr(f"files/p{subject[:2]}/p{subject}/s{study}.txt", REPORTS[kind])
    (src / "mimic-cxr-2.0.0-split.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    _label_csv(src / "mimic-cxr-2.0.0-chexpert.csv.gz",
               {"50000001": {"No Finding": "1.0"}, "50000002": {"Pleural Effusion": "1.0", "Cardiomegaly": "0.0"},
                "50000007": {"No Finding": "1.0"}, "50000009": {"Cardiomegaly": "1.0", "Edema": "-1.0"}})
    _label_csv(src / "mimic-cxr-2.0.0-negbio.csv.gz",
               {"50000002": {"Pleural Effusion": "1.0"}, "50000009": {"Cardiomegaly": "1.0", "Edema": "0.0"}})
    return src


def test_import_drops_studies_without_findings_and_reads_labels(tmp_path: Path) -> None:
    src = make_mimic(tmp_path / "mimic")
    lines: list[str] = []
    counts = import_mimic_cxr(tmp_path / "root", src, log=lines.append)
    # dropped: impression-only (2 studies) and no-sections (1 study)
    assert counts == {"train": 4, "val": 1, "test": 3}
    assert "dropped: 3 without findings" in lines[0] and "labels: chexpert, negbio" in lines[0]
    ann = json.loads((tmp_path / "root" / "annotation.json").read_text())
    assert [e["id"] for e in ann["train"]] == ["d1", "d2", "d3", "d4"]
    assert [e["id"] for e in ann["test"]] == ["d8", "d9", "d11"]
    d3 = ann["train"][2]
    assert d3["report"] == "Heart size is normal. Small left pleural effusion." and d3["impression"] == ""
    assert d3["labels"]["Pleural Effusion"] == 1 and d3["labels"]["Cardiomegaly"] == 0
    assert d3["labels"]["Edema"] is None and d3["labels_negbio"]["Pleural Effusion"] == 1
    assert ann["test"][2]["labels"]["Edema"] == -1 and ann["test"][2]["labels_negbio"]["Edema"] == 0
    assert (tmp_path / "root" / "images").is_symlink()

    # findings_impression keeps every study with either section; the no-section study still goes
    lines.clear()
    counts = import_mimic_cxr(tmp_path / "both", src, section="findings_impression", log=lines.append)
    assert counts == {"train": 5, "val": 1, "test": 4}
    assert "dropped: 1 without findings or impression" in lines[0]


def test_zip_reports_and_bad_sources(tmp_path: Path) -> None:
    src = make_mimic(tmp_path / "mimic", zip_reports=True)
    assert import_mimic_cxr(tmp_path / "root", src) == {"train": 4, "val": 1, "test": 3}
    with pytest.raises(RRGBenchError, match="split.csv"):
        import_mimic_cxr(tmp_path / "r2", tmp_path)
    with pytest.raises(RRGBenchError, match="unknown report section"):
        import_mimic_cxr(tmp_path / "r3", src, section="summary")


def test_partial_download_warns_with_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = make_mimic(tmp_path / "mimic")
    (src / "files" / "p10" / "p10000007" / "s50000007" / "d9.jpg").unlink()
    with caplog.at_level(logging.WARNING, logger="rrgbench.data"):
        counts = import_mimic_cxr(tmp_path / "root", src)
    assert counts["test"] == 2
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning and "test split lists 4 images, 1 of them are not on disk" in warning[0]
    assert "test set has 2 images" in warning[0]


def test_imported_tree_runs_with_default_options(tmp_path: Path) -> None:
    src = make_mimic(tmp_path / "mimic")
    root = tmp_path / "root"
    env = {"RRGBENCH_CACHE": str(tmp_path / "cache")}
    res = run_cli("data", "prepare", "mimic_cxr", "--from", str(src), "--data-dir", str(root), env=env)
    assert res.returncode == 0, res.stderr
    assert "dropped: 3 without findings" in res.stderr
    res = run_cli("run", "--method", "majority", "--dataset", "mimic_cxr", "--data-dir", str(root),
                  "--runs-dir", str(tmp_path / "runs"), "--bootstrap", "10", "--json", env=env)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    record = json.loads((Path(summary["run_dir"]) / "run.json").read_text())
    assert set(record["status"].values()) == {"done"} and record["dataset"]["n"] == 3
    ds = get_host().datasets.get("mimic_cxr")(data_dir=root)
    assert ds.split("test")[0].meta["labels"]["No Finding"] == 1


def test_mimic_labels_ce_uses_the_official_reference_labels(tmp_path: Path) -> None:
    from rrgbench.scoring.engine import score

    src = make_mimic(tmp_path / "mimic")
    root = tmp_path / "root"
    import_mimic_cxr(root, src)
    ds = get_host().datasets.get("mimic_cxr")(data_dir=root)
    test = ds.split("test")  # d8, d9 (No Finding), d11 (Cardiomegaly, Edema uncertain / negative)
    refs = [s.report for s in test]
    hyps = ["No acute cardiopulmonary process.", "No acute cardiopulmonary process.", "The heart is enlarged."]
    ids = [s.id for s in test]
    table = str(root / "reference_labels.json")
    res = score(["mimic_labels"], ids, hyps, refs, bootstrap=0, cache=False,
                options={"mimic_labels": {"labels_file": table}})["mimic_labels"]
    assert res["status"] == "ok", res
    assert "ref_labels:chexpert(CheXpert labeler" in res["signature"] and "labeler:chexpert_rules" in res["signature"]
    negbio = score(["mimic_labels"], ids, hyps, refs, bootstrap=0, cache=False,
                   options={"mimic_labels": {"labels_file": table, "source": "negbio"}})["mimic_labels"]
    assert "ref_labels:negbio(NegBio" in negbio["signature"]
    # CheXpert CSV: d8/d9 "No Finding", d11 Cardiomegaly -> every hypothesis positive is right
    assert res["scores"]["ce_f1_micro"] == 1.0
    # the NegBio CSV has no row for study 50000007 (d8, d9): their "No Finding" positives are now wrong
    assert negbio["scores"]["ce_precision_micro"] == pytest.approx(1 / 3)
    with pytest.raises(RRGBenchError, match="sample 'x'.*no chexpert label"):
        score(["mimic_labels"], ["x"], ["a"], ["an unknown reference"], bootstrap=0, cache=False,
              options={"mimic_labels": {"labels_file": table}})
    missing = score(["mimic_labels"], ["x"], ["a"], ["b"], bootstrap=0, cache=False,
                    options={"mimic_labels": {"labels_file": str(tmp_path / "none.json")}})["mimic_labels"]
    assert missing["status"] == "unavailable" and "none.json not found" in missing["reason"]
