"""The end of a run on the terminal: n, the headline metrics with CIs, unavailable metrics one line each,
the run directory and the next command. Full signatures and per-label rows only with ``--verbose``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def headline_items(metrics: dict[str, Any]) -> list[tuple[str, str, float, list[float] | None]]:
    """``(metric, key, value, ci95)`` of every headline score of ok metrics (as each metric's display facts
    say), in display order."""
    from .leaderboard.display import group_rank
    from .rundir import display_of

    rows = []
    for name, res in metrics.items():
        if res.get("status") != "ok":
            continue
        facts = display_of(name, res.get("display"), res.get("scores"))
        for key in sorted(res.get("scores", {}), key=facts.key_rank):
            if not facts.is_headline(key) or facts.label_of(key) is not None:
                continue
            rows.append((group_rank(facts.group), name, key, float(res["scores"][key]), (res.get("ci95") or {}).get(key)))
    return [r[1:] for r in sorted(rows, key=lambda r: r[0])]


def board_columns(summaries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Columns of `list runs` and the sweep table: one ``(metric, key)`` per metric scored ok in any summary,
    the key its display facts rank by (``primary``, else the first headline key), by group then name."""
    from .leaderboard.display import group_rank
    from .rundir import display_of

    found: dict[str, tuple[tuple[int, str], str]] = {}
    for summary in summaries:
        for name, res in (summary.get("metrics") or {}).items():
            if name in found or res.get("status") != "ok" or not res.get("scores"):
                continue
            facts = display_of(name, res.get("display"), res.get("scores"))
            keys = sorted((k for k in res["scores"] if facts.label_of(k) is None), key=facts.key_rank)
            key = facts.primary or next((k for k in keys if facts.is_headline(k)), keys[0] if keys else "")
            if key:
                found[name] = (group_rank(facts.group), key)
    return [(m, key) for m, (_, key) in sorted(found.items(), key=lambda kv: (kv[1][0], kv[0]))]


def column_label(metric: str, key: str, summaries: list[dict[str, Any]] | None = None) -> str:
    """The key's display name as its metric declares it, with ``[metric]``."""
    from .rundir import display_of

    res = next((((s.get("metrics") or {}).get(metric) or {}) for s in summaries or []
                if (s.get("metrics") or {}).get(metric)), {})
    return f"{display_of(metric, res.get('display'), res.get('scores')).label(key)} [{metric}]"


def score_of(summary: dict[str, Any], metric: str, key: str) -> float | None:
    res = (summary.get("metrics") or {}).get(metric) or {}
    value = res.get("scores", {}).get(key) if res.get("status") == "ok" else None
    return float(value) if value is not None else None


