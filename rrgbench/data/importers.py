"""Building the R2Gen layout from raw downloads: Open-i (IU X-ray) and MIMIC-CXR-JPG.

* :func:`import_iu_xray`: reports from ``NLMCXR_reports.tgz`` (local, URL or the torchxrayvision wheel),
  images from ``NLMCXR_png.tgz`` or a folder of ``<image id>.png`` files (local or URL). One study per
  report with FINDINGS text and at least two images; the first two become ``0.png`` and ``1.png``.
* :func:`import_mimic_cxr`: MIMIC-CXR-JPG split CSV, optional CheXpert / NegBio label CSVs, and the free-text
  reports (``mimic-cxr-reports.zip`` or a ``files/`` tree of ``s<study>.txt``). One entry per image, as in
  R2Gen; studies without the requested section are dropped and counted; ``images`` is a symbolic link to
  the user's ``files/`` folder, nothing is copied.
"""

from __future__ import annotations

import csv
import gzip
import logging
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

logger = logging.getLogger("rrgbench.data")

__all__ = ["LABEL_CSVS", "REFERENCE_LABELS", "reference_label_table", "import_iu_xray", "import_mimic_cxr", "report_sections"]

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------ IU X-ray


def _image_sources(images: str | Path, wanted: set[str], log: Log | None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(image id, png bytes)`` for every wanted image id found in a .tgz or a folder."""
    from .openi import download

    text = str(images)
    path = download(text, log) if text.startswith(("http://", "https://")) else Path(text).expanduser()
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
    from .openi import load_openi_reports, openi_studies, write_split_card

    root = Path(root)
    tally: dict[str, int] = {}
    studies = openi_studies(load_openi_reports(reports, log), seed, split_from, require_images=True, tally=tally)
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
    counts = {k: len(v) for k, v in ann.items()}
    tally["dropped_missing_images"] = len(studies) - len(complete)
    write_split_card(root, split_from, tally, counts)
    atomic_write_json(root / "annotation.json", ann)
    if log:
        log(f"iu_xray: {sum(counts.values())} studies ({counts}); "
            f"{len(studies) - len(complete)} dropped for missing images")
    return counts


# -------------------------------------------------------------------------------------------- MIMIC

REFERENCE_LABELS = "reference_labels.json"
LABEL_CSVS = {"chexpert": "mimic-cxr-2.0.0-chexpert.csv", "negbio": "mimic-cxr-2.0.0-negbio.csv"}
_SPLIT_NAMES = {"train": "train", "validate": "val", "val": "val", "test": "test"}


def report_sections(text: str) -> dict[str, str]:
    """``{canonical section name: text}`` of one free-text report (:mod:`rrgbench.data.report_sections`)."""
    from .report_sections import split_sections

    return split_sections(text)


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


def _label_value(raw: str | None) -> int | None:
    """A CheXpert/NegBio CSV cell (``1.0`` / ``0.0`` / ``-1.0`` / blank) as 1 / 0 / -1 / None."""
    if raw is None or not raw.strip():
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


def _label_tables(src: Path) -> dict[str, dict[str, dict[str, int | None]]]:
    """``{labeler: {study_id: {label: state}}}`` for each official label CSV present in ``src``."""
    from ..api import CHEXPERT_LABELS

    tables: dict[str, dict[str, dict[str, int | None]]] = {}
    for labeler, name in LABEL_CSVS.items():
        path = _find(src, name)
        if path is None:
            continue
        rows: dict[str, dict[str, int | None]] = {}
        for i, row in enumerate(_open_csv(path)):
            if "study_id" not in row:
                raise RRGBenchError(f"{path}: row {i + 2} has no study_id column")
            rows[row["study_id"]] = {k: _label_value(row.get(k)) for k in CHEXPERT_LABELS}
        tables[labeler] = rows
    return tables


def _section_of(findings: str, impression: str, section: str) -> str:
    if section == "findings":
        return findings
    if section == "impression":
        return impression
    return " ".join(t for t in (findings, impression) if t)


def reference_label_table(ann: dict[str, list[dict[str, Any]]], labels: dict[str, dict[str, dict[str, Any]]],
                          src: Path) -> dict[str, Any]:
    """Reference labels keyed by report text, for the ``mimic_labels`` CE metric (which only sees text).

    ``{"labelers": {"chexpert": {sha1(text): [14 states]}, ...}, "files": {labeler: csv name},
    "conflicts": {labeler: n}}``, with one key per non-empty section text of each study (findings,
    impression, both joined), so any ``--section`` finds its references. Identical texts of studies with
    different labels take the most frequent label row (first seen on a tie) and are counted as conflicts.
    """
    import hashlib
    from collections import Counter

    from ..api import CHEXPERT_LABELS

    out: dict[str, Any] = {"version": 1, "labelers": {}, "files": {}, "conflicts": {}}
    for labeler, table in labels.items():
        votes: dict[str, Counter[tuple[Any, ...]]] = {}
        seen: set[int] = set()
        for entries in ann.values():
            for e in entries:
                row = table.get(str(e["study_id"]))
                if row is None or e["study_id"] in seen:
                    continue
                seen.add(e["study_id"])
                states = tuple(row[k] for k in CHEXPERT_LABELS)
                texts = {e["findings"], e["impression"], _section_of(e["findings"], e["impression"], "both")}
                for text in texts - {""}:
                    key = hashlib.sha1(text.encode("utf-8")).hexdigest()
                    votes.setdefault(key, Counter())[states] += 1
        out["labelers"][labeler] = {k: list(c.most_common(1)[0][0]) for k, c in votes.items()}
        out["conflicts"][labeler] = sum(1 for c in votes.values() if len(c) > 1)
        found = _find(src, LABEL_CSVS[labeler])
        out["files"][labeler] = found.name if found else LABEL_CSVS[labeler]
    return out


def import_mimic_cxr(root: Path, src: str | Path, section: str = "findings", log: Log | None = None
                     ) -> dict[str, int]:
    """Write ``root/annotation.json`` for MIMIC-CXR-JPG at ``src`` (official split; one entry per image).

    Flow: reports are split into sections (:mod:`.report_sections`); a study whose ``section`` text is
    empty is left out and counted (``dropped: N without findings``), as in R2Gen's MIMIC annotation;
    ``section="findings_impression"`` keeps every study with either. Images whose JPG is missing (a partial
    download) are left out too, with a WARNING when that shrinks the official test split. The CheXpert and
    NegBio label CSVs, when present, give each entry ``labels`` (CheXpert labeler) and ``labels_negbio``
    (1 / 0 / -1 / None per label), and ``reference_labels.json`` (:func:`reference_label_table`) gives
    them to the ``mimic_labels`` CE metric.
    """
    from .layout import SECTIONS

    if section not in SECTIONS:
        raise RRGBenchError(f"unknown report section '{section}'; choose one of {', '.join(SECTIONS)}")
    from .report_sections import report_parts

    src = Path(src).expanduser()
    split_csv = _find(src, "mimic-cxr-2.0.0-split.csv")
    if split_csv is None:
        raise RRGBenchError(f"{src}: mimic-cxr-2.0.0-split.csv(.gz) not found (MIMIC-CXR-JPG root expected)")
    files = src / "files"
    if not files.is_dir():
        raise RRGBenchError(f"{files}: image folder not found (MIMIC-CXR-JPG root expected)")
    reports = _mimic_reports(src)
    if not reports:
        raise RRGBenchError(f"{src}: no reports found (put mimic-cxr-reports.zip or files/**/s<study>.txt there)")
    labels = _label_tables(src)
    parts: dict[str, tuple[str, str]] = {}
    ann: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    official = {s: 0 for s in SPLITS}
    no_section: set[str] = set()
    no_report: set[str] = set()
    missing = {s: 0 for s in SPLITS}
    for i, row in enumerate(_open_csv(split_csv)):
        try:
            study, subject, dicom, split = row["study_id"], row["subject_id"], row["dicom_id"], row["split"]
        except KeyError as exc:
            raise RRGBenchError(f"{split_csv}: row {i + 2} lacks column {exc}") from None
        split = _SPLIT_NAMES.get(split, split)
        if split not in ann:
            continue
        official[split] += 1
        text = reports.get(study)
        if text is None:
            no_report.add(study)
            continue
        if study not in parts:
            parts[study] = report_parts(text)
        findings, impression = parts[study]
        if not _section_of(findings, impression, section):
            no_section.add(study)
            continue
        rel = f"p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg"
        if not (files / rel).is_file():
            missing[split] += 1
            continue
        entry: dict[str, Any] = {"id": dicom, "study_id": int(study), "subject_id": int(subject),
                                 "report": findings, "findings": findings, "impression": impression,
                                 "image_path": [rel], "split": split}
        if study in labels.get("chexpert", {}):
            entry["labels"] = labels["chexpert"][study]
        if study in labels.get("negbio", {}):
            entry["labels_negbio"] = labels["negbio"][study]
        ann[split].append(entry)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    link = root / "images"
    if link.is_symlink() or link.exists():
        if not link.is_symlink():
            raise RRGBenchError(f"{link}: exists and is not a link; remove it or choose another --data-dir")
        link.unlink()
    os.symlink(files.resolve(), link, target_is_directory=True)
    atomic_write_json(root / "annotation.json", ann)
    if labels:
        atomic_write_json(root / REFERENCE_LABELS, reference_label_table(ann, labels, src))
    counts = {k: len(v) for k, v in ann.items()}
    if log:
        log(f"mimic_cxr: {sum(counts.values())} images ({counts}) from {len(parts) - len(no_section)} studies; "
            f"section {section}; dropped: {len(no_section)} without {section.replace('_', ' or ')}, "
            f"{len(no_report)} without a report file, {sum(missing.values())} images not on disk; "
            f"labels: {', '.join(sorted(labels)) or 'none (no label CSV)'}")
    if missing["test"]:
        logger.warning("mimic_cxr: the official test split lists %d images, %d of them are not on disk (partial "
                     "download?): the test set has %d images and results are not comparable with the full set",
                     official["test"], missing["test"], counts["test"])
    return counts
