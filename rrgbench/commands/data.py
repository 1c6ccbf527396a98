"""``rrgbench data``: prepare, inspect and validate datasets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click


def _open(name: str, data_dir: Path | None, section: str, skip_bad: bool, options: dict[str, Any]) -> Any:
    from ..plugins import get_host

    cls = get_host().datasets.get(name)
    return cls(data_dir=data_dir, section=section, skip_bad=skip_bad, **options)


def _summary(ds: Any, seconds: float | None = None) -> dict[str, Any]:
    counts = {s: len(ds.split(s)) for s in ("train", "val", "test")}
    out = {"name": ds.name, "root": str(ds.root()), "licence": ds.licence, "credentialed": ds.credentialed,
           "cleaning": ds.cleaning, "section": ds.section, "counts": counts, "manifest_hash": ds.manifest_hash(),
           "n_images": ds.manifest()["n_images"], "skipped": list(ds.skipped)}
    from ..io import read_json

    card = Path(ds.root()) / "dataset_card.json"
    if card.is_file():
        out["card"] = read_json(card)
    if seconds is not None:
        out["prepare_seconds"] = round(seconds, 2)
    return out


def _print(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    c = info["counts"]
    click.echo(f"{info['name']}: train {c['train']} / val {c['val']} / test {c['test']} studies, "
               f"{info['n_images']} images  ({info['root']})")
    click.echo(f"licence: {info['licence']}" + ("  [credentialed: never publish text or images]"
                                                if info["credentialed"] else ""))
    click.echo(f"manifest: {info['manifest_hash']}")
    if info.get("card"):
        click.echo(f"split: {info['card'].get('split', '?')}; {info['card'].get('note', '')}")
    if "prepare_seconds" in info:
        click.echo(f"prepared in {info['prepare_seconds']:.1f}s")
    if info["skipped"]:
        click.echo(f"skipped {len(info['skipped'])} bad sample(s):")
        for line in info["skipped"][:20]:
            click.echo(f"  {line}")


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    from ..specs import parse_overrides

    return parse_overrides(pairs, flag="--opt")


_common = [
    click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Dataset root (default: $RRGBENCH_DATA/<dataset>)."),
    click.option("--section", default="findings", show_default=True,
                 type=click.Choice(["findings", "impression", "findings_impression"]), help="Report section."),
    click.option("--skip-bad", is_flag=True, help="Skip (and list) bad samples instead of stopping."),
    click.option("--opt", "opts", multiple=True, metavar="KEY=VALUE",
                 help="Dataset option (JSON value), e.g. --opt n_studies=200 for synthetic."),
    click.option("--json", "as_json", is_flag=True, help="Print JSON."),
]


def _with_common(fn: Any) -> Any:
    for deco in reversed(_common):
        fn = deco(fn)
    return fn


@click.group(name="data")
def data() -> None:
    """Prepare, inspect and validate datasets.

    \b
    rrgbench data prepare iu_xray_phantom          # embedded default: Open-i text + phantom images
    rrgbench data prepare synthetic --opt n_studies=200
    rrgbench data prepare iu_xray --images NLMCXR_png.tgz [--reports NLMCXR_reports.tgz] [--split-from annotation.json]
    rrgbench data prepare mimic_cxr --from /path/to/mimic-cxr-jpg
    rrgbench data prepare openi_hf --parquet /path/to/open-i/data
    """


@data.command(name="prepare")
@click.argument("name")
@click.option("--reports", default=None, help="iu_xray/iu_xray_phantom: NLMCXR_reports.tgz, XML folder or URL "
                                              "(default: the torchxrayvision 1.5.7 wheel).")
@click.option("--images", default=None, help="iu_xray: NLMCXR_png.tgz, a folder of PNGs, or a URL.")
@click.option("--download", is_flag=True, help="iu_xray: fetch the images from the official Open-i URL.")
@click.option("--split-from", "split_from", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Reuse the split of an R2Gen annotation.json (ids not in it are dropped). Default for "
                   "iu_xray / iu_xray_phantom: the canonical R2Gen split (2,069 / 296 / 590 studies, ids shipped "
                   "with rrgbench); --opt split_from=seeded for a seeded 7:1:2 split.")
@click.option("--from", "source", type=click.Path(file_okay=False, exists=True), default=None,
              help="mimic_cxr: the MIMIC-CXR-JPG root folder.")
@click.option("--parquet", type=click.Path(exists=True), default=None, help="openi_hf: parquet file or folder.")
@_with_common
def prepare(name: str, reports: str | None, images: str | None, download: bool, split_from: str | None,
            source: str | None, parquet: str | None, data_dir: Path | None, section: str, skip_bad: bool,
            opts: tuple[str, ...], as_json: bool) -> None:
    """Build dataset NAME on disk (idempotent) and print its counts, licence and manifest hash."""
    options = _options(opts)
    for key, value in (("reports", reports), ("images", images), ("split_from", split_from),
                       ("source", source), ("parquet", parquet)):
        if value is not None:
            options[key] = value
    if download:
        options["download"] = True
    ds = _open(name, data_dir, section, skip_bad, options)
    start = time.perf_counter()
    ds.prepare()
    _print(_summary(ds, time.perf_counter() - start), as_json)


@data.command(name="info")
@click.argument("name")
@_with_common
def info(name: str, data_dir: Path | None, section: str, skip_bad: bool, opts: tuple[str, ...],
         as_json: bool) -> None:
    """Counts, licence and manifest hash of a prepared dataset (prepares it first if needed)."""
    ds = _open(name, data_dir, section, skip_bad, _options(opts))
    ds.prepare()
    _print(_summary(ds), as_json)


@data.command(name="validate")
@click.argument("name")
@click.option("--size", type=int, default=224, show_default=True, help="Decode and cache images at this size.")
@_with_common
def validate(name: str, size: int, data_dir: Path | None, section: str, skip_bad: bool, opts: tuple[str, ...],
             as_json: bool) -> None:
    """Check every sample and decode every image (building the image cache); errors name the file."""
    ds = _open(name, data_dir, section, skip_bad, _options(opts))
    ds.prepare()
    start = time.perf_counter()
    for split in ("train", "val", "test"):
        if hasattr(ds, "image_cache"):
            ds.image_cache(split, size)
        else:
            for s in ds.split(split):
                ds.load_images(s, size)
    summary = _summary(ds)
    summary["decode_seconds"] = round(time.perf_counter() - start, 2)
    _print(summary, as_json)
    if not as_json:
        click.echo(f"ok: every image decodes ({summary['decode_seconds']:.1f}s at {size}px)")


@data.command(name="show")
@click.argument("name")
@click.option("--split", default="test", type=click.Choice(["train", "val", "test"]), show_default=True)
@click.option("-n", "count", type=int, default=3, show_default=True, help="How many samples.")
@_with_common
def show(name: str, split: str, count: int, data_dir: Path | None, section: str, skip_bad: bool,
         opts: tuple[str, ...], as_json: bool) -> None:
    """Print the first samples of a split (id, report, MeSH tags, image paths)."""
    from ..api import RRGBenchError

    ds = _open(name, data_dir, section, skip_bad, _options(opts))
    if ds.credentialed:
        raise RRGBenchError(f"{name} is credentialed data: `data show` does not print its reports")
    ds.prepare()
    rows = [{"id": s.id, "report": s.report, "mesh": s.meta.get("mesh"), "image_paths": list(s.image_paths)}
            for s in ds.split(split)[:count]]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']}  mesh={r['mesh']}\n  {r['report']}\n  {' '.join(r['image_paths'])}")
