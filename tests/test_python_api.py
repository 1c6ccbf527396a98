"""The notebook API: rrgbench.score / compare / load_run give the CLI's numbers; `import rrgbench` stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from conftest import REPO, run_cli

import rrgbench

HYPS = ["no effusion .", "the heart is enlarged . small left pleural effusion .", "no acute disease ."]
REFS = ["no pleural effusion .", "cardiomegaly . left pleural effusion .", "no acute cardiopulmonary abnormality ."]


def test_one_liner_equals_rrgbench_score(tmp_path: Path) -> None:
    value = rrgbench.score(["no effusion ."], ["no pleural effusion ."], metrics=["nlg"])["bleu_1"]
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "a", "report": "no effusion ."}) + "\n")
    (tmp_path / "r.jsonl").write_text(json.dumps({"id": "a", "report": "no pleural effusion ."}) + "\n")
    res = run_cli("score", "-p", str(tmp_path / "p.jsonl"), "-r", str(tmp_path / "r.jsonl"), "--metrics", "nlg",
                  "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["bleu_1"] == value


def test_scores_object() -> None:
    r = rrgbench.score(HYPS, REFS, metrics="chexpert_rules,token", bootstrap=50, ids=["x", "y", "z"])
    assert isinstance(r, rrgbench.Scores) and r.n == 3
    assert 0 <= r["ce_f1_micro"] <= 1 and "token_f1" in r
    lo, hi = r.ci95["token_f1"]
    assert lo <= r["token_f1"] <= hi
    assert set(r.signatures) == {"chexpert_rules", "token"} and all(r.signatures.values())
    assert isinstance(r.samples, pd.DataFrame) and list(r.samples.index) == ["x", "y", "z"]
    d = r.to_dict()
    assert d["token_f1"] == r["token_f1"] and d["n"] == 3 and d["ci95"]["token_f1"] == [lo, hi]
    assert "token_f1" in repr(r)
    try:
        r["bleu_4"]
    except KeyError as exc:
        assert "no score 'bleu_4'" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("missing key must raise")


def test_compare_lists_has_holm_adjusted_p() -> None:
    res = rrgbench.compare(HYPS, [REFS[0], HYPS[1], REFS[2]], REFS, metrics=["token"], bootstrap=50, trials=50)
    rows = res["metrics"]["token"]["scores"]
    assert sum(res["tests"].values()) == len(rows) > 1 and rows["token_f1"]["family"] == "headline"
    for v in rows.values():
        assert v["p_bootstrap"] <= v["p_bootstrap_holm"] <= 1 and v["p_randomization"] <= v["p_randomization_holm"]


def test_holm() -> None:
    from rrgbench.scoring.resample import holm

    assert holm([0.01, 0.04, 0.03, 0.5]) == [0.04, 0.09, 0.09, 0.5]


def test_load_run(runs_dir: Path) -> None:
    res = run_cli("run", "-m", "majority", "-d", "synthetic", "--dataset-opt", "n_studies=40", "--metrics", "token",
                  "--bootstrap", "20", "--runs-dir", str(runs_dir), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    run = rrgbench.load_run(summary["run_dir"])
    assert run.status["score"] == "done" and run.spec["method"] == "majority"
    assert run.scores["token_f1"] == summary["metrics"]["token"]["scores"]["token_f1"]
    assert len(run.generations) == run.scores.n == len(run.scores.samples)


def test_import_is_cheap_and_example_runs(tmp_path: Path) -> None:
    code = "import sys, rrgbench; print(sorted(m for m in ('torch', 'pandas', 'numpy', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    res = subprocess.run([sys.executable, str(REPO / "examples" / "score_in_python.py")], capture_output=True,
                         text=True, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "CE F1 (micro)" in res.stdout and "Holm" in res.stdout
