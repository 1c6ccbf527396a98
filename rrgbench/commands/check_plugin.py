"""``rrgbench check-plugin NAME``: the contract checks of :mod:`rrgbench.testing`, exit status 1 on a failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command(name="check-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(["method", "metric", "dataset"]), default=None,
              help="Which registry NAME is in, when more than one has it (default: every one that does).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where a method's checkpoint and scratch files go (default: a temporary folder).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per check.")
def check_plugin(name: str, kind: str | None, work_dir: Path | None, as_json: bool) -> None:
    """Check that plugin NAME keeps the contract (see `rrgbench.testing`).

    \b
    Examples:
      rrgbench check-plugin majority      # tiny train / save / load / generate round trip
      rrgbench check-plugin nlg           # statistics, aggregate, bootstrap, signature, display facts
    """
    from dataclasses import asdict

    from ..testing import check_plugin as run_checks
    from ..testing import format_results

    results = run_checks(name, work_dir, kind)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        click.echo(format_results(results))
    if any(r.status == "fail" for r in results):
        sys.exit(1)
