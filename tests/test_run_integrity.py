"""Run integrity: recorded output hashes, symbolic links, a corrupt run.json, Ctrl-C, the run-directory lock."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_resume_plugin import FAST_RUN, finished_run, run_cmd
from test_resume_plugin import copy_run as _copy

from rrgbench.io import iter_jsonl

PLUGIN = str(Path(__file__).resolve().parent / "test_resume_plugin.py")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("reference"))


def _stable(record: dict) -> dict:
    """A run record without what differs between two honest runs (times, environment, resumes)."""
    drop = ("timings", "created", "updated", "environment", "resumes")
    out = {k: v for k, v in record.items() if k not in drop}
    out["scores"] = {m: {k: v for k, v in e.items() if k != "scored_at"} for m, e in (out.get("scores") or {}).items()}
    return out


def test_outputs_carry_size_and_hash_and_a_torn_generations_file_is_redone(finished: Path, tmp_path: Path) -> None:
    record = json.loads((finished / "run.json").read_text())
    gen = record["outputs"]["generate"]["generations.jsonl"]
    assert gen["size"] == (finished / "generations.jsonl").stat().st_size and len(gen["sha256"]) == 64
    assert set(record["outputs"]["score"]) == {"scores/chexpert_rules.json", "scores/chexpert_rules.samples.jsonl"}

    runs, run_dir = _copy(finished, tmp_path)
    data = (run_dir / "generations.jsonl").read_bytes()
    (run_dir / "generations.jsonl").write_bytes(data[: len(data) - 20])  # torn last line
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 0, res.stderr
    assert "generations.jsonl is" in res.stderr and "redoing generate" in res.stderr
    assert (run_dir / "generations.jsonl").read_bytes() == data
    assert _stable(json.loads((run_dir / "run.json").read_text())) == _stable(record)

    (run_dir / "scores/chexpert_rules.samples.jsonl").write_text("{}\n")  # a score file changed
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 0 and "redoing score" in res.stderr, res.stderr
    assert (run_dir / "scores/chexpert_rules.samples.jsonl").read_bytes() == \
        (finished / "scores/chexpert_rules.samples.jsonl").read_bytes()
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))  # intact now: nothing redone, nothing said
    assert res.returncode == 0 and "redoing" not in res.stderr


def test_audit_fails_when_generations_change_but_scores_do_not(finished: Path, tmp_path: Path) -> None:
    runs, run_dir = _copy(finished, tmp_path)
    rows = list(iter_jsonl(run_dir / "generations.jsonl"))
    (run_dir / "generations.jsonl").write_text("".join(
        json.dumps({**r, "report": r["report"].upper()}, sort_keys=True) + "\n" for r in rows))
    res = run_cmd("audit", str(run_dir), "--json")
    assert res.returncode == 1, res.stderr
    checks = {c["name"]: c for c in json.loads(res.stdout)["runs"][0]["checks"]}
    assert checks["generations_hash"]["status"] == "fail"
    assert checks["rescore:chexpert_rules"]["status"] == "ok"  # the labels did not move: only the hash tells


def test_symlinked_checkpoint_is_refused_without_following_or_deleting(finished: Path, tmp_path: Path) -> None:
    runs, run_dir = _copy(finished, tmp_path)
    outside = tmp_path / "outside_ckpt"
    shutil.move(str(run_dir / "checkpoint"), outside)
    (run_dir / "checkpoint").symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.iterdir())
    for extra in ((), ("--force",)):
        res = run_cmd(*FAST_RUN, "--runs-dir", str(runs), *extra)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
        assert res.stderr.startswith(f"error: {run_dir / 'checkpoint'} is a symbolic link")
        assert sorted(p.name for p in outside.iterdir()) == before
        assert (run_dir / "checkpoint").is_symlink() and not (run_dir / "checkpoint.old").exists()


def test_corrupt_run_json_says_how_to_recover_and_force_moves_it_aside(finished: Path, tmp_path: Path) -> None:
    runs, run_dir = _copy(finished, tmp_path)
    (run_dir / "run.json").write_text('{"schema_version": 1, "spec": ')
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 2 and "not valid JSON" in res.stderr and "rerun the same command with --force" in res.stderr
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs), "--force")
    assert res.returncode == 0, res.stderr
    aside = [p for p in run_dir.parent.iterdir() if p.name.startswith(run_dir.name + ".corrupt-")]
    assert len(aside) == 1 and (aside[0] / "run.json").read_text().startswith('{"schema_version": 1, "spec": ')
    assert (aside[0] / "checkpoint").is_dir()  # moved, not deleted
    assert (run_dir / "generations.jsonl").read_bytes() == (finished / "generations.jsonl").read_bytes()


def _default_sigint() -> None:
    # a test suite started in the background of a non-interactive shell (`pytest &`) inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler in the child: give the child a terminal's default
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(PLUGIN).parent), "RRGBENCH_NO_CACHE": "1"}
    return subprocess.Popen([sys.executable, PLUGIN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)


def _found(runs: Path, pattern: str, rows: int = 0) -> bool:
    """A file matching ``pattern`` below ``runs`` (with at least ``rows`` lines), tolerating folders that the
    running process renames while we look."""
    try:
        return any(rows == 0 or len(p.read_text().splitlines()) >= rows for p in runs.rglob(pattern))
    except OSError:
        return False


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


SLOW = ("--set", "step_sleep=0.02", "--set", "gen_sleep=0.15")


@pytest.mark.parametrize("stage", ["train", "generate"])
def test_ctrl_c_says_where_the_run_stopped_and_the_same_command_resumes(stage: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = (*FAST_RUN, "--runs-dir", str(runs), *SLOW)
    proc = _start(*args)
    if stage == "train":
        _wait_for(lambda: _found(runs, "train_state/*/state.pt"), proc)
    else:
        _wait_for(lambda: _found(runs, "generations.partial.jsonl", rows=2), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"interrupted during {stage}" in err and "run the same command again to resume" in err
    assert "Traceback" not in err
    if stage == "generate":
        kept = int(err.split("interrupted during generate (")[1].split(" of ")[0])
        assert kept == len(list(iter_jsonl(next(runs.rglob("generations.partial.jsonl")))))
    res = run_cmd(*args)
    assert res.returncode == 0, res.stderr
    record = json.loads((Path(json.loads(res.stdout)["run_dir"]) / "run.json").read_text())
    assert set(record["status"].values()) == {"done"}


def test_two_identical_runs_at_once_one_works_the_other_waits_or_exits(finished: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    args = (*FAST_RUN, "--runs-dir", str(runs), "--set", "gen_sleep=0.1")
    first = _start(*args)
    _wait_for(lambda: _found(runs, "generations.partial.jsonl"), first)  # the second starts mid-generation
    lock = next(runs.rglob("run.lock"))
    assert json.loads(lock.read_text())["pid"] == first.pid

    res = run_cmd(*args)  # without --wait: exits at once, saying who holds it
    assert res.returncode == 2 and f"in use by pid {first.pid} on host" in res.stderr and "--wait" in res.stderr
    assert first.poll() is None

    waiter = _start(*args, "--wait")
    out, err = waiter.communicate(timeout=300)
    assert waiter.returncode == 0, err
    assert "waiting for" in err and f"pid {first.pid}" in err
    first_out, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    run_dir = Path(json.loads(out)["run_dir"])
    assert not lock.exists()

    single = tmp_path / "single"  # the same spec, run alone
    res = run_cmd(*args, "--runs-dir", str(single))
    alone = Path(json.loads(res.stdout)["run_dir"])
    assert _stable(json.loads((run_dir / "run.json").read_text())) == _stable(json.loads((alone / "run.json").read_text()))
    assert (run_dir / "generations.jsonl").read_bytes() == (alone / "generations.jsonl").read_bytes()
    assert "resumes" not in json.loads((run_dir / "run.json").read_text())  # the waiter found it finished


def test_a_lock_left_by_a_dead_process_is_taken_over(finished: Path, tmp_path: Path) -> None:
    runs, run_dir = _copy(finished, tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run_dir / "run.lock").write_text(json.dumps({"pid": int(dead.stdout), "host": "elsewhere"}))
    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 0, res.stderr
    assert f"took over the lock of pid {int(dead.stdout)} on host elsewhere" in res.stderr
    assert not (run_dir / "run.lock").exists()
