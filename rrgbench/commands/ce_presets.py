"""``rrgbench ce-presets``: every clinical-efficacy preset, what it computes and which paper it reproduces."""

from __future__ import annotations

import json

import click


@click.command("ce-presets")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the definitions as JSON.")
def ce_presets(name: str | None, as_json: bool) -> None:
    """List CE presets (or one NAME). Select one with ``--metric-opt chexpert_rules.preset=NAME``."""
    from ..clinical.ce import PRESETS, CEConfig

    names = [name] if name else list(PRESETS)
    rows = [CEConfig.from_options(preset=n).definition() for n in names]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['preset']}")
        click.echo(f"  labels {'+'.join(row['labels'])} | uncertain {row['uncertain']} | blank negative | "
                   f"averages {'+'.join(row['averages'])}")
        for key in ("protocol", "labeler", "headline", "per_sample", "source"):
            click.echo(f"  {key.replace('_', '-'):<10} {row[key]}")
