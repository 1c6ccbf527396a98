"""``rrgbench models``: every pretrained asset (metrics and methods), found or missing, with its path."""

from __future__ import annotations

import json

import click


@click.command(name="models")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (with source and layout).")
@click.option("--missing", is_flag=True, help="Only the assets that are missing here.")
def models(as_json: bool, missing: bool) -> None:
    """List every pretrained asset: found (the path used) or missing (where to put it).

    Everything lives under $RRGBENCH_MODELS/<name>; the OVERRIDE column names the variable that points
    one asset elsewhere. Nothing is ever downloaded.
    """
    from ..paths import models_root
    from ..terminal import verbosity
    from ..weights import method_asset_rows, metric_asset_rows

    rows = metric_asset_rows() + method_asset_rows()
    if missing:
        rows = [r for r in rows if r["status"] == "missing"]
    if as_json:
        click.echo(json.dumps({"models_root": str(models_root()), "assets": rows}, indent=2))
        return
    from .listing import text_table

    columns = ["asset", "status", "path", "override"] + (["used_by"] if verbosity() > 0 else [])
    click.echo(f"models root: {models_root()}  ($RRGBENCH_MODELS)")
    click.echo(text_table([{**r, "asset": r["name"], "override": r["override"].split(" (")[0]} for r in rows], columns))
    found = sum(r["status"] == "found" for r in rows)
    click.echo(f"{found} of {len(rows)} found (-v: who uses each; --json: source and layout; README "
               "'Pretrained assets')")
