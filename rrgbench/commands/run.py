"""``rrgbench run``: prepare → train → generate → score for one method on one dataset."""

from __future__ import annotations

from pathlib import Path

import click

from ..devices import device_option


@click.command(name="run")
@click.option("--method", "-m", help="Method name (see `rrgbench list methods`).")
@click.option("--dataset", "-d", help="Dataset name (see `rrgbench list datasets`).")
@click.option("--preset", default=None, help="Configuration preset: tiny (CPU, minutes) or paper.  [default: tiny]")
@click.option("--seed", type=int, default=None, help="Random seed.  [default: 0]")
@click.option("--metrics", default=None, help="Comma-separated metric names.  [default: the default suite]")
@click.option("--metric-opt", "metric_opts", multiple=True, metavar="NAME.KEY=VALUE",
              help="Option of one metric (JSON value), e.g. --metric-opt nlg.protocol=ptb; repeatable.")
@click.option("--limit", type=int, default=None, help="Generate and score only the first N samples of the split.")
@click.option("--split", default=None, type=click.Choice(["train", "val", "test"]), help="Split to generate. [test]")
@click.option("--section", default=None, help="Report section: findings, impression, findings_impression.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a method config value (JSON value; dots nest), e.g. --set epochs=3. The key must "
                   "exist in the method's default config and the value have its type.")
@click.option("--dataset-opt", "dataset_opts", multiple=True, metavar="KEY=VALUE",
              help="Dataset option (JSON value), e.g. --dataset-opt n_studies=200 for `synthetic`.")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON or YAML run-spec file; command-line options override its fields.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where run directories go.  [default: $RRGBENCH_RUNS or ./runs]")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Dataset root (default: $RRGBENCH_DATA/<dataset>).")
@click.option("--skip-bad", is_flag=True, help="Skip (and count) bad samples instead of stopping.")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap resamples for 95% CIs.")
@click.option("--force", is_flag=True, help="Redo every stage even if a finished one exists (a run directory whose "
              "run.json is unreadable is moved aside, never deleted, and the run starts over).")
@click.option("--wait", is_flag=True, help="If the same run is already running (its run.lock is held), wait for it "
              "instead of exiting with a message.")
@click.option("--dry-run", is_flag=True, help="Print the frozen spec and run directory, run nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@device_option
def run(method: str | None, dataset: str | None, preset: str | None, seed: int | None, metrics: str | None,
        limit: int | None, split: str | None, section: str | None, overrides: tuple[str, ...],
        dataset_opts: tuple[str, ...], metric_opts: tuple[str, ...], spec_file: Path | None, runs_dir: Path | None,
        data_dir: Path | None, skip_bad: bool, bootstrap: int, force: bool, wait: bool, dry_run: bool, as_json: bool,
        device: str | None) -> None:
    """Prepare, train, generate and score METHOD on DATASET; finished stages are reused.

    \b
    Examples:
      rrgbench run --method majority --dataset iu_xray_phantom
      rrgbench run --method revtaf --dataset iu_xray --preset paper --seed 1
    """
    from ..devices import set_device

    set_device(device)
    import json

    from ..api import RRGBenchError
    from ..paths import runs_root
    from ..runner import Runner, build_spec
    from ..specs import (
        deep_merge,
        default_metrics,
        load_spec_file,
        parse_metric_opts,
        parse_overrides,
        spec_from_dict,
    )

    fields: dict = {}
    if spec_file is not None:
        base = spec_from_dict(load_spec_file(spec_file), source=str(spec_file))
        fields = base.to_dict()
        fields.pop("config")
        fields["overrides"] = base.config
    cli_fields = {"method": method, "dataset": dataset, "preset": preset, "seed": seed, "limit": limit,
                  "split": split, "section": section}
    fields.update({k: v for k, v in cli_fields.items() if v is not None})
    if dataset_opts:
        fields["dataset_options"] = {**fields.get("dataset_options", {}), **parse_overrides(dataset_opts, flag="--dataset-opt")}
    if metrics is not None:
        fields["metrics"] = tuple(m.strip() for m in metrics.split(",") if m.strip())
    if not fields.get("method") or not fields.get("dataset"):
        raise RRGBenchError("--method and --dataset are required (or a --spec file naming them)")
    if bootstrap < 0:
        raise RRGBenchError("--bootstrap must be >= 0")
    if fields.get("limit") is not None and fields["limit"] <= 0:
        raise RRGBenchError("--limit must be a positive integer")
    fields["metrics"] = tuple(fields["metrics"]) if "metrics" in fields else default_metrics()
    if metric_opts or fields.get("metric_options"):
        fields["metric_options"] = deep_merge(fields.get("metric_options") or {}, parse_metric_opts(metric_opts))
        unknown = sorted(set(fields["metric_options"]) - set(fields["metrics"]))
        if unknown:
            raise RRGBenchError(f"--metric-opt / metric_options: {', '.join(unknown)} not among the scored metrics "
                                f"({', '.join(fields['metrics'])})")
    user_overrides = deep_merge(fields.pop("overrides", {}) or {}, parse_overrides(overrides))
    spec = build_spec(fields.pop("method"), fields.pop("dataset"), preset=fields.pop("preset", "tiny"),
                      seed=fields.pop("seed", 0), overrides=user_overrides, **fields)
    runs_dir = runs_dir or runs_root()
    if dry_run:
        from ..plugins import get_host
        from ..runner import asset_rows, format_asset_row

        rows = asset_rows(get_host().methods.get(spec.method), spec.config, spec.preset)
        click.echo(json.dumps({"spec": spec.to_dict(), "spec_hash": spec.spec_hash,
                               "run_dir": str(spec.run_dir(runs_dir)), "pretrained_assets": rows},
                              indent=2, sort_keys=True))
        for row in rows:  # the same, one readable line per asset (stderr: stdout stays JSON)
            click.echo(f"pretrained asset {format_asset_row(row)}", err=True)
        return
    from ..terminal import console_reporter, verbosity

    runner = Runner(spec, runs_dir, force=force, data_dir=data_dir, skip_bad=skip_bad, bootstrap=bootstrap,
                    reporter=console_reporter(), wait=wait)
    run_dir = runner.run()
    if not runner.world.is_main:  # launched with several processes: rank 0 reports
        return
    from ..run_summary import print_run_end
    from .listing import summarize_run

    summary = summarize_run(run_dir)
    if as_json:
        summary["stages"] = [{"stage": s, "action": a, "seconds": t} for s, a, t in runner.events]
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    print_run_end(summary, verbose=verbosity() > 0)
