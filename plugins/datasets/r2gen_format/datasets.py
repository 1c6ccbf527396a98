"""``iu_xray`` and ``mimic_cxr``: user data in the R2Gen layout, or built from the raw downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rrgbench.api import RRGBenchError
from rrgbench.data.layout import LayoutDataset

__all__ = ["IUXray", "MimicCXR"]


def _log(msg: str) -> None:
    import click

    click.echo(msg, err=True)


class IUXray(LayoutDataset):
    """IU X-ray (Open-i). Reads ``annotation.json`` + ``images/`` from the data root.

    Options for building it (``rrgbench data prepare iu_xray``): ``images`` (NLMCXR_png.tgz, a folder of
    PNGs or a URL; ``download=True`` uses the official Open-i URL), ``reports`` (default: the copy in the
    torchxrayvision 1.5.7 wheel), ``split_from`` (an R2Gen annotation.json whose split to reuse, or ``seeded``
    for a seeded 7:1:2 split with ``seed``). Without it, the canonical R2Gen split (train 2,069 / val 296 /
    test 590; ids shipped with rrgbench); other Open-i studies are left out, counted in dataset_card.json.
    """

    name: ClassVar[str] = "iu_xray"
    licence: ClassVar[str] = "CC BY-NC-ND 4.0 (Indiana University / NLM Open-i)"
    cleaning: ClassVar[str] = "r2gen_iu"

    @classmethod
    def published_test_ids(cls) -> list[str] | None:
        """The canonical R2Gen test split's 590 study ids (what published IU X-ray numbers are computed on)."""
        from rrgbench.data.openi import r2gen_test_ids

        return r2gen_test_ids()

    def prepare(self) -> None:
        from rrgbench.data.openi import OPENI_URLS

        root = self.root()
        images = self.options.get("images")
        if images is None and self.options.get("download"):
            images = OPENI_URLS["images"]
        if images is None:
            if (root / "annotation.json").is_file():
                return
            raise RRGBenchError(
                f"{root / 'annotation.json'}: not found. Put an R2Gen annotation.json + images/ there (or pass "
                "--data-dir), or build it with `rrgbench data prepare iu_xray --images NLMCXR_png.tgz|URL`; "
                "for an offline default use --dataset iu_xray_phantom")
        from rrgbench.data.importers import import_iu_xray

        params = {"dataset": self.name, "images": str(images), "reports": str(self.options.get("reports") or "wheel"),
                  "seed": int(self.options.get("seed", 0)), "split_from": str(self.options.get("split_from") or ""),
                  "split": "r2gen-canonical" if not self.options.get("split_from") else "user"}

        def build(root: Path) -> dict[str, int]:
            _log(f"iu_xray: licence {self.licence}; see http://creativecommons.org/licenses/by-nc-nd/4.0/")
            return import_iu_xray(root, images, self.options.get("reports"), params["seed"],
                                  self.options.get("split_from"), log=_log)

        self._build_once(params, build)


class MimicCXR(LayoutDataset):
    """MIMIC-CXR (R2Gen layout, one image per entry). Build with option ``source`` (MIMIC-CXR-JPG root).

    As in R2Gen, studies without the run's ``--section`` are left out at import (and counted); importing
    with ``--section findings_impression`` keeps every study with either section.
    """

    name: ClassVar[str] = "mimic_cxr"
    licence: ClassVar[str] = "PhysioNet Credentialed Health Data License 1.5.0"
    credentialed: ClassVar[bool] = True
    cleaning: ClassVar[str] = "r2gen_mimic"

    def prepare(self) -> None:
        root = self.root()
        source: Any = self.options.get("source")
        if source is None:
            if (root / "annotation.json").is_file():
                return
            raise RRGBenchError(
                f"{root / 'annotation.json'}: not found. Put an R2Gen MIMIC annotation.json + images/ there "
                "(or pass --data-dir), or run `rrgbench data prepare mimic_cxr --from MIMIC_CXR_JPG_DIR`")
        from rrgbench.data.importers import import_mimic_cxr

        def build(root: Path) -> dict[str, int]:
            _log(f"mimic_cxr: licence {self.licence}; credentialed data: never publish its text or images")
            return import_mimic_cxr(root, source, section=self.section, log=_log)

        self._build_once({"dataset": self.name, "source": str(source), "section": self.section}, build)
