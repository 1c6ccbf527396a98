"""``rrgbench table``: a leaderboard board as a paper-ready table (Markdown, LaTeX or CSV) on stdout."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="table")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the runs are.  [default: $RRGBENCH_RUNS or ./runs]")
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "csv"]), default="markdown",
              show_default=True)
@click.option("--metrics", default=None,
              help="Comma-separated metric names or score keys (e.g. nlg,ce_f1_micro).  [default: headline scores]")
@click.option("--dataset", "-d", "datasets", multiple=True, help="Only this dataset's board (repeatable).")
@click.option("--ci", type=click.Choice(["brackets", "pm", "none"]), default="brackets", show_default=True,
              help="How to print the 95% CI: mean [lo, hi], mean ± half-width, or not at all.")
@click.option("--digits", type=click.IntRange(1, 6), default=3, show_default=True)
def table(runs_dir: Path | None, fmt: str, metrics: str | None, datasets: tuple[str, ...], ci: str,
          digits: int) -> None:
    """Print each dataset's board as a table for a paper: mean with CI, best in bold, signature legend.

    \b
    Examples:
      rrgbench table --format markdown
      rrgbench table --format latex --metrics nlg,chexpert_rules -d iu_xray_phantom > table.tex
    """
    from ..api import RRGBenchError
    from ..leaderboard.paper_table import render
    from ..leaderboard.records import load_runs
    from ..leaderboard.table import boards_of, long_table
    from ..paths import runs_root
    from ..registry import fold

    root = runs_dir or runs_root()
    runs = load_runs(root)
    df = long_table(runs)
    if df.empty:
        raise RRGBenchError(f"no scored runs under {root}")
    names = sorted(df["dataset"].unique())
    if datasets:
        chosen = [n for n in names if fold(n) in {fold(d) for d in datasets}]
        if not chosen:
            raise RRGBenchError(f"no runs for dataset(s) {', '.join(datasets)} under {root}; have: {', '.join(names)}")
        names = chosen
    wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    parts = []
    boards = [b for name in names for b in boards_of(name, df, runs)]  # one table per evaluation set
    for i, board in enumerate(boards):
        text = render(board, fmt, wanted, ci, digits)
        if fmt == "csv" and i:
            text = text.split("\n", 1)[1]  # one header for all datasets
        parts.append(text)
    click.echo(("" if fmt == "csv" else "\n").join(parts), nl=False)
