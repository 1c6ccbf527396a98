"""Building the R2Gen layout from raw downloads: Open-i (IU X-ray) and MIMIC-CXR-JPG.

* :func:`import_iu_xray`: reports from ``NLMCXR_reports.tgz`` (local, URL or the torchxrayvision wheel),
  images from ``NLMCXR_png.tgz`` or a folder of ``<image id>.png`` files (local or URL). One study per
  report with FINDINGS text and at least two images; the first two become ``0.png`` and ``1.png``.
* :func:`import_mimic_cxr`: MIMIC-CXR-JPG split CSV, optional CheXpert label CSV, and the free-text
  reports (``mimic-cxr-reports.zip`` or a ``files/`` tree of ``s<study>.txt``). One entry per image, as in
  R2Gen; ``images`` is a symbolic link to the user's ``files/`` folder, nothing is copied.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..api import SPLITS, RRGBenchError
from ..io import atomic_write_json

__all__ = ["import_iu_xray", "import_mimic_cxr", "report_sections"]

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------ IU X-ray


def _image_sources(images: str | Path, wanted: set[str], log: Log | None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(image id, png bytes)`` for every wanted image id found in a .tgz or a folder."""
    from .openi import _download

    text = str(images)
    path = _download(text, log) if text.startswith(("http://", "https://")) else Path(text).expanduser()
    if path.is_dir():
        for f in path.rglob("*.png"):
            if f.stem in wanted:
                yield f.stem, f.read_bytes()
        return
    if not path.is_file():
        raise RRGBenchError(f"{path}: images not found (expected NLMCXR_png.tgz or a folder of PNG files)")
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                stem = Path(member.name).stem
                if member.isfile() and stem in wanted:
                    fh = tar.extractfile(member)
                    if fh is not None:
                        yield stem, fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RRGBenchError(f"{path}: not a readable .tgz archive ({exc})") from None


def import_iu_xray(root: Path, images: str | Path, reports: str | Path | None = None, seed: int = 0,
                   split_from: str | Path | None = None, log: Log | None = None) -> dict[str, int]:
    """Write ``root/annotation.json`` + ``root/images/<id>/{0,1}.png`` from Open-i downloads."""
    from .build import replace_dir
    from .openi import load_openi_reports, openi_studies

    root = Path(root)
    studies = openi_studies(load_openi_reports(reports, log), seed, split_from, require_images=True)
    wanted = {img: (s["id"], k) for s in studies for k, img in enumerate(s["image_ids"][:2])}
    staging = root / f".images.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    found: dict[str, set[int]] = {}
    for img_id, data in _image_sources(images, set(wanted), log):
        sid, k = wanted[img_id]
        (staging / sid).mkdir(parents=True, exist_ok=True)
        (staging / sid / f"{k}.png").write_bytes(data)
        found.setdefault(sid, set()).add(k)
    complete = [s for s in studies if found.get(s["id"]) == {0, 1}]
    if not complete:
        shutil.rmtree(staging, ignore_errors=True)
        raise RRGBenchError(f"{images}: none of the Open-i report images were found (expected files such as "
                            f"{next(iter(wanted), 'CXR1_1_IM-0001-3001')}.png)")
    replace_dir(staging, root / "images")
    ann: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for s in complete:
        entry = {k: v for k, v in s.items() if k != "image_ids"}
        entry["report"] = s["findings"]
        entry["image_path"] = [f"{s['id']}/0.png", f"{s['id']}/1.png"]
        ann[s["split"]].append(entry)
    atomic_write_json(root / "annotation.json", ann)
    counts = {k: len(v) for k, v in ann.items()}
    if log:
        log(f"iu_xray: {sum(counts.values())} studies ({counts}); "
            f"{len(studies) - len(complete)} dropped for missing images")
    return counts


# -------------------------------------------------------------------------------------------- MIMIC

_SECTION = re.compile(r"^\s*([A-Z][A-Z /&]+):", re.MULTILINE)


