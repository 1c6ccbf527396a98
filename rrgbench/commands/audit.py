"""``rrgbench audit``: check that run records are complete, consistent and reproducible."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..devices import device_option


@click.command(name="audit")
@click.argument("run_dirs", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option("--all", "all_runs", is_flag=True, help="Audit every run below --runs-dir.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where run directories are (with --all).  [default: $RRGBENCH_RUNS or ./runs]")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Dataset root (default: $RRGBENCH_DATA/<dataset>).")
@click.option("--regenerate", type=int, default=0, show_default=True, metavar="N",
              help="Re-generate N seeded-random samples from the checkpoint and compare with the stored ones.")
@click.option("--tolerance", type=float, default=None,
              help="Allowed deviation: re-scored numbers (absolute) and regenerated text (mean normalised edit "
                   "distance).  [default: re-scoring as each metric declares (exact, or float within its "
                   "bound); regeneration exact on CPU, 0.05 on a GPU]")
@click.option("--sample-seed", type=int, default=0, show_default=True, help="Seed choosing the regenerated samples.")
@click.option("--against-paper", is_flag=True, help="Print reproduced vs reported numbers under the same protocol.")
@click.option("--json", "as_json", is_flag=True, help="Print the audit as JSON.")
@device_option
def audit(run_dirs: tuple[Path, ...], all_runs: bool, runs_dir: Path | None, data_dir: Path | None,
          regenerate: int, tolerance: float | None, sample_seed: int, against_paper: bool, as_json: bool, device: str | None) -> None:
    """Audit RUN_DIR... (or --all): schema, files, ids, data and checkpoint hashes, signatures,
    package versions, re-scoring, optional re-generation, environment diff. Exits 1 if any check fails.

    \b
    Examples:
      rrgbench audit runs/synthetic/majority/tiny-seed0-0123456789ab
      rrgbench audit --all --regenerate 20 --json
    """
    from ..devices import set_device

    set_device(device)
    from ..api import RRGBenchError
    from ..audit import audit_run, format_report, to_json
    from ..paths import runs_root
    from ..rundir import RUN_JSON, RunDir, find_runs

    if regenerate < 0:
        raise RRGBenchError("--regenerate must be >= 0")
    if tolerance is not None and tolerance < 0:
        raise RRGBenchError("--tolerance must be >= 0")
    targets = list(run_dirs)
    if all_runs:
        root = runs_dir or runs_root()
        found = find_runs(root)
        if not found:
            raise RRGBenchError(f"no run directories (with {RUN_JSON}) below {root}")
        targets += found
    if not targets:
        raise RRGBenchError("give one or more RUN_DIRs, or --all")
    for path in targets:
        if not RunDir(path).exists():
            raise RRGBenchError(f"{path}: not a run directory (no {RUN_JSON})")
    reports = []
    for path in targets:
        report = audit_run(path, regenerate=regenerate, tolerance=tolerance, data_dir=data_dir,
                           against_paper=against_paper, sample_seed=sample_seed)
        reports.append(report)
        if not as_json:
            click.echo(format_report(report))
    if as_json:
        click.echo(to_json(reports))
    else:
        failed = sum(not r.ok for r in reports)
        click.echo(f"{len(reports) - failed}/{len(reports)} run(s) pass the audit")
    if any(not r.ok for r in reports):
        sys.exit(1)
