"""Locating ``java`` and the jars shipped inside the pycocoevalcap wheel."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rrgbench.api import UnavailableError

JAVA_HINT = ("install a Java runtime >= 8 (Debian/Ubuntu: 'apt-get install default-jre-headless'; "
             "conda: 'conda install openjdk') or put 'java' on PATH / set $JAVA_HOME")


def java_executable() -> str | None:
    """Path of ``java`` ($JAVA_HOME/bin/java first, then PATH), or None."""
    if home := os.environ.get("JAVA_HOME"):
        candidate = Path(home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def require_java(purpose: str) -> str:
    java = java_executable()
    if java is None:
        raise UnavailableError(f"{purpose} needs Java, and no 'java' was found: {JAVA_HINT}")
    return java


def coco_dir() -> Path:
    """The pycocoevalcap package directory (it ships meteor-1.5.jar and stanford-corenlp-3.4.1.jar)."""
    import pycocoevalcap

    return Path(next(iter(pycocoevalcap.__path__)))


def meteor_jar() -> Path:
    return coco_dir() / "meteor" / "meteor-1.5.jar"


def corenlp_jar() -> Path:
    return coco_dir() / "tokenizer" / "stanford-corenlp-3.4.1.jar"


def missing(paths: list[Path]) -> str | None:
    for p in paths:
        if not p.is_file():
            return f"missing {p} (reinstall pycocoevalcap==1.2: pip install --force-reinstall pycocoevalcap==1.2)"
    return None
