"""Which device runs methods and metrics: ``--device cpu|cuda|cuda:N`` (run, score, audit) or automatic.

The choice is process-wide and inherited by subprocesses through ``$RRGBENCH_DEVICE``; without it a run
uses CUDA when torch sees a GPU (one per process under a multi-process launch), else the CPU. Metrics whose
constructor takes ``device`` get it unless their options name one.
"""

from __future__ import annotations

import os
import re
from typing import Any

from .errors import RRGBenchError

ENV = "RRGBENCH_DEVICE"
_PATTERN = re.compile(r"^(cpu|cuda(:\d+)?)$")


def parse_device(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` (case-insensitive); anything else is one clear error."""
    device = text.strip().lower()
    if not _PATTERN.match(device):
        raise RRGBenchError(f"--device: expected cpu, cuda or cuda:N, got '{text}'")
    return device


def check_available(device: str) -> None:
    """Raise when ``device`` names a GPU that torch cannot see here."""
    if device == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        raise RRGBenchError(f"--device {device}: torch sees no CUDA device here (torch {torch.__version__}, "
                            "torch.cuda.is_available() is False); use --device cpu")
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise RRGBenchError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here "
                            f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")


def set_device(text: str | None) -> str | None:
    """Validate ``text`` and make it this process's (and its children's) device; None leaves it automatic."""
    if text is None:
        return None
    device = parse_device(text)
    check_available(device)
    os.environ[ENV] = device
    return device


def requested() -> str | None:
    """The device set by ``--device`` / ``$RRGBENCH_DEVICE``, validated; None when automatic."""
    value = os.environ.get(ENV)
    return parse_device(value) if value else None


def run_device(world: Any = None) -> str:
    """The device for a method in this process: the requested one, else CUDA if available, else CPU.
    Under a multi-process launch plain ``cuda`` means this process's local GPU."""
    distributed = bool(getattr(world, "distributed", False))
    local = f"cuda:{getattr(world, 'local_rank', 0)}"
    device = requested()
    if device is not None:
        return local if device == "cuda" and distributed else device
    try:
        import torch

        if torch.cuda.is_available():
            return local if distributed else "cuda"
    except ImportError:  # pragma: no cover
        pass
    return "cpu"


def device_option(func: Any) -> Any:
    """The ``--device`` click option (the command calls :func:`set_device` with its value)."""
    import click

    return click.option("--device", default=None, metavar="cpu|cuda|cuda:N",
                        help="Device for methods and metrics.  [default: cuda if available, else cpu]")(func)
