"""rrgbench: a plugin-based benchmark for radiology report generation.

Importing this package is cheap (no torch, no transformers): the CLI's listing commands rely on it.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("rrgbench")
"""Decorator that marks a function as an implementation of an rrgbench hook."""

__all__ = ["__version__", "hookimpl"]
