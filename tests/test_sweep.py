"""`rrgbench sweep`: a grid through submitit's local executor lands in the same run directories as
`rrgbench run`, finished runs are reused, and errors are clear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

GRID = ("--methods", "majority", "--datasets", "synthetic", "--dataset-opt", "n_studies=30", "--metrics",
        "chexpert_rules", "--bootstrap", "20")
ENV = {"OMP_NUM_THREADS": "1", "RRGBENCH_NO_CACHE": "1"}


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prepared data of our own: nothing else may rewrite it during the test."""
    monkeypatch.setenv("RRGBENCH_DATA", str(tmp_path_factory.mktemp("data")))


def test_local_executor_runs_the_grid_like_run_does(runs_dir: Path) -> None:
    res = run_cli("sweep", *GRID, "--seeds", "0-1", "--executor", "local", "--json", "--runs-dir", str(runs_dir),
                  env=ENV)
    assert res.returncode == 0, res.stdout + res.stderr
    results = json.loads(res.stdout)
    assert [r["status"] for r in results] == [dict.fromkeys(("prepare", "train", "generate", "score"), "done")] * 2
    assert (runs_dir / "_sweep_logs").is_dir()  # submitit's per-job logs

    # `rrgbench run` with the same fields names the same run directory, and finds it finished
    dry = run_cli("run", "--method", "majority", "--dataset", "synthetic", "--dataset-opt", "n_studies=30",
                  "--metrics", "chexpert_rules", "--seed", "1", "--dry-run", "--runs-dir", str(runs_dir), env=ENV)
    assert json.loads(dry.stdout)["run_dir"] == results[1]["run_dir"]
    gen = Path(results[1]["run_dir"]) / "generations.jsonl"
    before = gen.stat().st_mtime_ns
    res = run_cli("sweep", *GRID, "--seeds", "1", "--runs-dir", str(runs_dir), env=ENV)  # inline, reused
    assert res.returncode == 0, res.stderr
    assert gen.stat().st_mtime_ns == before and results[1]["run_dir"] in res.stdout


def test_dry_run_and_errors(runs_dir: Path) -> None:
    res = run_cli("sweep", *GRID, "--seeds", "0,2-3", "--dry-run", "--json", "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    assert [r["seed"] for r in json.loads(res.stdout)] == [0, 2, 3]
    res = run_cli("sweep", "--methods", "majorty", "--datasets", "synthetic", "--runs-dir", str(runs_dir))
    assert res.returncode == 2 and "unknown method 'majorty'" in res.stderr and "majority" in res.stderr
    res = run_cli("sweep", *GRID, "--seeds", "x", "--runs-dir", str(runs_dir))
    assert res.returncode == 2 and "--seeds: 'x'" in res.stderr
    res = run_cli("sweep", *GRID, "--executor", "slurm", "--runs-dir", str(runs_dir), env=ENV)
    assert res.returncode == 2 and "--executor slurm" in res.stderr and "Traceback" not in res.stderr
