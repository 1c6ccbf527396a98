"""`rrgbench score` under torchrun with 2 gloo processes: the pairs of pair-local metrics (BERTScore's
neural encoder, token) are split across the ranks and the result equals one process's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import RRGBENCH

from rrgbench.scoring import synthetic


def test_two_gloo_processes_score_like_one(tmp_path: Path) -> None:
    ids, hyps, refs = synthetic.pairs(24, seed=5)
    for name, texts in (("preds", hyps), ("refs", refs)):
        with open(tmp_path / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"id": i, "report": t}) + "\n" for i, t in zip(ids, texts))
    args = ["-v", "score", "-p", str(tmp_path / "preds.jsonl"), "-r", str(tmp_path / "refs.jsonl"),
            "-m", "bertscore,token,chexpert_rules", "--bootstrap", "50", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RRGBENCH_DIST_CPU": "1", "RRGBENCH_DIST_TIMEOUT": "300",
           "RRGBENCH_CACHE": str(tmp_path / "cache")}
    one = subprocess.run([RRGBENCH, *args, "--no-cache", "-o", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          RRGBENCH, *args, "-o", str(tmp_path / "two")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count('"signatures"') == 1  # only rank 0 prints
    assert json.loads(two.stdout[two.stdout.index("{"):]) == json.loads(one.stdout)
    for metric in ("bertscore", "token"):
        assert f"metric {metric}: rank 1 of 2 scored 12 of 24 pairs" in two.stderr
        rows = [(tmp_path / d / "scores" / f"{metric}.samples.jsonl").read_text() for d in ("one", "two")]
        assert rows[0] == rows[1]
