"""Scoring is its own stage outside the spec hash: other --metrics reuse training and generations;
`rrgbench rescore` scores existing runs, old (schema 1) run directories included."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from conftest import run_cli

from rrgbench.rundir import RECORD_VERSION, load_record

BASE = ("run", "--method", "majority", "--dataset", "synthetic", "--dataset-opt", "n_studies=40",
        "--bootstrap", "50", "--json")


def _run(runs_dir: Path, metrics: str) -> dict:
    res = run_cli(*BASE, "--metrics", metrics, "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_other_metrics_reuse_training_and_generations(runs_dir: Path) -> None:
    first = _run(runs_dir, "token")
    run_dir = Path(first["run_dir"])
    assert {s["stage"]: s["action"] for s in first["stages"]}["train"] == "ran"
    gen_mtime = (run_dir / "generations.jsonl").stat().st_mtime_ns
    token_sig = first["metrics"]["token"]["signature"]

    second = _run(runs_dir, "chexpert_rules,token")
    assert second["run_dir"] == first["run_dir"] and second["spec_hash"] == first["spec_hash"]
    actions = {s["stage"]: s["action"] for s in second["stages"]}
    assert actions == {"prepare": "reused", "train": "reused", "generate": "reused", "score": "ran"}
    assert (run_dir / "generations.jsonl").stat().st_mtime_ns == gen_mtime
    assert set(second["metrics"]) == {"token", "chexpert_rules"}
    record = load_record(run_dir)
    assert record["schema_version"] == RECORD_VERSION and "metrics" not in record["spec"]
    assert record["scores"]["token"]["signature"] == token_sig
    assert record["scores"]["chexpert_rules"]["signature"] == second["metrics"]["chexpert_rules"]["signature"]

    third = _run(runs_dir, "token")  # nothing missing: the score stage is reused too
    assert {s["stage"]: s["action"] for s in third["stages"]}["score"] == "reused"


def _make_schema1(run_dir: Path, metrics: list[str]) -> Path:
    """Rewrite a run directory the way rrgbench wrote it before scoring left the spec hash."""
    record = json.loads((run_dir / "run.json").read_text())
    spec = {**record["spec"], "metrics": metrics}
    old_hash = hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode()).hexdigest()[:12]
    record.update(schema_version=1, spec=spec, spec_hash=old_hash)
    record.pop("scores", None)
    old_dir = run_dir.parent / f"tiny-seed0-{old_hash}"
    shutil.move(run_dir, old_dir)
    (old_dir / "run.json").write_text(json.dumps(record))
    return old_dir


def test_rescore_all_and_old_run_directories(runs_dir: Path) -> None:
    first = _run(runs_dir, "chexpert_rules")
    old_dir = _make_schema1(Path(first["run_dir"]), ["chexpert_rules"])

    listed = json.loads(run_cli("list", "runs", "--json", "--runs-dir", str(runs_dir)).stdout)
    assert [r["state"] for r in listed] == ["complete"]

    res = run_cli("rescore", "--all", "--metrics", "token", "--runs-dir", str(runs_dir), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out == [{"run_dir": str(old_dir), "metrics": ["token"], "scored": ["token"], "reused": []}]
    token = json.loads((old_dir / "scores" / "token.json").read_text())
    assert token["status"] == "ok" and token["n"] == first["metrics"]["chexpert_rules"]["n"]
    record = load_record(old_dir)
    assert record["schema_version"] == 1 and record["scores"]["token"]["signature"] == token["signature"]

    # without --metrics: the run's own metrics, all current, so nothing is computed
    res = run_cli("rescore", str(old_dir), "--json")
    assert res.returncode == 0, res.stderr
    again = json.loads(res.stdout)[0]
    assert again["scored"] == [] and set(again["reused"]) == {"chexpert_rules", "token"}

    res = run_cli("audit", str(old_dir), "--json")
    checks = {c["name"]: c for c in json.loads(res.stdout)["runs"][0]["checks"]}
    assert checks["schema"]["status"] == "ok", checks["schema"]  # the old hash recomputes
    assert checks["files"]["status"] == "ok", checks["files"]


def test_rescore_needs_runs(runs_dir: Path) -> None:
    res = run_cli("rescore", "--all", "--runs-dir", str(runs_dir))
    assert res.returncode == 2 and "no runs under" in res.stderr
    res = run_cli("rescore", str(runs_dir))
    assert res.returncode == 2 and "not a run directory" in res.stderr
