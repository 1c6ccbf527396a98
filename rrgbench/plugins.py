"""The pluggy host: loads every plugin from the ``rrgbench`` entry-point group, safely.

Built-in plugins (``plugins/`` in this repository, imported as ``rrgbench_plugins``) are declared as
entry points in ``pyproject.toml`` exactly as a third-party package would declare its own. A plugin
that fails to import is recorded with its error and skipped; ``rrgbench list plugins`` shows it.

Environment variables:
  ``RRGBENCH_DISABLE_PLUGINS``  comma-separated entry-point names not to load.
  ``RRGBENCH_STRICT_PLUGINS=1`` raise on the first plugin that fails to load (useful in CI).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pluggy

from . import hookspecs
from .api import Dataset, Labeler, Method, Metric
from .registry import Registry

ENTRY_POINT_GROUP = "rrgbench"
log = logging.getLogger("rrgbench.plugins")


@dataclass
class PluginInfo:
    """One entry point and what became of it."""

    name: str
    module: str
    distribution: str
    version: str
    status: str  # "loaded", "failed", "disabled"
    error: str = ""


class Host:
    """The plugin manager plus the registries it fills (each checks its base class on first use)."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("rrgbench")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.methods: Registry[Method] = Registry("method", Method)
        self.metrics: Registry[Metric] = Registry("metric", Metric)
        self.datasets: Registry[Dataset] = Registry("dataset", Dataset)
        self.labelers: Registry[Labeler] = Registry("labeler", Labeler)

    # -- loading -------------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        disabled = {n.strip() for n in os.environ.get("RRGBENCH_DISABLE_PLUGINS", "").split(",") if n.strip()}
        strict = os.environ.get("RRGBENCH_STRICT_PLUGINS") == "1"
        seen: set[str] = set()
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in seen:  # the same distribution can be visible twice (editable + path)
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, ep.value, dist.name if dist else "?", dist.version if dist else "?",
                              "loaded")
            if ep.name in disabled:
                info.status = "disabled"
            else:
                try:
                    module = ep.load()
                    self.register_plugin(module, ep.name)
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the CLI
                    if strict:
                        raise
                    info.status = "failed"
                    info.error = f"{type(exc).__name__}: {exc}"
                    log.debug("plugin %s failed to load", ep.name, exc_info=True)
            self.plugins.append(info)

    def register_plugin(self, module: Any, plugin_name: str) -> None:
        """Register a plugin object (module or instance) and collect its registrations."""
        self.pm.register(module, name=plugin_name)
        hooks = self.pm.hook
        for hook, registry in (
            (hooks.rrgbench_register_methods, self.methods),
            (hooks.rrgbench_register_metrics, self.metrics),
            (hooks.rrgbench_register_datasets, self.datasets),
            (hooks.rrgbench_register_labelers, self.labelers),
        ):
            for impl in hook.get_hookimpls():
                if impl.plugin is not module:
                    continue

                def register(target: Any, name: str | None = None, description: str | None = None,
                             _r: Registry = registry, _p: str = plugin_name) -> None:
                    _r.register(target, name=name, description=description, plugin=_p)

                impl.function(register=register)

    def env_info(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in self.pm.hook.rrgbench_env_info():
            out.update(part or {})
        return out


@lru_cache(maxsize=1)
def get_host() -> Host:
    """The process-wide host, loaded on first use."""
    host = Host()
    host.load_entry_points()
    return host


def reset_host() -> None:
    """Forget the loaded host (tests install plugins at run time)."""
    get_host.cache_clear()
    importlib.invalidate_caches()
