"""Check ``--set`` overrides against a method's default configuration before anything runs.

Every key (nested keys too, ``a.b``) must exist in the preset's default config, or be one of the method's
``optional_config_keys`` (any key is accepted inside a mapping whose default is empty, e.g. ``assets``); the value must have the default's type (an integer where the default is an
integer, a number where it is a float, a mapping where it is a mapping; any value where the default is
null). Errors are one line naming the key, with "did you mean" and the keys that exist.
"""

from __future__ import annotations

import difflib
from typing import Any

from .api import RRGBenchError

_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list",
          dict: "a mapping"}


def _kind(value: Any) -> type | None:
    for typ in (bool, int, float, str, list, dict):
        if isinstance(value, typ):
            return typ
    return None


def _fits(default: Any, value: Any) -> bool:
    want, got = _kind(default), _kind(value)
    if default is None or want is None:
        return True
    if want is float:
        return got in (int, float)
    return want is got


def _show(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def check_overrides(method: str, preset: str, defaults: dict[str, Any], overrides: dict[str, Any],
                    optional: tuple[str, ...] = (), prefix: str = "") -> None:
    """Raise :class:`RRGBenchError` for the first override whose key or type does not fit ``defaults``."""
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if key not in defaults:
            if path in optional or (not prefix and key in optional) or (prefix and not defaults):
                continue  # declared optional, or inside an open mapping (an empty default such as assets: {})
            known = sorted(defaults)
            hint = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            where = f" under '{prefix[:-1]}'" if prefix else ""
            raise RRGBenchError(
                f"--set {path}: method '{method}' (preset {preset}) has no config key '{key}'{where}"
                + (f"; did you mean {' or '.join(hint)}?" if hint else "")
                + f" Keys: {', '.join(known) or '(none)'}")
        default = defaults[key]
        if isinstance(default, dict) and isinstance(value, dict):
            check_overrides(method, preset, default, value, optional, prefix=f"{path}.")
            continue
        if not _fits(default, value):
            want = _NAMES.get(_kind(default) or object, type(default).__name__)
            quote = " (quote text as JSON, e.g. --set key='\"text\"')" if _kind(default) is str else ""
            raise RRGBenchError(f"--set {path}={_show(value)}: expected {want} like the default "
                                f"{_show(default)}, got {_NAMES.get(_kind(value) or object, type(value).__name__)}"
                                + quote)
