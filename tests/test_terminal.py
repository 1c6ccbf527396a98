"""What a person reads: end-of-run table, compare (headline first, raw and Holm p), list runs with scores,
sweep's mean ± CI across seeds, -v/-q anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from rrgbench.cli import hoist_verbosity
from rrgbench.run_summary import first_sentence, fix_hint, fmt_p, mean_ci

DATA = ("-d", "synthetic", "--dataset-opt", "n_studies=60", "--metrics", "token,chexpert_rules", "--bootstrap", "50")


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    runs = tmp_path_factory.mktemp("runs")
    res = run_cli("sweep", "-m", "majority", *DATA, "--seeds", "0-1", "--runs-dir", str(runs))
    assert res.returncode == 0, res.stderr
    other = run_cli("run", "-m", "retrieval", *DATA, "--runs-dir", str(runs), "-q")
    assert other.returncode == 0, other.stderr
    return runs, res.stdout


def test_sweep_ends_with_mean_ci_across_seeds(swept: tuple[Path, str]) -> None:
    _, out = swept
    table = out[out.index("mean ± 95% CI across seeds"):]
    majority = next(line for line in table.splitlines() if "majority" in line)
    assert "0,1" in majority and "0.453 ± 0.000" in majority and "Token F1" in table


def test_list_runs_shows_state_and_scores(swept: tuple[Path, str]) -> None:
    runs, _ = swept
    out = run_cli("list", "runs", "--runs-dir", str(runs)).stdout
    header, *rows = out.splitlines()
    assert "STATE" in header and "TOKEN F1" in header and len(rows) == 3
    assert all("complete" in r and "0." in r for r in rows)


def test_compare_headline_first_with_holm(swept: tuple[Path, str]) -> None:
    runs, _ = swept
    a, b = (next((runs / "synthetic" / m).iterdir()) for m in ("retrieval", "majority"))
    res = run_cli("compare", str(a), str(b), "--bootstrap", "1000", "--trials", "1000")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[3].startswith("headline scores") and "Holm" in lines[4]
    assert "< 0.001" in res.stdout and "0.0010" not in res.stdout
    assert "more scores (other and per-label)" in res.stdout
    verbose = run_cli("compare", str(a), str(b), "--bootstrap", "100", "--trials", "100", "-v").stdout
    assert "per-label scores" in verbose


def test_run_end_is_compact_and_flags_work_anywhere(swept: tuple[Path, str]) -> None:
    runs, _ = swept
    args = ("run", "-m", "majority", "-d", "synthetic", "--dataset-opt", "n_studies=60", "--metrics",
            "token,chexpert_rules,chexbert", "--bootstrap", "50", "--runs-dir", str(runs))
    res = run_cli(*args, "-q")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # quiet: no banners
    out = res.stdout
    assert "n = 12" in out and "Token F1" in out and "CE F1 (micro)" in out
    assert "unavailable" in out and [ln.split()[0] for ln in out.splitlines() if ln.startswith("  ")] == ["chexbert"]
    assert "signature" not in out.lower() and "Enlarged" not in out
    assert "run directory" in out and "next           rrgbench rescore" in out
    loud = run_cli(*args, "-v")
    assert "↺ train" in loud.stderr and "reused" in loud.stderr
    assert "chexpert_rules/" in loud.stdout or "f1_" in loud.stdout  # every score with -v


def test_helpers() -> None:
    assert fmt_p(0.0009) == "< 0.001" and fmt_p(0.0421) == "0.042"
    assert mean_ci([1.0]) == (1.0, None)
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(2.4841, abs=1e-3)
    assert hoist_verbosity(["run", "-m", "x", "-v", "--", "-q"]) == ["-v", "run", "-m", "x", "--", "-q"]
    reason = "weights not found: /x/chexbert.pth does not exist. Download chexbert.pth and put it at /x."
    assert first_sentence(reason) == "weights not found: /x/chexbert.pth does not exist"
    assert fix_hint(reason).startswith("Download chexbert.pth")


def test_rescore_json_stays_clean(swept: tuple[Path, str]) -> None:
    runs, _ = swept
    res = run_cli("rescore", "--all", "--runs-dir", str(runs), "--json")
    assert res.returncode == 0, res.stderr
    # current results are reused; an unavailable metric is tried again (its weights may have arrived)
    assert all(set(r["scored"]) <= {"chexbert"} and "token" in r["reused"] for r in json.loads(res.stdout))


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from rrgbench import terminal

    buf = io.StringIO()
    monkeypatch.setitem(terminal._consoles, "stderr", Console(file=buf, force_terminal=True, width=100))
    monkeypatch.setattr(terminal, "_progress", None)
    seen = list(terminal.progress(range(5), desc="epoch 1/2", unit="batch"))
    bar = terminal.progress(total=10, desc="generate", unit="report", initial=4)
    bar.update(6)
    bar.set_postfix(loss="0.123")
    bar.close()
    out = buf.getvalue()
    assert seen == [0, 1, 2, 3, 4] and bar.n == 10
    assert "epoch 1/2" in out and "5/5" in out and "10/10" in out and "eta" in out
    quiet = terminal.progress(range(3), disable=True)
    assert list(quiet) == [0, 1, 2] and quiet._task is None
