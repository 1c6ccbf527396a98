"""`rrgbench table`: a board as a paper table (markdown, latex, csv) with CIs, best in bold, signature legend."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from conftest import run_cli
from test_leaderboard import CE_SIG, NLG_SIG, write_run

from rrgbench.leaderboard.paper_table import latex_escape


def _runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    for seed in (0, 1):
        write_run(runs, "good", seed=seed, quality=0.9)
        write_run(runs, "weak", seed=seed, quality=0.3)
    return runs


def test_markdown_board(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    res = run_cli("table", "--runs-dir", str(runs), "--format", "markdown")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("| Method"))
    assert "BLEU-4" in header and "(S1)" in header and "BLEU-1" not in header
    good = next(line for line in lines if line.startswith("| good"))
    weak = next(line for line in lines if line.startswith("| weak"))
    assert lines.index(good) < lines.index(weak)  # ranked by the main column
    assert "**" in good and "**" not in weak and " [" in good and "| 2 |" in good
    assert f"`{NLG_SIG}`" in out and f"`{CE_SIG}`" in out  # the legend
    assert "Unavailable here: radgraph" in out


def test_latex_and_csv(tmp_path: Path) -> None:
    runs = _runs(tmp_path)
    tex = run_cli("table", "--runs-dir", str(runs), "--format", "latex", "--ci", "pm", "--metrics", "nlg").stdout
    assert r"\begin{tabular}" in tex and r"\textbf{" in tex and r"$\pm$" in tex and r"\toprule" in tex
    assert "CE F1" not in tex and "±" not in tex and "BLEU-4" in tex
    rows = list(csv.DictReader(io.StringIO(run_cli("table", "--runs-dir", str(runs), "--format", "csv",
                                                   "--metrics", "bleu_4").stdout)))
    assert [r["method"] for r in rows] == ["good", "weak"]
    assert rows[0]["nlg.bleu_4.best"] == "1" and float(rows[0]["nlg.bleu_4.ci_lo"]) <= float(rows[0]["nlg.bleu_4"])
    assert rows[0]["nlg.bleu_4.signature"] == NLG_SIG and rows[0]["n_seeds"] == "2"
    assert latex_escape("os_rrg 50% & more") == r"os\_rrg 50\% \& more"


def test_errors(tmp_path: Path) -> None:
    res = run_cli("table", "--runs-dir", str(tmp_path))
    assert res.returncode == 2 and "no scored runs" in res.stderr
    res = run_cli("table", "--runs-dir", str(_runs(tmp_path)), "-d", "mimic")
    assert res.returncode == 2 and "have: synthetic" in res.stderr
