"""``rrgbench cache``: inspect and clean rrgbench's caches (image caches, score cache, label caches)."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


@click.group(name="cache")
def cache() -> None:
    """Inspect and clean the caches under the cache root ($RRGBENCH_CACHE)."""


@cache.command(name="clean")
@click.option("--dry-run", is_flag=True, help="List what would be deleted, with sizes; delete nothing.")
@click.option("--runs-dir", "--runs", "runs_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Runs folder whose recorded metric settings stay current (default: $RRGBENCH_RUNS or ./runs).")
@click.option("--data-dir", "data_dirs", multiple=True, metavar="NAME=PATH",
              help="Where dataset NAME is prepared, when not under the data root (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def clean(dry_run: bool, runs_dir: Path | None, data_dirs: tuple[str, ...], as_json: bool) -> None:
    """Delete image caches of data that changed or is gone, score-cache entries whose signature the
    installed metrics no longer give (a new version, a changed rule file), and label caches
    (labels/*.jsonl: chexbert, RadGraph, UMLS scispacy) that no current labeler or metric setting reads
    (other weights or code; labelers that no longer persist). Settings count as current when they are the
    defaults or recorded by a run under --runs-dir; labels or scores made only with ad-hoc options
    (--metric-opt, rrgbench label --checkpoint) are deleted too: check with --dry-run first. All are caches:
    what goes is rebuilt when needed.

    \b
    rrgbench cache clean --dry-run
    rrgbench cache clean --data-dir mimic_cxr=/data/mimic
    """
    from ..api import RRGBenchError
    from ..cache_clean import remove, stale_entries
    from ..paths import cache_root, runs_root

    dirs: dict[str, Path] = {}
    for item in data_dirs:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise RRGBenchError(f"--data-dir {item!r}: expected NAME=PATH")
        dirs[name] = Path(path).expanduser()
    stale = stale_entries(runs_dir or runs_root(), dirs)
    total = sum(e.bytes for e in stale)
    freed = 0 if dry_run else remove(stale)
    if as_json:
        click.echo(json.dumps({"cache_root": str(cache_root()), "dry_run": dry_run, "entries": [e.to_json() for e in stale],
                               "bytes": total, "freed_bytes": freed}, indent=2))
        return
    root = cache_root()
    for e in stale:
        rel = e.path.relative_to(root) if e.path.is_relative_to(root) else e.path
        click.echo(f"{'would delete' if dry_run else 'deleted':<12} {e.kind:<6} {_mb(e.bytes):>12}  {rel}  ({e.reason})")
    what = "would free" if dry_run else "freed"
    click.echo(f"{len(stale)} stale cache entr{'y' if len(stale) == 1 else 'ies'} under {root}; {what} "
               f"{_mb(total if dry_run else freed)}" + (" (--dry-run: nothing deleted)" if dry_run else ""))
