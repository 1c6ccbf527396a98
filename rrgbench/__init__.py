"""rrgbench: a plugin-based benchmark for radiology report generation.

Importing this package is cheap (no torch, no transformers, no pandas): the CLI's listing commands rely
on it. The notebook API is loaded on first use::

    import rrgbench
    r = rrgbench.score(hyps, refs, metrics=["nlg", "chexpert_rules"], bootstrap=1000)
    r["bleu_4"], r.ci95["bleu_4"], r.samples, r.signatures, r.to_dict()
    rrgbench.compare(hyps_a, hyps_b, refs)        # or two run directories
    run = rrgbench.load_run("runs/iu_xray_phantom/majority/tiny-seed0-…")
"""

from typing import Any

import pluggy

from .version import __version__

hookimpl = pluggy.HookimplMarker("rrgbench")
"""Decorator that marks a function as an implementation of an rrgbench hook."""

_LAZY = {"score": "score", "compare": "compare", "load_run": "load_run", "Scores": "Scores", "Run": "Run"}

__all__ = ["__version__", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import python_api

        return getattr(python_api, _LAZY[name])
    raise AttributeError(f"module 'rrgbench' has no attribute '{name}'")
