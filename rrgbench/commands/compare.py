"""``rrgbench compare RUN_A RUN_B``: paired comparison of two runs on the same references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _load_run(run_dir: Path) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """``(hyps by id, refs by id, run.json or {})`` of a run directory."""
    from ..api import RRGBenchError
    from ..rundir import GENERATIONS, RunDir
    from ..scoring.inputs import read_reports

    run = RunDir(run_dir)
    if not run.has_generations():
        raise RRGBenchError(f"{run_dir}: no {GENERATIONS} (is this a run directory with finished generation?)")
    hyps = read_reports(run.generations_path, ("report",), "generations")
    refs = read_reports(run.generations_path, ("reference",), "references")
    record = dict(run.record) if run.exists() else {}
    return hyps, refs, record


def _default_metrics(run_a: Path, run_b: Path) -> list[str]:
    """Metrics scored ``ok`` in both runs, else the default suite."""
    from ..api import RRGBenchError
    from ..rundir import RunDir

    def ok(run: Path) -> set[str]:
        try:
            return {name for name, sf in RunDir(run).scores().items() if sf.status == "ok"}
        except RRGBenchError:  # an unreadable summary is just not a default
            return set()

    both = sorted(ok(run_a) & ok(run_b))
    if both:
        return both
    from ..specs import default_metrics

    return list(default_metrics())


def compare_runs(run_a: Path, run_b: Path, metrics: list[str] | None = None, *,
                 options: dict[str, dict[str, Any]] | None = None, bootstrap: int = 1000, trials: int = 1000,
                 seed: int = 0, allow_missing: bool = False) -> dict[str, Any]:
    """Per metric key: A, B, delta = A − B, paired-bootstrap CI of the delta, two p-values (raw and Holm)."""
    from ..api import RRGBenchError

    hyps_a, refs_a, rec_a = _load_run(run_a)
    hyps_b, refs_b, rec_b = _load_run(run_b)
    common = [i for i in hyps_a if i in hyps_b]
    dropped = len(set(hyps_a) ^ set(hyps_b))
    if dropped and not allow_missing:
        only_a, only_b = sorted(set(hyps_a) - set(hyps_b)), sorted(set(hyps_b) - set(hyps_a))
        raise RRGBenchError(f"the runs cover different samples ({len(only_a)} only in A, e.g. {only_a[:5]}; "
                            f"{len(only_b)} only in B, e.g. {only_b[:5]}); use --allow-missing to compare the "
                            "intersection")
    if not common:
        raise RRGBenchError("the two runs share no sample id")
    differing = [i for i in common if refs_a[i] != refs_b.get(i)]
    if differing:
        raise RRGBenchError(f"the runs have different references for {len(differing)} sample(s) "
                            f"(e.g. {', '.join(differing[:5])}): they are not on the same test set")
    cleaning = (rec_a.get("dataset", {}) or {}).get("cleaning") or "r2gen_iu"
    cleaning_b = (rec_b.get("dataset", {}) or {}).get("cleaning") or "r2gen_iu"
    if cleaning != cleaning_b:
        raise RRGBenchError(f"the runs use different cleaning protocols ({cleaning} vs {cleaning_b})")
    names = metrics or _default_metrics(run_a, run_b)
    out = compare_texts([hyps_a[i] for i in common], [hyps_b[i] for i in common], [refs_a[i] for i in common],
                        names, cleaning=cleaning, options=options, bootstrap=bootstrap,
                        trials=trials, seed=seed)
    return {"run_a": str(run_a), "run_b": str(run_b), **out, "left_out": dropped}


def compare_texts(hyps_a: list[str], hyps_b: list[str], refs: list[str], metrics: list[str], *,
                  cleaning: str = "r2gen_iu",
                  bootstrap: int = 1000, trials: int = 1000, seed: int = 0,
                  options: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Paired tests of two systems' hypotheses on the same references, per metric key: A, B, delta = A − B,
    its paired-bootstrap CI, bootstrap and randomization p-values, and both Holm-adjusted
    (``p_bootstrap_holm``, ``p_randomization_holm``) within two families: the headline keys, and all
    other keys (``family`` per key; ``tests`` gives each family's size)."""
    from ..api import RRGBenchError, UnavailableError
    from ..scoring import engine
    from ..scoring.resample import approximate_randomization, holm, paired_bootstrap
    if not (len(hyps_a) == len(hyps_b) == len(refs)) or not refs:
        raise RRGBenchError(f"compare needs equally many, non-zero hypotheses A ({len(hyps_a)}), "
                            f"B ({len(hyps_b)}) and references ({len(refs)})")
    from ..plugins import get_host

    out: dict[str, Any] = {"n": len(refs), "bootstrap": bootstrap, "trials": trials, "seed": seed, "metrics": {}}
    for name in dict.fromkeys(get_host().metrics.resolve(m) for m in metrics):
        opts = dict((options or {}).get(name) or {})
        try:
            metric, stats_a = engine.sample_stats(name, hyps_a, refs, options=opts, cleaning=cleaning)
            _, stats_b = engine.sample_stats(name, hyps_b, refs, options=opts, cleaning=cleaning)
        except UnavailableError as exc:
            out["metrics"][name] = {"status": "unavailable", "reason": str(exc)}
            continue
        score_a, score_b = metric.aggregate(stats_a), metric.aggregate(stats_b)
        pb = paired_bootstrap(metric, stats_a, stats_b, b=bootstrap, seed=seed)
        ar = approximate_randomization(metric, stats_a, stats_b, trials=trials, seed=seed)
        out["metrics"][name] = {
            "status": "ok", "signature": metric.signature(), "display": metric.describe(score_a).to_json(),
            "scores": {k: {"a": score_a[k], "b": score_b[k], "delta": pb[k]["delta"], "ci95": pb[k]["ci95"],
                           "p_bootstrap": pb[k]["p_value"], "p_randomization": ar[k]} for k in score_a}}
    from ..rundir import display_of

    families: dict[str, list[dict[str, Any]]] = {"headline": [], "other": []}
    for name, m in out["metrics"].items():
        facts = display_of(name, m.get("display"), m.get("scores"))
        for key, v in (m.get("scores") or {}).items():
            v["family"] = "headline" if facts.is_headline(key) and facts.label_of(key) is None else "other"
            families[v["family"]].append(v)
    for tests in families.values():
        for kind in ("p_bootstrap", "p_randomization"):
            for v, adjusted in zip(tests, holm([v[kind] for v in tests])):
                v[f"{kind}_holm"] = adjusted
    out["tests"] = {family: len(tests) for family, tests in families.items()}
    return out


