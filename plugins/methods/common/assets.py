"""Find user-supplied pretrained assets (weights, vocabularies) on local disk; never download.

An asset is looked up, in order, at ``config["assets"][name]`` and at ``<models_root>/<name>``
(``$RRGBENCH_MODELS``). When neither exists the caller falls back to a substitute and records it with
``ctx.substitute(name, reason)`` so the run record shows the fidelity gap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rrgbench.api import RRGBenchError
from rrgbench.paths import models_root


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
    default = models_root() / name
    return default if default.exists() else None
