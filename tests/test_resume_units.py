"""The checkpoint swap's recovery after a kill at each step, decided by what run.json committed."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_resume_plugin as plugin

from rrgbench.runner import Runner, build_spec, hash_tree


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    plugin.install()
    r = Runner(build_spec("tiny_counter", "toy_resume", metrics=()), tmp_path)
    r.run_dir.mkdir(parents=True)
    r.record = {"checkpoint": None}  # type: ignore[typeddict-item]
    return r


def _write(folder: Path, text: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pt").write_text(text)
    return hash_tree(folder)


def _commit(runner: Runner, manifest: dict[str, str]) -> None:
    runner.record["checkpoint"] = {"path": "checkpoint", "sha256": manifest}


@pytest.mark.parametrize("moment", ["writing tmp", "committed", "old moved aside", "swapped"])
def test_recover_checkpoint_after_a_kill(runner: Runner, moment: str) -> None:
    d = runner.run_dir
    old_manifest = _write(d / "checkpoint", "stage A")
    _commit(runner, old_manifest)
    new_manifest = _write(d / "checkpoint.tmp", "stage B")
    if moment == "writing tmp":
        (d / "checkpoint.tmp" / "model.pt").write_text("stage B, half")  # never committed
    else:
        _commit(runner, new_manifest)
    if moment in ("old moved aside", "swapped"):
        (d / "checkpoint").rename(d / "checkpoint.old")
    if moment == "swapped":
        (d / "checkpoint.tmp").rename(d / "checkpoint")
    runner._recover_checkpoint()
    want = "stage A" if moment == "writing tmp" else "stage B"
    assert (d / "checkpoint" / "model.pt").read_text() == want
    assert not (d / "checkpoint.tmp").exists() and not (d / "checkpoint.old").exists()
    runner.verify_checkpoint()  # consistent with what run.json says
