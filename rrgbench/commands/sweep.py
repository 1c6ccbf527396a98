"""``rrgbench sweep``: run methods × datasets × seeds inline, as local subprocesses, or on Slurm (submitit)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _names(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@click.command(name="sweep")
@click.option("--methods", "-m", required=True, help="Comma-separated method names.")
@click.option("--datasets", "-d", required=True, help="Comma-separated dataset names.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds, or a range like 0-4.")
@click.option("--preset", default="tiny", show_default=True, help="Configuration preset for every method.")
@click.option("--metrics", default=None, help="Comma-separated metric names.  [default: the default suite]")
@click.option("--metric-opt", "metric_opts", multiple=True, metavar="NAME.KEY=VALUE",
              help="Option of one metric (JSON value), e.g. --metric-opt nlg.protocol=ptb; repeatable.")
@click.option("--limit", type=int, default=None, help="Generate and score only the first N samples.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Method config override (all methods).")
@click.option("--dataset-opt", "dataset_opts", multiple=True, metavar="KEY=VALUE", help="Dataset option.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where run directories go.  [default: $RRGBENCH_RUNS or ./runs]")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Dataset root.")
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap resamples for 95% CIs.")
@click.option("--executor", type=click.Choice(["inline", "local", "slurm"]), default="inline", show_default=True,
              help="inline: one after another here; local: submitit subprocesses; slurm: a submitit job array.")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="submitit logs.  [default: <runs-dir>/_sweep_logs]")
@click.option("--partition", default=None, help="Slurm partition.")
@click.option("--account", default=None, help="Slurm account.")
@click.option("--nodes", type=int, default=1, show_default=True, help="Slurm nodes per run.")
@click.option("--gpus-per-node", type=int, default=0, show_default=True, help="GPUs per node (one process each).")
@click.option("--cpus-per-task", type=int, default=8, show_default=True, help="CPUs per process.")
@click.option("--mem-gb", type=int, default=None, help="Memory per node in GB.")
@click.option("--timeout-min", type=int, default=24 * 60, show_default=True, help="Time limit per job (requeued).")
@click.option("--array-parallelism", type=int, default=16, show_default=True, help="Slurm jobs running at once.")
@click.option("--no-wait", is_flag=True, help="Submit and print job ids without waiting (local/slurm).")
@click.option("--dry-run", is_flag=True, help="Print the grid (spec hashes and run directories), run nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def sweep(methods: str, datasets: str, seeds: str, preset: str, metrics: str | None, limit: int | None,
          overrides: tuple[str, ...], dataset_opts: tuple[str, ...], metric_opts: tuple[str, ...], runs_dir: Path | None, data_dir: Path | None,
          bootstrap: int, executor: str, log_dir: Path | None, partition: str | None, account: str | None,
          nodes: int, gpus_per_node: int, cpus_per_task: int, mem_gb: int | None, timeout_min: int,
          array_parallelism: int, no_wait: bool, dry_run: bool, as_json: bool) -> None:
    """Run every METHOD × DATASET × SEED; finished runs are reused, interrupted ones resume.

    \b
    Examples:
      rrgbench sweep -m majority,retrieval -d synthetic --seeds 0-2
      rrgbench sweep -m r2gen -d iu_xray --preset paper --seeds 0-4 --executor slurm \\
          --partition gpu --gpus-per-node 4 --timeout-min 720
    """
    import json

    from ..api import RRGBenchError
    from ..paths import runs_root
    from ..specs import default_metrics, parse_metric_opts, parse_overrides
    from ..sweep import SlurmOptions, SweepJob, grid, run_sweep

    seed_list = _seeds(seeds)
    metric_names = tuple(_names(metrics)) if metrics is not None else default_metrics()
    fields = {"preset": preset, "metrics": metric_names, "limit": limit,
              "overrides": parse_overrides(overrides), "dataset_options": parse_overrides(dataset_opts, flag="--dataset-opt"),
              "metric_options": parse_metric_opts(metric_opts, metric_names)}
    if limit is not None and limit <= 0:
        raise RRGBenchError("--limit must be a positive integer")
    specs = grid(_names(methods), _names(datasets), seed_list, **fields)
    runs_dir = (runs_dir or runs_root()).resolve()
    if dry_run:
        rows = [{"method": s.method, "dataset": s.dataset, "seed": s.seed, "spec_hash": s.spec_hash,
                 "run_dir": str(s.run_dir(runs_dir))} for s in specs]
        click.echo(json.dumps(rows, indent=2) if as_json else "\n".join(
            f"{r['method']:<14} {r['dataset']:<18} seed {r['seed']:<3} {r['run_dir']}" for r in rows))
        return
    jobs = [SweepJob(spec=s.to_dict(), runs_dir=str(runs_dir), bootstrap=bootstrap,
                     data_dir=str(data_dir) if data_dir else None) for s in specs]
    slurm = SlurmOptions(partition=partition, nodes=nodes, gpus_per_node=gpus_per_node,
                         tasks_per_node=max(1, gpus_per_node), cpus_per_task=cpus_per_task, mem_gb=mem_gb,
                         timeout_min=timeout_min, array_parallelism=array_parallelism, account=account)
    results = run_sweep(jobs, executor=executor, log_dir=log_dir, slurm=slurm, wait=not no_wait)
    if as_json:
        click.echo(json.dumps(results, indent=2, sort_keys=True))
    else:
        from ..run_summary import print_seed_table
        from .listing import summarize_run

        finished = [summarize_run(Path(r["run_dir"])) for r in results if r.get("run_dir") and "error" not in r]
        for spec, res in zip(specs, results):
            state = res.get("error") or res.get("run_dir") or f"submitted as job {res.get('job_id')}"
            click.echo(f"{spec.method:<14} {spec.dataset:<18} seed {spec.seed:<3} {state}")
        if finished:
            print_seed_table(finished)
    if any("error" in r for r in results):
        sys.exit(1)


def _seeds(text: str) -> list[int]:
    from ..api import RRGBenchError

    out: list[int] = []
    for part in _names(text):
        lo, sep, hi = part.partition("-")
        try:
            out.extend(range(int(lo), int(hi) + 1) if sep else [int(part)])
        except ValueError:
            raise RRGBenchError(f"--seeds: '{part}' is not a seed or a range like 0-4") from None
    if not out:
        raise RRGBenchError("--seeds is empty")
    return out