def print_comparison(res: dict[str, Any], verbose: bool = False) -> None:
    """Headline keys first, then the other scores (per-label rows with ``verbose``); raw and Holm p side by side."""
    from rich.table import Table

    from ..run_summary import fmt_p
    from ..rundir import display_of
    from ..terminal import get_console

    console = get_console("stdout")
    console.print(f"A = {res['run_a']}\nB = {res['run_b']}", markup=False, soft_wrap=True)
    console.print(f"n = {res['n']} paired samples · paired bootstrap {res['bootstrap']} · approximate "
                  f"randomization {res['trials']} · seed {res['seed']} · Holm within headline "
                  f"({res['tests']['headline']} tests) and other scores ({res['tests']['other']})",
                  soft_wrap=True)
    rows: dict[str, list[tuple[str, str, dict[str, Any]]]] = {"headline": [], "other": [], "per-label": []}
    labels: dict[tuple[str, str], str] = {}
    for name, m in res["metrics"].items():
        facts = display_of(name, m.get("display"), m.get("scores"))
        for key, v in (m.get("scores") or {}).items():
            per_label = facts.label_of(key) is not None
            part = "per-label" if per_label else "headline" if facts.is_headline(key) else "other"
            rows[part].append((name, key, v))
            labels[(name, key)] = facts.label(key)
    hidden = 0
    for part, items in rows.items():
        if not items:
            continue
        if part != "headline" and not verbose:
            hidden += len(items)
            continue
        table = Table(title=f"{part} scores", title_justify="left", box=None, pad_edge=False)
        for col, just in (("score", "left"), ("A", "right"), ("B", "right"), ("A − B", "right"),
                          ("95% CI of A − B", "right"), ("p boot", "right"), ("Holm", "right"),
                          ("p AR", "right"), ("Holm", "right")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for name, key, v in items:
            table.add_row(labels[(name, key)], f"{v['a']:.4f}", f"{v['b']:.4f}", f"{v['delta']:+.4f}",
                          f"[{v['ci95'][0]:+.4f}, {v['ci95'][1]:+.4f}]", fmt_p(v["p_bootstrap"]),
                          fmt_p(v.get("p_bootstrap_holm", v["p_bootstrap"])), fmt_p(v["p_randomization"]),
                          fmt_p(v.get("p_randomization_holm", v["p_randomization"])))
        console.print(table)
    if hidden:
        console.print(f"[dim]{hidden} more scores (other and per-label): -v or --json[/]")
    for name, m in res["metrics"].items():
        if m["status"] != "ok":
            console.print(f"[yellow]unavailable[/] {name}: {m['reason'].split('. ')[0]}", soft_wrap=True)


@click.command("compare")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--metrics", "-m", default=None, help="Comma-separated metrics (default: those scored in both runs).")
@click.option("--metric-opt", "metric_opts", multiple=True, metavar="NAME.KEY=VALUE",
              help="Option of one metric (JSON value), e.g. --metric-opt nlg.meteor=false; repeatable.")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--trials", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Approximate-randomization trials.")
@click.option("--seed", default=0, show_default=True)
@click.option("--allow-missing", is_flag=True, help="Compare the samples present in both runs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def compare(run_a: Path, run_b: Path, metrics: str | None, metric_opts: tuple[str, ...], bootstrap: int,
            trials: int, seed: int, allow_missing: bool, as_json: bool) -> None:
    """Paired comparison of RUN_A and RUN_B (run directories) by sample id: A − B, its CI, p-values."""
    from ..specs import parse_metric_opts

    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    res = compare_runs(run_a, run_b, names, options=parse_metric_opts(metric_opts, names), bootstrap=bootstrap,
                       trials=trials, seed=seed, allow_missing=allow_missing)
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    from ..terminal import verbosity

    print_comparison(res, verbose=verbosity() > 0)