def fmt_p(p: float) -> str:
    """A p-value as people print it: ``< 0.001`` below a thousandth, else three decimals."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def first_sentence(text: str, limit: int = 160) -> str:
    """The first line/sentence of an unavailable reason, cut to ``limit`` characters."""
    line = " ".join(str(text).split())
    for stop in (". ", "; "):
        head, sep, _ = line.partition(stop)
        if sep and len(head) > 20:
            line = head
            break
    return line if len(line) <= limit else line[: limit - 1] + "…"


def fix_hint(reason: str) -> str:
    """The part of a reason that says what to do, when it names one (Download…, put…, set…, install…)."""
    low = reason.lower()
    for word in ("download", "put ", "set ", "install", "run "):
        i = low.find(word)
        if i >= 0:
            return first_sentence(reason[i:], 400)
    return ""


def print_run_end(summary: dict[str, Any], *, verbose: bool = False, next_hint: str | None = None) -> None:
    """Print the compact end-of-run view of :func:`rrgbench.commands.listing.summarize_run`'s summary."""
    from rich.table import Table

    from .rundir import display_of
    from .terminal import get_console

    console = get_console("stdout")
    metrics = summary["metrics"]
    n = next((r.get("n") for r in metrics.values() if r.get("n")), None)
    title = (f"{summary['method']} on {summary['dataset']} ({summary.get('preset')}, seed {summary.get('seed')})"
             + (f" · n = {n}" if n else ""))
    console.print(f"[bold]{title}[/]", soft_wrap=True)
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("metric", style="bold")
    table.add_column("score", justify="right")
    table.add_column("95% CI", justify="right", style="dim")
    for name, key, value, ci in headline_items(metrics):
        table.add_row(display_of(name, metrics[name].get("display"), metrics[name].get("scores")).label(key), f"{value:.4f}", f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")
    console.print(table)
    missing = {k: v for k, v in metrics.items() if v.get("status") != "ok"}
    if missing:
        console.print("[yellow]unavailable[/]")
        for name, res in missing.items():
            reason = str(res.get("reason", ""))
            fix = fix_hint(reason)
            line = first_sentence(reason, 110) + (f" → {fix}" if fix and fix not in first_sentence(reason) else "")
            console.print(f"  {name:<15} {line}", soft_wrap=True, overflow="ignore")
    if verbose:
        for name, res in metrics.items():
            console.print(f"[dim]{name}: {res.get('signature', '')}[/]", soft_wrap=True)
            for key, value in sorted((res.get("scores") or {}).items()):
                ci = (res.get("ci95") or {}).get(key)
                console.print(f"    {key:<44} {value:.4f}" + (f"  [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""),
                              markup=False)
    run_dir = Path(summary["run_dir"])
    console.print(f"run directory  {run_dir}", soft_wrap=True, markup=False)
    console.print(f"next           {next_hint or _next_command(summary, missing)}", soft_wrap=True, markup=False)


def _next_command(summary: dict[str, Any], missing: dict[str, Any]) -> str:
    if missing:
        return f"rrgbench rescore {summary['run_dir']} --metrics {','.join(missing)}   (once the weights are in place)"
    return (f"rrgbench compare {summary['run_dir']} <other run>   ·   rrgbench leaderboard   ·   "
            f"rrgbench list runs")


def mean_ci(values: list[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95% t-interval across seeds (None for a single value)."""
    import math

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(t.ppf(0.975, n - 1) * sd / math.sqrt(n))


def seed_table(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, method, preset): seeds, and per board column the mean and 95% CI half-width."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for s in summaries:
        groups.setdefault((s["dataset"], s["method"], str(s.get("preset"))), []).append(s)
    columns = board_columns(summaries)
    rows = []
    for (dataset, method, preset), runs in groups.items():
        row: dict[str, Any] = {"dataset": dataset, "method": method, "preset": preset,
                               "seeds": sorted(r.get("seed") for r in runs), "scores": {}}
        for metric, key in columns:
            values = [v for v in (score_of(r, metric, key) for r in runs) if v is not None]
            if values:
                mean, half = mean_ci(values)
                row["scores"][f"{metric}/{key}"] = {"mean": mean, "ci95_half": half, "n_seeds": len(values)}
        rows.append(row)
    return rows


def print_seed_table(summaries: list[dict[str, Any]]) -> None:
    """The end of a sweep: mean ± 95% CI (t, across seeds) of the board columns per method."""
    from rich.table import Table

    from .terminal import get_console

    columns = board_columns(summaries)
    table = Table(title="mean ± 95% CI across seeds", title_justify="left", box=None, pad_edge=False)
    for col in ("dataset", "method", "seeds"):
        table.add_column(col)
    for metric, key in columns:
        table.add_column(column_label(metric, key, summaries), justify="right")
    for row in seed_table(summaries):
        cells = []
        for metric, key in columns:
            cell = row["scores"].get(f"{metric}/{key}")
            if cell is None:
                cells.append("-")
            else:
                half = cell["ci95_half"]
                cells.append(f"{cell['mean']:.3f}" + (f" ± {half:.3f}" if half is not None else ""))
        table.add_row(row["dataset"], row["method"], ",".join(map(str, row["seeds"])), *cells)
    get_console("stdout").print(table)
