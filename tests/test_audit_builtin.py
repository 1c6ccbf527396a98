"""Default runs of built-in methods (every default metric) pass their own audit, as a new user would try:
`rrgbench run -m METHOD -d synthetic` then `rrgbench audit <run>` exits 0, each neural metric's line
showing the tolerance it declares."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli


def test_default_runs_of_majority_and_retrieval_pass_their_audit(tmp_path: Path) -> None:
    env = {"RRGBENCH_DATA": str(tmp_path / "data"), "RRGBENCH_CACHE": str(tmp_path / "cache"),
           "RRGBENCH_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    for method in ("majority", "retrieval"):
        run = run_cli("run", "-m", method, "-d", "synthetic", "--dataset-opt", "n_studies=40", "--bootstrap", "50",
                      env=env)
        assert run.returncode == 0, run.stderr[-2000:]
    run_dirs = sorted(str(p.parent) for p in (tmp_path / "runs").rglob("run.json"))
    assert len(run_dirs) == 2
    audit = run_cli("audit", *run_dirs, env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr[-2000:]
    assert "2/2 run(s) pass the audit" in audit.stdout
    assert audit.stdout.count("ok   rescore:bertscore") == 2
    assert "float, tolerance 1e-06 (declared by the metric)" in audit.stdout
    assert "rescore:nlg" in audit.stdout and "exact (declared by the metric)" in audit.stdout
