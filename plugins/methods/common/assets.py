"""Find user-supplied pretrained assets (weights, vocabularies) on local disk; never download.

An asset is looked up, in order, at ``config["assets"][name]`` and at ``<models_root>/<name>``
(``$RRGBENCH_MODELS``); for a file asset, ``<models_root>/<name><suffix>`` (``resnet-101.pth``) and
``<models_root>/<name>-*<suffix>`` (``resnet-101-5d3b4d8f.pth``) are accepted too. When none exists the
caller falls back to a substitute and records it with ``ctx.substitute(name, reason)``.

A method says which assets a configuration wants with a ``pretrained_assets(config, preset)`` classmethod returning
:class:`AssetNeed` rows. The runner puts the content hash of each *resolved* asset into the run spec
(:func:`asset_hashes`), so adding weights later changes the run directory and the next run trains with them;
``rrgbench run --dry-run`` lists every need with its file and sha256 or ``MISSING -> substitute``
(:func:`describe_needs`), and a real run warns once per missing asset before training.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrgbench.api import RRGBenchError
from rrgbench.paths import models_root

WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


@dataclass(frozen=True)
class AssetNeed:
    """One pretrained asset a configuration wants: what it is for and what replaces it when missing."""

    name: str
    purpose: str
    substitute: str
    accepts: str = ""  # the file layouts accepted, shown with the expected path


def _suffixed(root: Path, name: str) -> Path | None:
    for suffix in WEIGHT_SUFFIXES:
        exact = root / f"{name}{suffix}"
        if exact.is_file():
            return exact
    if root.is_dir():
        for suffix in WEIGHT_SUFFIXES:
            found = sorted(root.glob(f"{name}-*{suffix}"))
            if found:
                return found[0]
    return None


def resolve_asset(name: str, config: dict[str, Any] | None = None) -> Path | None:
    """Local path of asset ``name`` (e.g. ``"resnet-101"``, ``"bert-base-uncased"``) or ``None``.

    A path given explicitly in the config must exist: a typo there is an error, not a silent substitute.
    """
    configured = ((config or {}).get("assets") or {}).get(name)
    if configured:
        path = Path(configured).expanduser()
        if not path.exists():
            raise RRGBenchError(f"asset {name!r}: configured path {path} does not exist")
        return path
    root = models_root()
    default = root / name
    return default if default.exists() else _suffixed(root, name)


def expected_path(name: str, config: dict[str, Any] | None = None) -> Path:
    """Where a missing asset should be put: the configured path, else ``<models_root>/<name>``."""
    configured = ((config or {}).get("assets") or {}).get(name)
    return Path(configured).expanduser() if configured else models_root() / name


def content_hash(path: Path) -> str:
    """``sha256:<hex>`` of a file, or of a directory's (relative path, file sha256) list.

    File digests go through the shared stat cache, so unchanged multi-GB weights are read once.
    """
    from rrgbench.data.manifest import StatCache, stat_cache_path

    cache = StatCache(stat_cache_path())
    try:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        digests = []
        for f in files:
            st = os.stat(f)
            hit = cache.lookup(st, "asset-sha256")
            if hit is None:
                h = hashlib.sha256()
                with open(f, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                hit = (h.hexdigest(), None)
                cache.store(st, "asset-sha256", hit[0], None)
            digests.append((f.relative_to(path).as_posix() if f != path else "", hit[0]))
    except OSError as exc:
        raise RRGBenchError(f"cannot read pretrained asset {path}: {exc.strerror or exc}") from None
    finally:
        cache.close()
    if path.is_file():
        return "sha256:" + digests[0][1]
    joined = "\n".join(f"{rel}\t{d}" for rel, d in digests)
    return "sha256:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()


def method_needs(method_cls: type, config: dict[str, Any], preset: str) -> list[AssetNeed]:
    """The method's declared needs for ``config`` under ``preset`` (none when it declares nothing)."""
    declare = getattr(method_cls, "pretrained_assets", None)
    return list(declare(config, preset)) if declare is not None else []


def asset_hashes(method_cls: type, config: dict[str, Any], preset: str) -> dict[str, str]:
    """``{name: content hash}`` of every needed asset that resolves here (missing ones are left out)."""
    out: dict[str, str] = {}
    for need in method_needs(method_cls, config, preset):
        path = resolve_asset(need.name, config)
        if path is not None:
            out[need.name] = content_hash(path)
    return out


def describe_needs(method_cls: type, config: dict[str, Any], preset: str,
                   hashes: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per needed asset: ``name``, ``purpose``, and either ``path`` + ``sha256`` or
    ``missing: True`` with the ``substitute`` used and the ``put_at`` path (plus accepted layouts)."""
    rows = []
    for need in method_needs(method_cls, config, preset):
        path = resolve_asset(need.name, config)
        row: dict[str, Any] = {"name": need.name, "purpose": need.purpose}
        if path is not None:
            row.update(path=str(path), sha256=(hashes or {}).get(need.name) or content_hash(path))
        else:
            row.update(missing=True, substitute=need.substitute, put_at=str(expected_path(need.name, config)))
            if need.accepts:
                row["accepts"] = need.accepts
        rows.append(row)
    return rows


def asset_report(cls: type, config: dict[str, Any], preset: str) -> list[dict[str, Any]]:
    """The ``asset_report`` classmethod the runner calls (``asset_report = classmethod(asset_report)``)."""
    return describe_needs(cls, config, preset)
