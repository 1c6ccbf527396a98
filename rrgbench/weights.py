"""Every pretrained asset in one place: ``$RRGBENCH_MODELS/<name>`` (default ``<cache>/models/<name>``).

Metric plugins declare their assets (``model_assets()`` -> ``[(Asset, resolved path or None)]``) and look
each up, in order, at its specific override variable (README), then under ``$RRGBENCH_MODELS/<name>``,
then at the upstream package's own cache (:func:`first_found`, so weights a user already has keep
working); when it is nowhere, messages name the ``$RRGBENCH_MODELS`` path as the place to put it. Method
assets are declared by the methods (``pretrained_assets``) and resolved under the same root.
``rrgbench models`` lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .paths import models_root


@dataclass(frozen=True)
class Asset:
    """One metric asset: where it goes under the models root, what must be inside, who reads it."""

    name: str  # path under $RRGBENCH_MODELS
    what: str
    source: str
    layout: str  # what the folder (or file) must hold
    used_by: str
    env: str = ""  # the specific override variable
    required: tuple[str, ...] = ()  # files that must exist below the folder ("" = the path is a file)


def xdg_cache(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/<parts>`` (``~/.cache/<parts>``): where upstream packages keep their own weights."""
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")).joinpath(*parts)


def complete(path: Path, required: tuple[str, ...]) -> bool:
    """Whether ``path`` holds an asset: the file itself (``required == ("",)``) or every required file."""
    if required == ("",):
        return path.is_file()
    return path.exists() and all((path / f).exists() for f in required)


def first_found(home: Path, legacy: Path, required: tuple[str, ...]) -> Path:
    """``home`` (under ``$RRGBENCH_MODELS``) unless only ``legacy`` (an upstream cache) holds the asset."""
    return legacy if not complete(home, required) and complete(legacy, required) else home


def metric_asset_rows() -> list[dict[str, str]]:
    """One row per asset the registered metrics declare (``model_assets()`` -> ``[(Asset, path or None)]``):
    name, found/missing, the path used (or where to put it), override, what, source, layout, used by."""
    from .plugins import get_host

    rows: dict[str, dict[str, str]] = {}
    for entry in get_host().metrics.entries():
        try:
            declare = getattr(entry.load(), "model_assets", None)
            pairs = list(declare()) if declare is not None else []
        except Exception:  # noqa: BLE001 - a broken metric plugin does not hide the other assets
            continue
        for a, path in pairs:
            if a.name in rows:
                continue
            expected = path or models_root() / a.name
            found = path is not None and (complete(path, a.required) if a.required else path.exists())
            rows[a.name] = {"name": a.name, "kind": "metric", "status": "found" if found else "missing",
                            "path": str(expected), "override": a.env, "what": a.what, "source": a.source,
                            "layout": a.layout, "used_by": a.used_by}
    return list(rows.values())


def method_asset_rows() -> list[dict[str, str]]:
    """Assets the registered methods report (``Method.asset_report(config, preset)``) for each preset."""
    from .plugins import get_host

    rows: dict[str, dict[str, str]] = {}
    datasets = get_host().datasets.names()
    dataset = datasets[0] if datasets else ""  # presets' asset needs do not depend on the dataset
    for entry in get_host().methods.entries():
        try:
            cls = entry.load()
            for preset in cls.presets:
                for need in cls.asset_report(cls.default_config(preset, dataset), preset) or []:
                    name = str(need["name"])
                    row = rows.get(name)
                    if row is None:
                        found = not need.get("missing")
                        row = rows[name] = {
                            "name": name, "kind": "method", "status": "found" if found else "missing",
                            "path": str(need.get("path") if found else need.get("put_at", "")), "override": "",
                            "what": str(need.get("purpose", "")), "source": "", "layout": str(need.get("accepts", "")),
                            "used_by": "", "substitute": str(need.get("substitute", ""))}
                    used = f"{entry.name} ({preset})"
                    row["used_by"] = f"{row['used_by']}, {used}" if row["used_by"] else used
        except Exception:  # noqa: BLE001 - a broken method plugin does not hide the other assets
            continue
    return sorted(rows.values(), key=lambda r: r["name"])