def report_sections(text: str) -> dict[str, str]:
    """Split a MIMIC-CXR free-text report into upper-case ``HEADER:`` sections (text whitespace-joined)."""
    out: dict[str, str] = {}
    matches = list(_SECTION.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        out[m.group(1).strip()] = " ".join(text[m.end():end].split())
    return out


def _open_csv(path: Path) -> list[dict[str, str]]:
    try:
        raw = gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")
        with raw as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RRGBenchError(f"{path}: cannot read CSV ({exc})") from None


def _find(src: Path, *names: str) -> Path | None:
    for name in names:
        for cand in (src / name, src / f"{name}.gz"):
            if cand.is_file():
                return cand
    return None


def _mimic_reports(src: Path) -> dict[str, str]:
    """``{study_id: report text}`` from ``mimic-cxr-reports.zip`` or ``files/**/s<study>.txt``."""
    out: dict[str, str] = {}
    zpath = _find(src, "mimic-cxr-reports.zip")
    if zpath:
        with zipfile.ZipFile(zpath) as zf:
            for name in zf.namelist():
                m = re.search(r"s(\d+)\.txt$", name)
                if m:
                    out[m.group(1)] = zf.read(name).decode("utf-8", errors="replace")
        return out
    for f in (src / "files").rglob("s*.txt") if (src / "files").is_dir() else ():
        out[f.stem[1:]] = f.read_text(encoding="utf-8", errors="replace")
    return out


def import_mimic_cxr(root: Path, src: str | Path, log: Log | None = None) -> dict[str, int]:
    """Write ``root/annotation.json`` for MIMIC-CXR-JPG at ``src`` (official split; one entry per image)."""
    src = Path(src).expanduser()
    split_csv = _find(src, "mimic-cxr-2.0.0-split.csv")
    if split_csv is None:
        raise RRGBenchError(f"{src}: mimic-cxr-2.0.0-split.csv(.gz) not found (MIMIC-CXR-JPG root expected)")
    if not (src / "files").is_dir():
        raise RRGBenchError(f"{src / 'files'}: image folder not found (MIMIC-CXR-JPG root expected)")
    reports = _mimic_reports(src)
    if not reports:
        raise RRGBenchError(f"{src}: no reports found (put mimic-cxr-reports.zip or files/**/s<study>.txt there)")
    labels: dict[str, dict[str, str]] = {}
    label_csv = _find(src, "mimic-cxr-2.0.0-chexpert.csv")
    if label_csv:
        for row in _open_csv(label_csv):
            labels[row["study_id"]] = {k: v for k, v in row.items() if k not in ("subject_id", "study_id")}
    split_map = {"train": "train", "validate": "val", "val": "val", "test": "test"}
    ann: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    no_text = 0
    for row in _open_csv(split_csv):
        study, subject, dicom = row["study_id"], row["subject_id"], row["dicom_id"]
        text = reports.get(study)
        sections = report_sections(text) if text else {}
        findings, impression = sections.get("FINDINGS", ""), sections.get("IMPRESSION", "")
        if not findings and not impression:
            no_text += 1
            continue
        entry = {"id": dicom, "study_id": int(study), "subject_id": int(subject), "report": findings,
                 "findings": findings, "impression": impression,
                 "image_path": [f"p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg"],
                 "split": split_map.get(row["split"], row["split"])}
        if study in labels:
            entry["labels"] = labels[study]
        if entry["split"] in ann:
            ann[entry["split"]].append(entry)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    link = root / "images"
    if link.is_symlink() or link.exists():
        if not link.is_symlink():
            raise RRGBenchError(f"{link}: exists and is not a link; remove it or choose another --data-dir")
        link.unlink()
    os.symlink((src / "files").resolve(), link, target_is_directory=True)
    atomic_write_json(root / "annotation.json", ann)
    counts = {k: len(v) for k, v in ann.items()}
    if log:
        log(f"mimic_cxr: {sum(counts.values())} images ({counts}); {no_text} without findings/impression dropped")
    return counts
