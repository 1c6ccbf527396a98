"""The user-facing error types (a leaf module: imports nothing from rrgbench).

:class:`RRGBenchError` carries a message meant for the user; the CLI prints it as one line naming the file or
sample and exits non-zero. :mod:`rrgbench.api` re-exports both classes, which is where plugins import them.
"""

from __future__ import annotations

__all__ = ["RRGBenchError", "UnavailableError"]


class RRGBenchError(Exception):
    """An error with a message meant for the user: the CLI prints it as one line and exits non-zero."""


class UnavailableError(RRGBenchError):
    """A metric or method cannot run here (missing weights, no GPU, no Java). The message says why."""
