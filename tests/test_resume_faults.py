"""Faults: a full disk (RLIMIT_FSIZE), a changed or unreadable checkpoint, a checkpoint carrying pickled code,
a corrupt generations file. Each gives one clear error, and nothing already finished is lost."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from test_resume_plugin import FAST_RUN, finished_run, run_cmd
from test_resume_plugin import copy_run as _copy

from rrgbench.api import RRGBenchError
from rrgbench.io import iter_jsonl


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("reference"))


def _reopen_generation(run_dir: Path, keep: int) -> list[dict]:
    """Make the copy look killed mid-generation: `keep` rows in the partial file, later stages pending."""
    rows = list(iter_jsonl(run_dir / "generations.jsonl"))
    (run_dir / "generations.jsonl").unlink()
    shutil.rmtree(run_dir / "scores")
    (run_dir / "generations.partial.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:keep]))
    record = json.loads((run_dir / "run.json").read_text())
    record["status"].update(generate="running", score="pending")
    (run_dir / "run.json").write_text(json.dumps(record))
    return rows


class Evil:
    def __reduce__(self):  # executed by an unsafe torch.load / pickle.load
        import os

        return (os.system, ("touch EVIL_MARKER",))


def _evil_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"w": Evil()}, buf)
    return buf.getvalue()


def test_full_disk_keeps_finished_rows_and_resumes(finished: Path, tmp_path: Path) -> None:
    size = (finished / "generations.jsonl").stat().st_size
    # no file may grow beyond this (writes fail with EFBIG, as on a full disk); run.json itself still fits
    limit = max(size // 2, (finished / "run.json").stat().st_size + 1024)

    # while training: the mid-stage state file cannot be written
    res = run_cmd(*FAST_RUN, "--runs-dir", str(tmp_path / "fresh"), limit_fsize=limit)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "error: cannot write" in res.stderr and "File too large" in res.stderr

    # while generating: rows written before the failure are kept, and the next run finishes from them
    runs, run_dir = _copy(finished, tmp_path)
    _reopen_generation(run_dir, keep=2)
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs), limit_fsize=limit)
    assert res.returncode == 2, res.stderr
    assert f"error: cannot append to {run_dir / 'generations.partial.jsonl'}: File too large" in res.stderr
    assert "Traceback" not in res.stderr
    kept = list(iter_jsonl(run_dir / "generations.partial.jsonl", tolerate_torn_tail=True))
    assert len(kept) > 2, "rows generated before the disk filled up are kept"
    assert f"the {len(kept)} generations on disk are kept" in res.stderr  # the count is what is really there
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"]["train"] == "done" and record["status"]["generate"] == "failed"

    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 0, res.stderr
    assert (run_dir / "generations.jsonl").read_bytes() == (finished / "generations.jsonl").read_bytes()
    assert (json.loads((run_dir / "scores/chexpert_rules.json").read_text())["scores"]
            == json.loads((finished / "scores/chexpert_rules.json").read_text())["scores"])


def test_changed_checkpoint_is_a_clear_error_and_loses_nothing(finished: Path, tmp_path: Path) -> None:
    runs, run_dir = _copy(finished, tmp_path)
    _reopen_generation(run_dir, keep=5)
    model = run_dir / "checkpoint" / "model.pt"
    model.write_bytes(model.read_bytes()[:100])  # truncated on disk
    partial_before = (run_dir / "generations.partial.jsonl").read_bytes()
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 2
    assert f"error: {model}: checkpoint file changed since run.json recorded it" in res.stderr
    assert "--force" in res.stderr and "Traceback" not in res.stderr
    assert (run_dir / "generations.partial.jsonl").read_bytes() == partial_before


def test_checkpoint_with_pickled_code_is_refused(finished: Path, tmp_path: Path) -> None:
    runs, run_dir = _copy(finished, tmp_path)
    _reopen_generation(run_dir, keep=3)
    model = run_dir / "checkpoint" / "model.pt"
    model.write_bytes(_evil_bytes())
    record = json.loads((run_dir / "run.json").read_text())  # the manifest is forged too: only loading is left
    record["checkpoint"]["sha256"]["model.pt"] = __import__("hashlib").sha256(model.read_bytes()).hexdigest()
    (run_dir / "run.json").write_text(json.dumps(record))
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 2
    assert f"error: {run_dir / 'checkpoint'}: cannot load checkpoint" in res.stderr
    assert "refused: the file carries pickled Python objects (it references posix.system)" in res.stderr
    assert "weights_only=False" not in res.stderr and "will likely succeed" not in res.stderr  # no unsafe advice
    assert not list(tmp_path.rglob("EVIL_MARKER")) and not Path("EVIL_MARKER").exists()
    assert len(list(iter_jsonl(run_dir / "generations.partial.jsonl"))) == 3


def test_harness_forces_weights_only_even_when_a_method_asks_otherwise(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.runner import weights_only_loads

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.pt"
    path.write_bytes(_evil_bytes())
    with weights_only_loads(), pytest.raises(Exception, match="[Ww]eights only load failed"):
        torch.load(path, weights_only=False)  # what a careless Method.load might do
    assert not (tmp_path / "EVIL_MARKER").exists()
    ok = tmp_path / "ok.pt"
    torch.save({"w": torch.ones(2)}, ok)
    with weights_only_loads():
        assert torch.equal(torch.load(ok, weights_only=False)["w"], torch.ones(2))


def test_train_state_with_pickled_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench import train_state

    monkeypatch.chdir(tmp_path)
    train_state.save(tmp_path, {"w": torch.ones(3)}, step=7, epoch=1)
    assert train_state.load(tmp_path)["step"] == 7
    (tmp_path / train_state.STATE_FILE).write_bytes(_evil_bytes())
    with pytest.raises(RRGBenchError, match="cannot read training state"):
        train_state.load(tmp_path)
    assert not (tmp_path / "EVIL_MARKER").exists()


def test_train_state_restores_rng_streams(tmp_path: Path) -> None:
    import random

    import numpy as np

    from rrgbench import train_state

    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    train_state.save(tmp_path, {}, step=1)
    want = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    train_state.load(tmp_path)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(want[0], got[0]) and (want[1] == got[1]).all() and want[2] == got[2]


def test_corrupt_generations_file_is_a_clear_error(finished: Path, tmp_path: Path) -> None:
    runs, run_dir = _copy(finished, tmp_path)
    lines = (run_dir / "generations.jsonl").read_text().splitlines(keepends=True)
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    (run_dir / "generations.jsonl").write_text("".join(lines))
    record = json.loads((run_dir / "run.json").read_text())
    record["status"]["score"] = "pending"
    record.pop("outputs")  # a record without output hashes (with them, the file is generated again: test_run_integrity)
    (run_dir / "run.json").write_text(json.dumps(record))
    scores_before = (run_dir / "scores" / "chexpert_rules.json").read_bytes()
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 2
    assert f"error: {run_dir / 'generations.jsonl'}:3: not valid JSON" in res.stderr
    assert (run_dir / "scores" / "chexpert_rules.json").read_bytes() == scores_before
    assert (run_dir / "checkpoint" / "model.pt").exists()

    # a corrupt line in the middle of the resume file: named too, and the file is left as it was
    runs, run_dir = _copy(finished, tmp_path / "second")
    _reopen_generation(run_dir, keep=6)
    partial = run_dir / "generations.partial.jsonl"
    partial.write_text(partial.read_text().replace('{"id"', "{oops", 1))
    before = partial.read_bytes()
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 2 and f"error: {partial}:1: not valid JSON" in res.stderr
    assert partial.read_bytes() == before
