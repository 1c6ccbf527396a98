"""Shared fixtures. Tests run the real code on small generated data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RRGBENCH = str(Path(sys.executable).parent / "rrgbench")


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run the installed `rrgbench` console script as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([RRGBENCH, *args], capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=timeout)


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$RRGBENCH_CACHE`` in the test's own folder: no score, label or hash cache is shared between tests.

    Modules that want it for every test say ``pytestmark = pytest.mark.usefixtures("isolated_cache")``.
    """
    path = tmp_path / "cache"
    monkeypatch.setenv("RRGBENCH_CACHE", str(path))
    monkeypatch.delenv("RRGBENCH_NO_CACHE", raising=False)
    return path


@pytest.fixture
def isolated_data(isolated_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$RRGBENCH_DATA`` (and the cache) in the test's own folder: datasets are prepared afresh."""
    path = tmp_path / "data"
    monkeypatch.setenv("RRGBENCH_DATA", str(path))
    return path


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path
