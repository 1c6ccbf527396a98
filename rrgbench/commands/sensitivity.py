"""``rrgbench sensitivity``: how each metric responds to controlled harmful and neutral report edits."""

from __future__ import annotations

import json
from pathlib import Path

import click


def default_output(dataset: str) -> Path:
    """``<runs root>/_sensitivity/<dataset>.json``: where ``rrgbench leaderboard`` looks for suite results."""
    from ..paths import runs_root

    return runs_root() / "_sensitivity" / f"{dataset}.json"


@click.command("sensitivity")
@click.option("--dataset", "-d", default="iu_xray_phantom", show_default=True, help="Dataset whose references are edited.")
@click.option("--split", default="test", show_default=True)
@click.option("--section", default="findings", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Dataset directory.")
@click.option("--metrics", "-m", default="nlg,bertscore,chexpert_rules,umls,token", show_default=True,
              help="Comma-separated metric names.")
@click.option("--metric-opt", "metric_opts", multiple=True, metavar="NAME.KEY=VALUE",
              help="A metric constructor option, e.g. chexpert_rules.preset=radeval (repeatable).")
@click.option("--n", "n", default=500, show_default=True, type=click.IntRange(min=2), help="References to edit (seeded sample).")
@click.option("--seed", default=0, show_default=True, help="Seed of the sample, the edits and the bootstrap.")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=0), help="Paired bootstrap resamples.")
@click.option("--band", default=0.05, show_default=True, type=click.FloatRange(min=0),
              help="Neutral edits count as robust when the CI of the change stays within ± band × the identity score.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Result file (default: <runs>/_sensitivity/<dataset>.json, read by `rrgbench leaderboard`).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Do not score: print a result file written before (with --markdown METRIC for README tables).")
@click.option("--markdown", "markdown_metric", metavar="METRIC", help="Print METRIC's rows as a Markdown table.")
def sensitivity(dataset: str, split: str, section: str, data_dir: Path | None, metrics: str,
                metric_opts: tuple[str, ...], n: int, seed: int, bootstrap: int, band: float, output: Path | None,
                as_json: bool, from_file: Path | None, markdown_metric: str | None) -> None:
    """Edit real references (negation flips, laterality swaps, dropped / inserted findings, severity and
    device changes; sentence shuffles, synonyms, rephrased normal sentences) and report, per edit and
    metric, the mean score change with a paired-bootstrap CI and a sensitive / robust verdict.

    \b
    rrgbench sensitivity --dataset iu_xray_phantom --metrics nlg,bertscore,chexpert_rules,umls,token
    """
    from ..io import atomic_write_json, read_json
    from ..sensitivity import suite
    from ..specs import parse_metric_opts
    from .score import load_dataset_refs, split_metrics

    if from_file is not None:
        result = read_json(from_file)
        if markdown_metric:
            click.echo(suite.format_markdown(result, markdown_metric))
        else:
            click.echo(json.dumps(result, indent=2) if as_json else suite.format_table(result))
        return
    names = split_metrics(metrics)
    options = parse_metric_opts(metric_opts, names)
    refs, cleaning = load_dataset_refs(dataset, split, section, data_dir)
    result = suite.run(refs, names, n=n, seed=seed, bootstrap=bootstrap, band=band, options=options,
                       cleaning=cleaning, dataset=dataset, split=split,
                       progress=None if as_json else (lambda msg: click.echo(msg, err=True)))
    path = output or default_output(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, result)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif markdown_metric:
        click.echo(suite.format_markdown(result, markdown_metric))
    else:
        click.echo(suite.format_table(result))
        click.echo(f"written: {path}")
