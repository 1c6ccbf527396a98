"""The end of a run on the terminal: n, the headline metrics with CIs, unavailable metrics one line each,
the run directory and the next command. Full signatures and per-label rows only with ``--verbose``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# terminal headline: one BLEU, the other NLG scores, and each metric's own F1-type headline keys
_TERMINAL_SKIP = ("bleu_1", "bleu_2", "bleu_3")


def headline_items(metrics: dict[str, Any]) -> list[tuple[str, str, float, list[float] | None]]:
    """``(metric, key, value, ci95)`` of every headline score of ok metrics, in display order."""
    from .leaderboard.schema import GROUP_ORDER, group_of, is_headline, key_order

    rows = []
    for name, res in metrics.items():
        if res.get("status") != "ok":
            continue
        for key in sorted(res.get("scores", {}), key=key_order):
            if key in _TERMINAL_SKIP or not is_headline(name, key):
                continue
            rows.append((name, key, float(res["scores"][key]), (res.get("ci95") or {}).get(key)))
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return sorted(rows, key=lambda r: order.get(group_of(r[0]), len(order)))


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

    from .leaderboard.schema import display_name
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
        table.add_row(display_name(name, key), f"{value:.4f}", f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")
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
