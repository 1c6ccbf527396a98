"""``rrgbench score``: score any system's generations against references, with signatures and CIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..devices import device_option


def split_metrics(value: str) -> list[str]:
    """Registered metric names (matched case- and punctuation-insensitively) of a comma-separated list."""
    from ..plugins import get_host

    names = [m.strip() for m in value.split(",") if m.strip()]
    if not names:
        raise click.BadParameter("give at least one metric name")
    return list(dict.fromkeys(get_host().metrics.resolve(n) for n in names))


def load_dataset_refs(name: str, split: str, section: str, data_dir: Path | None) -> tuple[dict[str, str], str]:
    """``({id: reference}, cleaning protocol)`` of a dataset split."""
    from ..plugins import get_host

    cls = get_host().datasets.get(name)
    ds = cls(data_dir=data_dir, section=section)
    ds.prepare()
    samples = ds.split(split)
    if not samples:
        from ..api import RRGBenchError

        raise RRGBenchError(f"dataset {name}: split '{split}' has no samples")
    return {s.id: s.report for s in samples}, ds.cleaning


def format_table(summary: dict[str, Any], verbose: bool = False) -> str:
    """n, every score with its CI, unavailable metrics one line each; signatures with ``verbose``."""
    from ..run_summary import first_sentence, fix_hint

    lines = [f"n = {summary['n']}  (bootstrap {summary['bootstrap']} resamples, seed {summary['seed']})"]
    for key in summary["keys"]:
        lo_hi = summary["ci95"].get(key)
        ci = f"  [{lo_hi[0]:.4f}, {lo_hi[1]:.4f}]" if lo_hi else ""
        lines.append(f"  {key:<22} {summary[key]:.4f}{ci}")
    for name, reason in summary["unavailable"].items():
        fix = fix_hint(reason)
        head = reason if verbose else first_sentence(reason, 110)
        lines.append(f"  {name}: unavailable: {head}" + (f" → {fix}" if fix and not verbose and fix not in head else ""))
    if verbose:
        for name, sig in summary["signatures"].items():
            lines.append(f"  signature {name}: {sig}")
    else:
        lines.append("  (signatures: -v or --json)")
    if summary.get("missing_predictions") or summary.get("missing_references"):
        lines.append(f"  left out: {summary['missing_predictions']} reference(s) without prediction, "
                     f"{summary['missing_references']} prediction(s) without reference")
    return "\n".join(lines)


def _verbose() -> bool:
    from ..terminal import verbosity

    return verbosity() > 0


def summarize(results: dict[str, Any], info: dict[str, Any], bootstrap: int, seed: int) -> dict[str, Any]:
    """One flat JSON object: score keys at the top level, ``ci95`` beside them."""
    out: dict[str, Any] = {"n": info["n"], "missing_predictions": info["missing_predictions"],
                           "missing_references": info["missing_references"], "bootstrap": bootstrap,
                           "seed": seed, "keys": [], "ci95": {}, "signatures": {}, "unavailable": {}}
    for name, res in results.items():
        out["signatures"][name] = res.get("signature", "")
        if res.get("status") != "ok":
            out["unavailable"][name] = res.get("reason", "")
            continue
        for key, value in res["scores"].items():
            out[key] = value
            out["keys"].append(key)
            if key in res.get("ci95", {}):
                out["ci95"][key] = res["ci95"][key]
    return out


@click.command("score")
@click.option("--predictions", "-p", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help='JSONL, one {"id": ..., "report": ...} per line.')
@click.option("--references", "-r", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL, one {"id": ..., "report": ...} (or "reference") per line.')
@click.option("--dataset", "-d", help="Take the references from this dataset's split instead.")
@click.option("--split", default="test", show_default=True, help="Dataset split (with --dataset).")
@click.option("--section", default="findings", show_default=True, help="Report section (with --dataset).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Dataset directory.")
@click.option("--metrics", "-m", default=None,
              help="Comma-separated metric names (default: the default suite, as `rrgbench list metrics` marks it).")
@click.option("--cleaning", default=None, help="Report cleaning protocol for metrics that take one (default: the "
              "dataset's, else r2gen_iu).")
@click.option("--metric-opt", "metric_opts", multiple=True, metavar="NAME.KEY=VALUE",
              help="Option of one metric (JSON value), e.g. --metric-opt nlg.protocol=ptb, "
                   "--metric-opt bertscore.setting=radeval, --metric-opt nlg.meteor=false (repeatable).")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap resamples for the 95% CIs (0: none).")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--allow-missing", is_flag=True, help="Score the ids present on both sides; report how many were left out.")
@click.option("--allow-unavailable", is_flag=True,
              help="Exit 0 even when a metric named with --metrics is unavailable here (it is still reported "
                   "unavailable, never scored). Without it such a run exits 1.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Also write scores/<metric>.json and <metric>.samples.jsonl into this directory.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the score cache.")
@click.option("--strict", is_flag=True, help="An empty prediction or reference is an error (default: a warning "
              "naming the ids; the pair is scored as empty text).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@device_option
def score(predictions: Path, references: Path | None, dataset: str | None, split: str, section: str,
          data_dir: Path | None, metrics: str | None, cleaning: str | None, metric_opts: tuple[str, ...], bootstrap: int,
          seed: int, allow_missing: bool, allow_unavailable: bool, output: Path | None, no_cache: bool, strict: bool, as_json: bool,
          device: str | None) -> None:
    """Score PREDICTIONS against references (a JSONL file or a dataset split).

    \b
    rrgbench score -p preds.jsonl -r refs.jsonl --metrics nlg --metric-opt nlg.protocol=ptb --json
    rrgbench score -p preds.jsonl --dataset iu_xray --split test
    rrgbench score -p preds.jsonl -r refs.jsonl -m chexpert_rules --metric-opt chexpert_rules.preset=ifcc

    Exits 1 when a metric named with --metrics is unavailable here (missing weights, no Java), unless
    --allow-unavailable; metrics of the default suite that are unavailable are reported, not fatal.
    Scoring a file against itself (same path, or predictions equal to the references row for row) warns.
    """
    from ..devices import set_device

    set_device(device)
    from ..api import RRGBenchError
    from ..scoring import engine
    from ..scoring.inputs import empty_texts, pair, read_reports

    if (references is None) == (dataset is None):
        raise RRGBenchError("give exactly one of --references FILE or --dataset NAME")
    if output is not None:  # before scoring, not after minutes of it
        from ..io import check_dir_target

        check_dir_target(output / "scores", f"--output {output}")
    from ..specs import default_metrics, parse_metric_opts

    names = split_metrics(metrics) if metrics is not None else list(default_metrics())
    options = parse_metric_opts(metric_opts, names)
    preds = read_reports(predictions, ("report",), "predictions")
    if references is not None:
        refs = read_reports(references, ("report", "reference"), "references")
        ref_name, default_cleaning = str(references), "r2gen_iu"
    else:
        refs, default_cleaning = load_dataset_refs(dataset, split, section, data_dir)
        ref_name = f"dataset {dataset} ({split})"
    ids, hyps, refs_list, info = pair(preds, refs, allow_missing, str(predictions), ref_name)
    empty = empty_texts(ids, hyps, refs_list)
    if empty and strict:
        raise RRGBenchError(f"{empty} (--strict; drop or fill them)")
    if empty:
        click.echo(f"warning: {empty}; scored as empty text (--strict makes this an error)", err=True)
    same_file = references is not None and Path(predictions).resolve() == Path(references).resolve()
    if same_file or hyps == refs_list:
        why = "the same file" if same_file else "identical to the references, row for row"
        click.echo(f"warning: the predictions are {why}: scoring them measures nothing about a system "
                   "(every score is its maximum)", err=True)
    from ..rundir import SCORES_DIR, write_scores
    from ..scoring.engine import scoring_world

    world = scoring_world()
    writes = output is not None and (world is None or world.is_main)  # under a launcher rank 0 writes

    def finished(name: str, result: dict[str, Any]) -> None:
        """Each metric's files as soon as it is done; its per-sample rows are then dropped from memory (the
        summary needs the scores only): with 100k pairs, three metrics' rows would stay until the end."""
        if writes:
            write_scores({name: result}, output / SCORES_DIR)  # type: ignore[operator]
        result.pop("per_sample", None)

    del preds, refs  # the paired lists below are what is scored
    results = engine.score(names, ids, hyps, refs_list, options=options,
                           bootstrap=bootstrap, seed=seed, cleaning=cleaning or default_cleaning,
                           cache=not no_cache, on_result=finished)
    if world is not None and not world.is_main:
        return  # under torchrun / accelerate launch every rank scored its share; rank 0 writes and prints
    summary = summarize(results, info, bootstrap, seed)
    click.echo(json.dumps(summary, indent=2, sort_keys=False) if as_json else format_table(summary, verbose=_verbose()))
    requested = [n for n in summary["unavailable"] if metrics is not None]  # the default suite may lack weights
    if requested and not allow_unavailable:
        click.echo(f"error: requested metric(s) unavailable here: {', '.join(requested)} (reasons above); "
                   "pass --allow-unavailable to accept", err=True)
        raise click.exceptions.Exit(1)
