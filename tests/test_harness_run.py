"""End to end: `rrgbench run` writes a complete run directory, reuses finished stages, --force redoes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

from rrgbench.io import iter_jsonl
from rrgbench.rundir import load_record

ARGS = ("run", "--method", "majority", "--dataset", "synthetic", "--dataset-opt", "n_studies=60",
        "--metrics", "nlg", "--bootstrap", "100", "--json")


def test_run_writes_complete_record_and_reuses_stages(runs_dir: Path) -> None:
    res = run_cli(*ARGS, "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    run_dir = Path(summary["run_dir"])
    assert run_dir.name.endswith(summary["spec_hash"])

    record = load_record(run_dir)
    assert set(record["status"].values()) == {"done"}
    env = record["environment"]
    assert env["packages"]["pycocoevalcap"] and env["python"] and "java" in env
    assert record["dataset"]["manifest_hash"] and record["dataset"]["n"] > 0
    assert record["checkpoint"]["sha256"]

    rows = list(iter_jsonl(run_dir / "generations.jsonl"))
    assert len(rows) == record["dataset"]["n"]
    assert all(set(r) == {"id", "report", "reference"} for r in rows)
    assert len({r["report"] for r in rows}) == 1  # majority: one report for all

    nlg = json.loads((run_dir / "scores" / "nlg.json").read_text())
    assert nlg["status"] == "ok" and nlg["signature"] and 0 <= nlg["scores"]["bleu_4"] <= 1
    lo, hi = nlg["ci95"]["bleu_4"]
    assert lo <= nlg["scores"]["bleu_4"] <= hi
    per_sample = list(iter_jsonl(run_dir / "scores" / "nlg.samples.jsonl"))
    assert [r["id"] for r in per_sample] == [r["id"] for r in rows]

    # Same spec again: every stage is reused, nothing is rewritten.
    mtimes = {p: p.stat().st_mtime_ns for p in (run_dir / "generations.jsonl", run_dir / "scores" / "nlg.json")}
    res = run_cli(*ARGS, "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert load_record(run_dir)["timings"] == record["timings"]

    # --force redoes them.
    res = run_cli(*ARGS, "--runs-dir", str(runs_dir), "--force")
    assert res.returncode == 0, res.stderr
    assert (run_dir / "generations.jsonl").stat().st_mtime_ns != mtimes[run_dir / "generations.jsonl"]

    listed = json.loads(run_cli("list", "runs", "--json", "--runs-dir", str(runs_dir)).stdout)
    assert [r["state"] for r in listed] == ["complete"]


def test_resume_after_torn_generation(runs_dir: Path) -> None:
    res = run_cli(*ARGS, "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    run_dir = Path(json.loads(res.stdout)["run_dir"])
    full = (run_dir / "generations.jsonl").read_text()
    # Simulate a crash mid-generation: two rows written, a torn third, the stage marked running.
    lines = full.splitlines(keepends=True)
    (run_dir / "generations.partial.jsonl").write_text("".join(lines[:2]) + lines[2][:10])
    (run_dir / "generations.jsonl").unlink()
    record = json.loads((run_dir / "run.json").read_text())
    record["status"]["generate"] = "running"
    record["status"]["score"] = "pending"
    (run_dir / "run.json").write_text(json.dumps(record))
    res = run_cli(*ARGS, "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    assert (run_dir / "generations.jsonl").read_text() == full
    assert not (run_dir / "generations.partial.jsonl").exists()
