"""Where rrgbench keeps data, caches and runs. Every location can be overridden by an env variable."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$RRGBENCH_CACHE`` or ``$XDG_CACHE_HOME/rrgbench`` (``~/.cache/rrgbench``)."""
    if env := os.environ.get("RRGBENCH_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rrgbench"


def data_root(dataset: str | None = None) -> Path:
    """``$RRGBENCH_DATA/<dataset>`` (default ``<cache_root>/data/<dataset>``)."""
    base = Path(os.environ["RRGBENCH_DATA"]).expanduser() if os.environ.get("RRGBENCH_DATA") else cache_root() / "data"
    return base / dataset if dataset else base


def runs_root() -> Path:
    """``$RRGBENCH_RUNS`` or ``./runs``."""
    return Path(os.environ.get("RRGBENCH_RUNS", "runs")).expanduser()


def models_root() -> Path:
    """User-supplied weights: ``$RRGBENCH_MODELS`` or ``<cache_root>/models``."""
    if env := os.environ.get("RRGBENCH_MODELS"):
        return Path(env).expanduser()
    return cache_root() / "models"
