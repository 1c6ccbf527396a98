"""Rank intervals of a board whose rows hold several seeds: every seed takes part, not only the first."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

from rrgbench.leaderboard.ranking import rank_intervals, resampled_scores
from rrgbench.leaderboard.records import load_runs
from rrgbench.leaderboard.table import boards_of, long_table


def test_a_multi_seed_row_ranks_by_the_mean_of_its_seeds(tmp_path: Path, monkeypatch) -> None:
    env = {"RRGBENCH_DATA": str(tmp_path / "data"), "RRGBENCH_CACHE": str(tmp_path / "cache"),
           "RRGBENCH_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    for args in (("-m", "majority"), ("-m", "retrieval", "--seed", "0"), ("-m", "retrieval", "--seed", "1")):
        done = run_cli("run", *args, "-d", "synthetic", "--dataset-opt", "n_studies=40", "--metrics",
                       "chexpert_rules", "--bootstrap", "20", env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runs = load_runs(tmp_path / "runs")
    [board] = boards_of("synthetic", long_table(runs), runs)
    rows, scores = resampled_scores(board, b=50)
    retrieval = next(r for r in rows if r.method == "retrieval")
    assert len(retrieval.runs) == 2
    stored = [json.loads((rec.path / "scores" / "chexpert_rules.json").read_text())["scores"]["ce_f1_micro"]
              for rec in retrieval.runs]
    assert stored[0] != stored[1]  # two seeds, two different systems
    # column 0 is the row's score on the shared samples: the mean over both seeds, as the cell shows
    assert abs(scores[rows.index(retrieval)][0] - sum(stored) / 2) < 1e-12
    ranks = rank_intervals(board, b=50)
    assert {id(r) for r in rows} == set(ranks)
    assert all(1 <= info.lo <= info.hi <= 2 for info in ranks.values())
