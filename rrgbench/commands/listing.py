"""``rrgbench list`` and ``rrgbench env``. Listing methods/datasets/plugins never imports torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

KINDS = ("methods", "metrics", "datasets", "labelers", "plugins", "runs")


def text_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "") if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    widths[-1] = 0  # the last column is not padded
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def summarize_run(run_dir: Path) -> dict[str, Any]:
    """A compact view of one run directory: spec, status and every metric's summary."""
    from ..rundir import RunDir

    run = RunDir(run_dir)
    record = run.record
    metrics = {name: sf.raw for name, sf in run.scores().items()}
    spec = record["spec"]
    return {"run_dir": str(run_dir), "method": spec["method"], "dataset": spec["dataset"],
            "preset": spec.get("preset"), "seed": spec.get("seed"), "spec_hash": record["spec_hash"],
            "status": record["status"], "fidelity": record.get("fidelity", {}), "metrics": metrics}


def _registry_rows(kind: str, check: bool) -> list[dict[str, Any]]:
    from ..api import RRGBenchError
    from ..plugins import get_host

    host = get_host()
    registry = {"methods": host.methods, "metrics": host.metrics, "datasets": host.datasets,
                "labelers": host.labelers}[kind]
    rows = []
    for entry in registry.entries():
        row: dict[str, Any] = {"name": entry.name, "plugin": entry.plugin, "target": entry.target_path,
                               "description": entry.description}
        if kind == "metrics" and check:
            try:
                reason = entry.load()().availability()
            except RRGBenchError as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - a broken metric is listed, not fatal
                reason = f"{type(exc).__name__}: {exc}"
            row["ready"] = reason is None
            row["reason"] = reason or ""
        rows.append(row)
    return rows


@click.command(name="list")
@click.argument("kind", type=click.Choice(KINDS), default="methods", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="For `list runs` (default: $RRGBENCH_RUNS or ./runs).")
@click.option("--no-check", is_flag=True, help="For `list metrics`: skip the readiness check (faster).")
def list_cmd(kind: str, as_json: bool, runs_dir: Path | None, no_check: bool) -> None:
    """List methods, metrics (with readiness), datasets, labelers, plugins (with load errors) or runs."""
    if kind == "plugins":
        from dataclasses import asdict

        from ..plugins import get_host

        rows = [asdict(p) for p in get_host().plugins]
        columns = ["name", "status", "distribution", "version", "module", "error"]
    elif kind == "runs":
        from ..paths import runs_root
        from ..rundir import find_runs

        rows = []
        for run_dir in find_runs(runs_dir or runs_root()):
            try:
                s = summarize_run(run_dir)
            except Exception as exc:  # noqa: BLE001 - a broken record is listed with its error
                rows.append({"run_dir": str(run_dir), "status": f"unreadable: {exc}"})
                continue
            done = [k for k, v in s["status"].items() if v == "done"]
            s["state"] = "complete" if len(done) == len(s["status"]) else ",".join(
                f"{k}:{v}" for k, v in s["status"].items() if v != "done")
            rows.append(s)
        columns = ["dataset", "method", "preset", "seed", "state", "n"]
        if not as_json:
            from ..run_summary import board_columns, column_label, score_of

            scored = [r for r in rows if "metrics" in r]
            board = [(m, k, column_label(m, k, scored)) for m, k in board_columns(scored)]
            for r in rows:
                r["n"] = next((m.get("n") for m in (r.get("metrics") or {}).values() if m.get("n")), "")
                for metric, key, label in board:
                    value = score_of(r, metric, key) if "metrics" in r else None
                    r[label] = "-" if value is None else f"{value:.3f}"
            columns += [label for _, _, label in board]
        columns += ["run_dir"]
    else:
        rows = _registry_rows(kind, check=not no_check)
        columns = ["name", "ready", "reason"] if kind == "metrics" and not no_check else ["name", "description"]
        if kind == "metrics" and not no_check:
            columns = ["name", "ready", "description", "reason"]
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True, default=str))
    else:
        click.echo(text_table(rows, columns))


@click.command(name="env")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env_cmd(as_json: bool) -> None:
    """Print the environment facts a run record stores."""
    from ..env import capture
    from ..plugins import get_host

    env = capture(get_host().env_info())
    if as_json:
        click.echo(json.dumps(env, indent=2, sort_keys=True))
        return
    for key, value in sorted(env.items()):
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in sorted(value.items()):
                click.echo(f"  {k}: {v}")
        else:
            click.echo(f"{key}: {value}")
