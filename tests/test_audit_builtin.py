"""Default runs of built-in methods (every default metric) pass their own audit, as a new user would try:
`rrgbench run -m METHOD -d synthetic` then `rrgbench audit <run>` exits 0, each neural metric's line
showing the tolerance it declares."""

from __future__ import annotations

import json
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
    # the same two runs on the leaderboard: ranked by CE F1 (micro) of the offline labeler, never by BLEU alone,
    # with bootstrap rank intervals from paired resampling over the shared test samples
    site = tmp_path / "site"
    built = run_cli("leaderboard", "--runs-dir", str(tmp_path / "runs"), "--out", str(site), "--no-thumbnails",
                    env=env)
    assert built.returncode == 0, built.stderr[-2000:]
    board = json.loads((site / "datasets/synthetic/leaderboard.json").read_text())
    main = next(c for c in board["columns"] if c["id"] == board["ranked_by"])
    assert (main["metric"], main["key"]) == ("chexpert_rules", "ce_f1_micro")
    assert all(r["rank_interval"] and 1 <= r["rank_interval"][0] <= r["rank_interval"][1] <= 2 for r in board["rows"])
    assert all(r["tie_group"] >= 1 for r in board["rows"])
    index = (site / "index.html").read_text()
    assert "Rank 95%" in index and "tie group 1" in index
    by_bleu = run_cli("leaderboard", "--runs-dir", str(tmp_path / "runs"), "--out", str(site), "--no-thumbnails",
                      "--rank-by", "nlg.bleu_4", env=env)
    assert by_bleu.returncode == 0, by_bleu.stderr[-2000:]
    board = json.loads((site / "datasets/synthetic/leaderboard.json").read_text())
    assert next(c for c in board["columns"] if c["id"] == board["ranked_by"])["key"] == "bleu_4"
