"""``rrgbench leaderboard``: build the static HTML leaderboard from run records."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("leaderboard")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=None,
              help="Where the run records are (default: $RRGBENCH_RUNS or ./runs).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("leaderboards/_site"), show_default=True,
              help="Output folder for the site (created; a previous site there is replaced).")
@click.option("--template-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Templates that override the defaults (extend them as 'default:base.html').")
@click.option("--allow-credentialed-text", is_flag=True,
              help="Publish per-sample text and images of credentialed datasets (e.g. MIMIC-CXR). Private copies only.")
@click.option("--compare", "compare_files", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
              help="JSON written by 'rrgbench compare --json' to render as a comparison page (repeatable). "
                   "Files in <runs-dir>/_compare/ are picked up too.")
@click.option("--no-thumbnails", is_flag=True, help="Do not copy image thumbnails into the sample viewer.")
@click.option("--rank-by", default="", metavar="KEY",
              help="Score key (or METRIC.KEY) that ranks every board, e.g. --rank-by bertscore_f1. Default: the key "
                   "the metrics declare (CE F1 micro of the offline labeler), with bootstrap rank intervals.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
def leaderboard(runs_dir: Path | None, out: Path, template_dir: Path | None, allow_credentialed_text: bool,
                compare_files: tuple[Path, ...], no_thumbnails: bool, rank_by: str, as_json: bool) -> None:
    """Build the static HTML leaderboard (plus CSV and JSON beside every table) from run records."""
    from ..leaderboard import build_site
    from ..paths import runs_root

    site = build_site(runs_dir or runs_root(), out, template_dir=template_dir,
                      allow_credentialed_text=allow_credentialed_text, thumbnails=not no_thumbnails,
                      compare_files=list(compare_files), rank_by=rank_by)
    for skip in site.skipped:
        click.echo(f"skipped run {skip.rel}: {skip.reason}", err=True)
    if site.refused_images:
        click.echo(f"refused {len(site.refused_images)} image path(s) outside their run's dataset root "
                   f"(first: {site.refused_images[0][1]} of {site.refused_images[0][0]})", err=True)
    if as_json:
        click.echo(json.dumps({"out": str(site.out), "runs": site.runs, "datasets": site.datasets,
                               "pages": site.pages, "skipped": [{"run": s.rel, "reason": s.reason}
                                                                for s in site.skipped]},
                              indent=2, sort_keys=True))
    else:
        click.echo(f"{site.runs} runs, {len(site.datasets)} datasets, {len(site.pages)} pages → "
                   f"{site.out / 'index.html'}")
