"""``openi_hf``: the Hugging Face ``ykumards/open-i`` parquet files, converted to the R2Gen layout.

The parquet (one row per Open-i report) is read from a local file or folder given as option ``parquet``;
nothing is downloaded. Columns used when present: an id (``uid``/``id``), ``findings``, ``impression``,
MeSH tags (``MeSH``/``mesh``, a list or a ``;``-separated string), and image columns (``img_frontal``,
``img_lateral``, ``image``; Hugging Face image structs ``{"bytes": ...}`` or raw bytes). Rows without
an image or without findings and impression are skipped. Split: seeded 7:1:2 by study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rrgbench.api import RRGBenchError, UnavailableError
from rrgbench.data.layout import LayoutDataset

__all__ = ["OpenIHF", "rows_to_studies"]

IMAGE_COLUMNS = ("img_frontal", "img_lateral", "image", "images")


def _image_bytes(value: Any) -> list[bytes]:
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray)):
        return [bytes(value)]
    if isinstance(value, dict):
        data = value.get("bytes")
        return [bytes(data)] if data else []
    if isinstance(value, (list, tuple)):
        return [b for v in value for b in _image_bytes(v)]
    return []


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return ""
    return " ".join(str(value).split())


def _mesh(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(";") if t.strip()]
    try:
        return [str(t).strip() for t in value if str(t).strip()]
    except TypeError:
        return []


def rows_to_studies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the parquet (as dicts) -> ``{id, findings, impression, mesh, images: [bytes]}``; skips
    rows without an image or without any report text. Ids must be unique."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        sid = _text(row.get("uid", row.get("id", f"openi{i:05d}"))) or f"openi{i:05d}"
        sid = sid.replace("/", "_")
        if sid in seen:
            raise RRGBenchError(f"openi_hf: row {i}: duplicate id {sid!r}")
        seen.add(sid)
        images = [b for col in IMAGE_COLUMNS if col in row for b in _image_bytes(row[col])]
        findings, impression = _text(row.get("findings")), _text(row.get("impression"))
        if not images or not (findings or impression):
            continue
        out.append({"id": sid, "findings": findings, "impression": impression,
                    "mesh": _mesh(row.get("MeSH", row.get("mesh"))), "images": images})
    return out


class OpenIHF(LayoutDataset):
    """Open-i from a local ``ykumards/open-i`` parquet copy (option ``parquet``: file or folder)."""

    name: ClassVar[str] = "openi_hf"
    licence: ClassVar[str] = "CC BY-NC-ND 4.0 (Open-i; the HF page states cc-by-nd-4.0)"
    cleaning: ClassVar[str] = "r2gen_iu"

    def prepare(self) -> None:
        from rrgbench.data.build import seeded_split
        from rrgbench.io import atomic_write_bytes, atomic_write_json

        root = self.root()
        source = self.options.get("parquet")
        if source is None:
            if (root / "annotation.json").is_file():
                return
            raise RRGBenchError(f"{root / 'annotation.json'}: not found; run "
                                "`rrgbench data prepare openi_hf --parquet PATH` with a local copy of the "
                                "ykumards/open-i parquet files")
        params = {"dataset": self.name, "parquet": str(source), "seed": int(self.options.get("seed", 0))}

        def build(root: Path) -> dict[str, int]:
            studies = rows_to_studies(_read_parquet(Path(source)))
            if not studies:
                raise RRGBenchError(f"{source}: no rows with an image and report text")
            split = seeded_split([s["id"] for s in studies], params["seed"])
            ann: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
            for s in studies:
                paths = []
                for k, data in enumerate(s["images"]):
                    ext = ".jpg" if data[:3] == b"\xff\xd8\xff" else ".png"
                    atomic_write_bytes(root / "images" / s["id"] / f"{k}{ext}", data)
                    paths.append(f"{s['id']}/{k}{ext}")
                ann[split[s["id"]]].append({"id": s["id"], "report": s["findings"], "findings": s["findings"],
                                            "impression": s["impression"], "mesh": s["mesh"],
                                            "image_path": paths, "split": split[s["id"]]})
            atomic_write_json(root / "annotation.json", ann)
            return {k: len(v) for k, v in ann.items()}

        self._build_once(params, build)


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    files = sorted(path.glob("**/*.parquet")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise RRGBenchError(f"{path}: no .parquet files found")
    import pandas as pd

    frames = []
    for f in files:
        try:
            frames.append(pd.read_parquet(f))
        except ImportError as exc:
            raise UnavailableError(f"reading {f} needs a parquet engine: pip install pyarrow ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - corrupt file: one clear line
            raise RRGBenchError(f"{f}: cannot read parquet ({type(exc).__name__}: {exc})") from None
    return pd.concat(frames, ignore_index=True).to_dict("records")
