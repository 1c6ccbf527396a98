"""SIGKILL a real `rrgbench run` at seeded random moments in train, generate and score; the resumed run
must end with byte-identical generations and identical scores, and no JSON file may ever be half-written."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rrgbench.io import iter_jsonl

HERE = Path(__file__).resolve().parent
PLUGIN = str(HERE / "test_resume_plugin.py")


def _metrics() -> str:
    from rrgbench.plugins import get_host

    names = [m for m in ("nlg", "chexpert_rules") if m in get_host().metrics]
    if not names:
        pytest.skip("neither nlg nor chexpert_rules is registered")
    return ",".join(names)


def _args(runs_dir: Path, metrics: str) -> list[str]:
    return [sys.executable, PLUGIN, "run", "--method", "tiny_counter", "--dataset", "toy_resume", "--metrics",
            metrics, "--bootstrap", "50", "--runs-dir", str(runs_dir), "--json"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE), "RRGBENCH_NO_CACHE": "1"}


def _run_dir(runs_dir: Path) -> Path | None:
    found = list(runs_dir.glob("toy_resume/tiny_counter/*/run.json"))
    return found[0].parent if found else None


def _status(runs_dir: Path) -> dict[str, str]:
    run_dir = _run_dir(runs_dir)
    if run_dir is None:
        return {}
    return json.loads((run_dir / "run.json").read_text())["status"]  # atomic: never torn


def _assert_nothing_torn(run_dir: Path) -> None:
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())  # raises on a half-written file
    for path in run_dir.rglob("*.jsonl"):
        if path.name == "generations.partial.jsonl" or path.parent.name == "shards":
            list(iter_jsonl(path, tolerate_torn_tail=True))  # append-only resume files: torn tail allowed
        else:
            list(iter_jsonl(path))
    # a kill mid atomic write leaves at most a hidden temporary file, never a torn target
    assert all(p.name.startswith(".") for p in run_dir.rglob("*.tmp"))


def _kill_when(runs_dir: Path, metrics: str, ready, delay: float) -> int:
    """Start a run, wait until ``ready()`` (bounded), sleep ``delay``, SIGKILL its process group."""
    proc = subprocess.Popen(_args(runs_dir, metrics), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def _final(run_dir: Path) -> dict[str, object]:
    out: dict[str, object] = {"generations": (run_dir / "generations.jsonl").read_bytes()}
    for path in sorted((run_dir / "scores").glob("*.json")):
        res = json.loads(path.read_text())
        out[path.name] = {k: res.get(k) for k in ("status", "signature", "n", "scores", "ci95", "bootstrap")}
    for path in sorted((run_dir / "scores").glob("*.samples.jsonl")):
        out[path.name] = path.read_bytes()
    out["checkpoint"] = json.loads((run_dir / "run.json").read_text())["checkpoint"]["sha256"]
    return out


def test_sigkill_at_random_moments_resumes_to_identical_results(tmp_path: Path) -> None:
    metrics = _metrics()
    ref_dir = tmp_path / "reference"
    res = subprocess.run(_args(ref_dir, metrics), env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    reference = _final(_run_dir(ref_dir))
    timings = json.loads((_run_dir(ref_dir) / "run.json").read_text())["timings"]

    runs = tmp_path / "killed"
    rng = random.Random(20251123)

    def running(stage: str):
        return lambda: _status(runs).get(stage) == "running"

    def train_state_saved() -> bool:
        run_dir = _run_dir(runs)
        return run_dir is not None and any((run_dir / "train_state").glob("*/state.pt"))

    plan = [  # (when to start the clock, bounded random delay after it)
        (train_state_saved, rng.uniform(0.0, 0.1)),  # mid-stage: resume from train_state, not the stage start
        (running("train"), rng.uniform(0.0, timings["train"])),
        (running("generate"), rng.uniform(0.0, timings["generate"])),
        (running("score"), rng.uniform(0.0, timings["score"])),
        (lambda: True, rng.uniform(0.0, sum(timings.values()) + 2.0)),  # anywhere, startup included
    ]
    stages_hit = []
    for ready, delay in plan:
        rc = _kill_when(runs, metrics, ready, delay)
        run_dir = _run_dir(runs)
        if run_dir is not None:
            _assert_nothing_torn(run_dir)
            stages_hit.append({k: v for k, v in _status(runs).items() if v == "running"})
        assert rc in (-signal.SIGKILL, 0), rc
    assert any("generate" in s for s in stages_hit) and any("train" in s for s in stages_hit), stages_hit

    res = subprocess.run(_args(runs, metrics), env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    run_dir = _run_dir(runs)
    assert _final(run_dir) == reference
    assert not (run_dir / "generations.partial.jsonl").exists() and not (run_dir / "train_state").exists()
    assert not list(run_dir.rglob("*.tmp")), "stale temporary files are cleaned when a run resumes"
    record = json.loads((run_dir / "run.json").read_text())
    assert set(record["status"].values()) == {"done"} and record.get("resumes")
