"""``rrgbench rescore``: score existing runs again (new metrics, new weights) without training or generating."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command(name="rescore")
@click.argument("run_dirs", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option("--all", "all_runs", is_flag=True, help="Every run under --runs-dir.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For --all.  [default: $RRGBENCH_RUNS or ./runs]")
@click.option("--metrics", default=None,
              help="Comma-separated metric names.  [default: the metrics each run was scored with]")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap resamples for 95% CIs.")
@click.option("--force", is_flag=True, help="Score again even where a current result exists.")
@click.option("--json", "as_json", is_flag=True, help="Print what was scored per run as JSON.")
def rescore(run_dirs: tuple[Path, ...], all_runs: bool, runs_dir: Path | None, metrics: str | None,
            bootstrap: int, force: bool, as_json: bool) -> None:
    """Score finished runs with METRICS, reusing their generations; only missing or stale results are computed.

    \b
    Examples:
      rrgbench rescore --all --metrics chexbert          # after adding CheXbert weights
      rrgbench rescore runs/iu_xray_phantom/majority/tiny-seed0-0123abcd4567
    """
    import json

    from ..api import RRGBenchError
    from ..paths import runs_root
    from ..rundir import RUN_JSON, RunDir, find_runs, recorded_metrics
    from ..runlock import RunLock
    from ..runner import Runner
    from ..specs import default_metrics
    from ..terminal import console_reporter, get_console

    if bool(run_dirs) == all_runs:
        raise RRGBenchError("give run directories or --all (not both)")
    if bootstrap < 0:
        raise RRGBenchError("--bootstrap must be >= 0")
    targets = list(run_dirs) if run_dirs else find_runs(runs_dir or runs_root())
    if not targets:
        raise RRGBenchError(f"no runs under {runs_dir or runs_root()}")
    wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics is not None else None
    console = get_console()
    results, failed = [], 0
    for run_dir in targets:
        if not RunDir(run_dir).exists():
            raise RRGBenchError(f"{run_dir}: not a run directory (no {RUN_JSON})")
        try:
            with RunLock(run_dir).acquire():  # a run or rescore working in this directory: skip it, say why
                runner = Runner.existing(run_dir, bootstrap=bootstrap, force=force, reporter=console_reporter())
                names = wanted or recorded_metrics(runner.record, run_dir) or list(default_metrics())
                if not as_json:
                    console.print(f"[bold]{run_dir}[/bold]")
                scored = runner.stage_score(names)
            results.append({"run_dir": str(run_dir), "metrics": names, "scored": scored,
                            "reused": [m for m in names if m not in scored]})
        except RRGBenchError as exc:
            failed += 1
            results.append({"run_dir": str(run_dir), "error": str(exc)})
            if not as_json:
                console.print(f"  [red]skipped[/red]: {exc}")
    if as_json:
        click.echo(json.dumps(results, indent=2, sort_keys=True))
    else:
        done = [r for r in results if "error" not in r]
        console.print(f"{len(done)} run(s) rescored, {failed} skipped; "
                      f"{sum(len(r['scored']) for r in done)} metric result(s) computed, "
                      f"{sum(len(r['reused']) for r in done)} reused")
    if failed:
        sys.exit(1)
