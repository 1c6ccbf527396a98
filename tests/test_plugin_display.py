"""Done when: a metric made with `rrgbench new-plugin metric` that declares group CE and lower-is-better lands
in leaderboard.json with that group and direction and ranks lower-is-better, with no change to the host."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from test_harness_plugins import pip_install_target


def test_a_new_plugin_metric_declares_its_group_and_direction(tmp_path: Path) -> None:
    work, site, runs = tmp_path / "work", tmp_path / "site", tmp_path / "runs"
    for kind, name in (("metric", "miss_rate"), ("method", "say_normal")):
        res = run_cli("new-plugin", kind, name, "--dir", str(work))
        assert res.returncode == 0, res.stderr
    metric_py = work / "rrgbench-miss_rate" / "rrgbench_miss_rate" / "metric.py"
    text = metric_py.read_text()
    # what a plugin author edits: the group, the direction, and a score where lower is better
    text = text.replace('group = "Other"', 'group = "CE"').replace("higher_is_better = True", "higher_is_better = False")
    text = text.replace('return {"miss_rate_f1": 2 * p * r / (p + r) if p + r else 0.0}',
                        'return {"miss_rate_f1": 1.0 - r}')
    assert 'group = "CE"' in text and "higher_is_better = False" in text and "1.0 - r" in text
    metric_py.write_text(text)
    for name in ("miss_rate", "say_normal"):
        pip_install_target(work / f"rrgbench-{name}", site)
    env = {"PYTHONPATH": str(site), "RRGBENCH_RUNS": str(runs)}
    base = ("run", "--dataset", "synthetic", "--dataset-opt", "n_studies=40", "--metrics", "miss_rate",
            "--bootstrap", "20", "--runs-dir", str(runs))
    for method, extra in (("majority", ()), ("say_normal", ("--set", "sentence=the heart is normal in size .")),
                          ("say_normal", ("--set", "sentence=xyzzy",))):
        res = run_cli(*base, "--method", method, *extra, env=env)
        assert res.returncode == 0, res.stderr
    out = tmp_path / "lb"
    res = run_cli("leaderboard", "--runs-dir", str(runs), "--out", str(out), env=env)
    assert res.returncode == 0, res.stderr
    board = json.loads(next(out.rglob("leaderboard.json")).read_text())
    cols = [c for c in board["columns"] if c["metric"] == "miss_rate"]
    assert [(c["group"], c["key"], c["higher_is_better"], c["label"]) for c in cols] == \
        [("CE", "miss_rate_f1", False, "MissRate F1")]
    assert board["main_column"] == cols[0]["id"]
    col = [c["id"] for c in board["columns"]].index(cols[0]["id"])
    by_rank = sorted(board["rows"], key=lambda r: r["rank"])
    means = [r["cells"][col]["mean"] for r in by_rank]
    assert len(means) == 3 and means == sorted(means) and means[0] < means[-1]  # best = lowest
    assert by_rank[0]["cells"][col]["best"] and not by_rank[-1]["cells"][col]["best"]
    # the score file itself carries the plugin's display facts
    score = json.loads(next(runs.rglob("miss_rate.json")).read_text())
    assert score["display"]["group"] == "CE" and score["display"]["default_higher_is_better"] is False
