"""Render the static site: index, one page per dataset, one per run, comparisons; CSV/JSON beside tables.

Templates are Jinja2 with autoescape on everywhere (report text is untrusted). Pages carry a
Content-Security-Policy that allows only the site's own inline script (by hash), so markup that slipped
through would still not run. Output is deterministic except one ``generated-at`` line on the index.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import math
import os
import shutil
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..api import CHEXPERT_LABELS, RRGBenchError
from ..io import atomic_write_bytes, atomic_write_text, dumps, sha256_file
from ..version import __version__
from . import display, plots
from .compare_view import load_comparisons
from .ranking import rank_intervals
from .records import BoardRun, Skipped, safe_part, scan_runs
from .reported import attach_reported, load_reported
from .samples import SampleSet, Thumbnails, build_samples, per_label_f1
from .table import Board, board_frame, board_json, boards_of, fmt, long_table

log = logging.getLogger("rrgbench.leaderboard")
MARKER = ".rrgbench-site"


def default_template_dir() -> Path:
    """``<repo>/templates`` (source checkout or editable install), else the installed copy."""
    here = Path(__file__).resolve().parents[2] / "templates"
    if (here / "base.html").is_file():
        return here
    installed = Path(sysconfig.get_path("data")) / "share" / "rrgbench" / "templates"
    if (installed / "base.html").is_file():
        return installed
    raise RRGBenchError(f"leaderboard templates not found (looked in {here} and {installed}); "
                        "pass --template-dir")


def make_env(template_dir: Path | None = None):
    """Jinja2 environment: ``--template-dir`` first, then the defaults (also reachable as ``default:NAME``)."""
    import jinja2

    default = jinja2.FileSystemLoader(str(default_template_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        if not Path(template_dir).is_dir():
            raise RRGBenchError(f"{template_dir}: template directory not found")
        loaders.append(jinja2.FileSystemLoader(str(template_dir)))
    loaders += [default, jinja2.PrefixLoader({"default": default}, delimiter=":")]
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["fmt"] = fmt
    env.filters["state"] = lambda v: {1: "+", 0: "−", -1: "?"}.get(v, "·")
    env.filters["pretty"] = lambda v: v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    env.filters["tokens"] = _tokens
    env.filters["num"] = lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))
    return env


@dataclass
class Site:
    """What a build produced."""

    out: Path
    runs: int
    datasets: list[str]
    pages: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # run folders left out, with the reason
    refused_images: list[tuple[str, str]] = field(default_factory=list)  # (run, path) outside the dataset root


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: list[str] = []

    def text(self, rel: str, text: str) -> None:
        atomic_write_text(self.out / rel, text)
        self.written.append(rel)

    def bytes(self, rel: str, data: bytes) -> None:
        atomic_write_bytes(self.out / rel, data)
        self.written.append(rel)

    def frame(self, rel_stem: str, df: pd.DataFrame, obj: Any = None) -> None:
        """``<stem>.csv`` and ``<stem>.json`` (``obj`` if given, else the records of ``df``)."""
        self.text(f"{rel_stem}.csv", safe_csv(df))
        if obj is None:
            obj = json.loads(df.to_json(orient="records", double_precision=15))
        self.text(f"{rel_stem}.json", dumps(obj))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (starts with ``= + - @``, tab or CR), prefixed
    with ``'`` so it is shown as text; anything else unchanged."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def safe_csv(df: pd.DataFrame) -> str:
    """``df`` as CSV text with every text cell and header passed through :func:`neutralise`
    (CSV formula injection: report text and run names are untrusted). Numbers stay numbers."""
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out.to_csv(index=False, lineterminator="\n")


def _check_out(out: Path) -> None:
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise RRGBenchError(f"{out}: cannot create the site there: {parent} is a file, not a directory")
    if out.exists() and not out.is_dir():
        raise RRGBenchError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise RRGBenchError(f"{out}: not empty and not an rrgbench site; refusing to overwrite (choose --out)")


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the freshly built ``tmp`` (two renames: readers never see a half-built site)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def _root(page: str) -> str:
    depth = page.count("/")
    return "../" * depth


def _credentialed(rec: BoardRun, cache: dict[str, bool]) -> bool:
    """The run record's flag, or the dataset plugin's class attribute (either one is enough)."""
    if rec.credentialed:
        return True
    if rec.dataset not in cache:
        try:
            from ..plugins import get_host

            datasets = get_host().datasets
            cache[rec.dataset] = bool(getattr(datasets.get(rec.dataset), "credentialed", False)) \
                if rec.dataset in datasets else False
        except Exception:  # noqa: BLE001 - a plugin that fails to load cannot vouch either way
            cache[rec.dataset] = False
    return cache[rec.dataset]


def _render(env: Any, template: str, ctx: dict[str, Any]) -> str:
    """Render one template; a broken (e.g. user-supplied) template becomes one clear error naming it."""
    import jinja2

    try:
        return env.get_template(template).render(**ctx)
    except jinja2.TemplateError as exc:
        where = getattr(exc, "filename", None) or template
        line = getattr(exc, "lineno", None)
        raise RRGBenchError(f"template {where}{f':{line}' if line else ''}: {exc.message or exc}") from None


def _script(env) -> tuple[Any, str]:
    from markupsafe import Markup

    js = _render(env, "site.js", {})
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode()
    return Markup(js), Markup(f"'sha256-{digest}'")


def _board_plots(board: Board) -> list[Any]:
    from markupsafe import Markup

    out = []
    for group, _, _ in board.groups():
        idx = [i for i, c in enumerate(board.columns) if c.group == group and c.headline and c.key]
        idx = [i for i in idx if any(r.cells[i].status == "ok" for r in board.rows)]
        if not idx:
            continue
        labels = [f"{board.columns[i].label} [{board.columns[i].sig_id}]" for i in idx]
        series = {}
        for r in board.rows:
            name = r.method + ("" if r.preset == "-" else f" ({r.preset})") + "".join(f" {k}={v}" for k, v in r.spec_tags)
            series[name] = [(r.cells[i].mean, r.cells[i].lo, r.cells[i].hi) for i in idx]
        out.append(Markup(plots.metric_bars(f"{group}: mean and 95% CI", labels, series)))
    return out


def _run_plots(rec: BoardRun) -> list[Any]:
    from markupsafe import Markup

    out = []
    by_group: dict[str, list[tuple[str, float, float, float]]] = {}
    for _metric, sf in sorted(rec.scores.items()):
        if sf.status != "ok":
            continue
        facts = sf.display_facts()
        for key, val in sorted(sf.scores.items(), key=lambda kv: facts.key_rank(kv[0])):
            if facts.label_of(key) is not None or not facts.is_headline(key):
                continue
            lo, hi = sf.ci95.get(key, [math.nan, math.nan])
            by_group.setdefault(display.group_name(facts.group), []).append((facts.label(key), val, lo, hi))
    items = [it for g in sorted(by_group, key=display.group_rank) for it in by_group[g]]
    if items:
        out.append(Markup(plots.metric_bars("Scores with bootstrap 95% CI", [i[0] for i in items],
                                            {rec.method: [(i[1], i[2], i[3]) for i in items]})))
    per = per_label_f1(rec)
    if per:
        title, labels, vals, support = per
        out.append(Markup(plots.label_bars(title, labels, vals, support or None)))
    return out


def _train_plots(rec: BoardRun) -> list[Any]:
    """Loss curves from ``run.json`` ``train``: any list of per-epoch/step dicts with numeric values."""
    from markupsafe import Markup

    out = []
    for stage, facts in sorted((rec.run.get("train") or {}).items()):
        if not isinstance(facts, dict):
            continue
        for key, val in sorted(facts.items()):
            if not (isinstance(val, list) and len(val) >= 2 and all(isinstance(v, dict) for v in val)):
                continue
            names = sorted({k for v in val for k, x in v.items()
                            if isinstance(x, (int, float)) and not isinstance(x, bool)})
            series = {n: [float(v.get(n, math.nan)) for v in val] for n in names if "loss" in n} or \
                     {n: [float(v.get(n, math.nan)) for v in val] for n in names[:4]}
            if series:
                out.append(Markup(plots.curves(f"stage {stage}: per {key.rstrip('s')}", series, xlabel=key.rstrip("s"))))
    return out


def _score_view(metric: str, sf: Any) -> dict[str, Any]:
    """One metric on a run page: headline and other scores, and per-label rows as a label x stat matrix."""
    facts = sf.display_facts()
    main, per_label, stats = [], {}, []
    for key in sorted(sf.scores, key=facts.key_rank):
        label = facts.label_of(key)
        if label:
            stat = display.stat_of(key, label)
            if stat not in stats:
                stats.append(stat)
            per_label.setdefault(label, {})[stat] = sf.scores[key]
            continue
        main.append({"key": key, "label": facts.label(key), "value": sf.scores[key],
                     "ci": sf.ci95.get(key), "headline": facts.is_headline(key)})
    stats.sort(key=lambda t: display.STATS.index(t) if t in display.STATS else 99)
    labels = [lab for lab in CHEXPERT_LABELS if lab in per_label] + sorted(set(per_label) - set(CHEXPERT_LABELS))
    return {"metric": metric, "group": display.group_name(facts.group), "sf": sf, "main": main,
            "per_label": {"stats": [display.STAT_NAMES.get(t, t) for t in stats],
                          "rows": [(lab, [per_label[lab].get(t) for t in stats]) for lab in labels]}}


def _tokens(report: str, protocol: str | None) -> str:
    """``report`` as the NLG metrics see it under ``protocol`` (the run's cleaning), for the sample viewer."""
    from ..text import clean

    try:
        return clean(report, protocol or "r2gen_iu")
    except Exception:  # noqa: BLE001 - an unknown protocol shows the text unchanged
        return report


def build_site(runs_dir: Path, out: Path, *, template_dir: Path | None = None,
               allow_credentialed_text: bool = False, thumbnails: bool = True,
               compare_files: list[Path] | None = None, generated_at: str | None = None, rank_by: str = "") -> Site:
    """Build the static site for every run under ``runs_dir`` into ``out`` (replacing a previous site there).

    Each board is ranked by its headline column (``rank_by`` KEY or METRIC.KEY when given, else the key its
    metrics declare: CE F1 micro of the offline labeler by default) with bootstrap rank intervals.

    The site is built in a sibling temporary folder and swapped in at the end, so a failed build (a bad
    record) leaves the previous site as it was.
    """
    runs_dir, out = Path(runs_dir), Path(out)
    _check_out(out)
    runs, skipped = scan_runs(runs_dir)
    env = make_env(template_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        site = _build(runs, runs_dir, tmp, env, allow_credentialed_text, thumbnails, compare_files or [],
                      generated_at, skipped, rank_by)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_in(tmp, out)
    site.out = out
    return site


@dataclass
class _Build:
    """What every page of one build shares: the writer, the template environment and the page map."""

    runs: list[BoardRun]
    runs_dir: Path
    w: _Writer
    env: Any
    script: str
    script_hash: str
    cred: dict[str, bool]
    all_boards: list[Board]
    ds_pages: dict[str, str]
    comparisons: list[Any]
    run_pages: dict[str, str] = field(default_factory=dict)

    def render(self, page: str, template: str, **ctx: Any) -> None:
        ctx = {"root": _root(page), "script": self.script, "script_hash": self.script_hash,
               "version": __version__, "generated_at": None, **ctx}
        self.w.text(page, _render(self.env, template, ctx))


def _build(runs: list[BoardRun], runs_dir: Path, out: Path, env: Any, allow_credentialed_text: bool,
           thumbnails: bool, compare_files: list[Path], generated_at: str | None, skipped: list[Skipped],
           rank_by: str = "") -> Site:
    """Run pages, board pages, comparisons, the metric page, then the index (it links to all of them)."""
    script, script_hash = _script(env)
    if generated_at is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        now = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch else dt.datetime.now(dt.timezone.utc)
        generated_at = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    cred_cache: dict[str, bool] = {}
    cred = {rec.rel: _credentialed(rec, cred_cache) for rec in runs}
    df = long_table(runs)
    datasets = sorted(df["dataset"].unique()) if not df.empty else []
    all_boards = [b for d in datasets for b in boards_of(d, df, runs)]  # one per evaluation set
    ds_pages = {b.key: "datasets/" + "/".join(safe_part(p) for p in b.key.split("/")) + "/index.html"
                for b in all_boards}
    b = _Build(runs=runs, runs_dir=runs_dir, w=_Writer(out), env=env, script=script, script_hash=script_hash,
               cred=cred, all_boards=all_boards, ds_pages=ds_pages,
               comparisons=load_comparisons(runs, compare_files, runs_dir))
    thumbs = Thumbnails(out) if thumbnails else None
    _run_pages(b, thumbs, allow_credentialed_text)
    boards = _board_pages(b, rank_by)
    _comparison_pages(b)
    metrics_page = _metric_page(b)
    _index(b, df, boards, generated_at, skipped, metrics_page, thumbs)
    atomic_write_text(out / MARKER, "built by rrgbench leaderboard\n")
    pages = sorted(p for p in b.w.written if p.endswith(".html"))
    return Site(out=out, runs=len(runs), datasets=datasets, pages=pages, files=sorted(set(b.w.written)),
                skipped=skipped, refused_images=list(thumbs.refused) if thumbs is not None else [])


def _run_pages(b: _Build, thumbs: Thumbnails | None, allow_credentialed_text: bool) -> None:
    """One page per run: scores first, then samples (withheld for credentialed data), plots and details."""
    for rec in b.runs:
        b.run_pages[rec.rel] = f"{rec.site_path}/index.html"
    for rec in b.runs:
        hide = b.cred[rec.rel] and not allow_credentialed_text
        sset = SampleSet() if hide else build_samples(rec, thumbs)
        views, score_cols = sset.views, sset.columns
        score_rows = [_score_view(metric, sf) for metric, sf in sorted(rec.scores.items(),
                      key=lambda kv: (display.group_rank(kv[1].display_facts().group), kv[0]))]
        flat = [{"metric": metric, "status": sf.status, "signature": sf.signature, "key": k,
                 "value": sf.scores.get(k), "ci_lo": sf.ci95[k][0] if k in sf.ci95 else None,
                 "ci_hi": sf.ci95[k][1] if k in sf.ci95 else None, "n": sf.n, "reason": sf.reason or None}
                for metric, sf in sorted(rec.scores.items())
                for k in (sorted(sf.scores, key=sf.display_facts().key_rank) or [""])]
        b.w.frame(f"{rec.site_path}/scores", pd.DataFrame(flat, columns=["metric", "status", "signature", "key",
                                                                         "value", "ci_lo", "ci_hi", "n", "reason"]),
                  flat)
        if views:
            sample_rows = [{"id": v.id, "report": v.report, "reference": v.reference, **v.scores,
                            "label_disagreements": ";".join(sorted(v.disagreements))} for v in views]
            b.w.frame(f"{rec.site_path}/samples", pd.DataFrame(sample_rows), sample_rows)
        primaries = {f"{m}.{sf.display_facts().primary}" for m, sf in rec.scores.items() if sf.display_facts().primary}
        default_sort = next((c for c, _ in score_cols if c in primaries), score_cols[0][0] if score_cols else "")
        if default_sort:
            views.sort(key=lambda v: (v.scores.get(default_sort, math.inf), v.id))
        b.render(b.run_pages[rec.rel], "run.html", rec=rec, dataset_page=b.ds_pages.get(rec.dataset),
                 score_rows=score_rows, plots=_run_plots(rec), train_plots=_train_plots(rec), views=views,
                 score_cols=score_cols, hidden=hide, credentialed=b.cred[rec.rel], default_sort=default_sort,
                 label_source=sset.label_source,
                 comparisons=[c for c in b.comparisons if rec.rel in (c.a, c.b)])


def _board_pages(b: _Build, rank_by: str) -> list[tuple[Board, list[dict[str, Any]]]]:
    """One page per evaluation set: ranked board with rank intervals, paper numbers where comparable."""
    boards: list[tuple[Board, list[dict[str, Any]]]] = []
    reported_cache: dict[str, Any] = {}
    for board in b.all_boards:
        d = board.dataset
        board.rank_by = rank_by
        board.ranks = rank_intervals(board)
        board.credentialed = board.credentialed or any(b.cred[r.rel] for row in board.rows for r in row.runs)
        for r in board.rows:
            if r.method not in reported_cache:
                reported_cache[r.method] = load_reported(r.method)
        reported_rows = attach_reported(board, reported_cache)
        page = b.ds_pages[board.key]
        stem = page.rsplit("/", 1)[0]
        b.w.frame(f"{stem}/leaderboard", board_frame(board), board_json(board))
        if reported_rows:
            b.w.frame(f"{stem}/reported", pd.DataFrame(reported_rows), reported_rows)
        b.render(page, "dataset.html", board=board, run_pages=b.run_pages, reported=reported_rows,
                 plots=_board_plots(board),
                 incomplete=[r for r in b.runs if r.dataset == d and _incomplete(r)] if board.key == d else [],
                 comparisons=[c for c in b.comparisons if c.dataset == d] if board.key == d else [],
                 other_boards=[o for o in b.all_boards if o.dataset == d and o is not board], ds_pages=b.ds_pages)
        boards.append((board, reported_rows))
    return boards


def _comparison_pages(b: _Build) -> None:
    """One page (with JSON and CSV beside it) per stored comparison of two runs."""
    for c in b.comparisons:
        b.w.text(c.page.replace(".html", ".json"), dumps(c.raw))
        flat = [{"metric": r["metric"], "key": r["key"], "a": r["a"], "b": r["b"], "delta": r["delta"],
                 "ci_lo": r["ci"][0] if r["ci"] else None, "ci_hi": r["ci"][1] if r["ci"] else None,
                 **{p: r["p"].get(p) for p in c.p_keys}, "signature": r["signature"]} for r in c.rows]
        b.w.text(c.page.replace(".html", ".csv"), safe_csv(pd.DataFrame(flat)))
        b.render(c.page, "compare.html", c=c, run_pages=b.run_pages, dataset_page=b.ds_pages.get(c.dataset))


def _metric_page(b: _Build) -> str | None:
    """The "How the metrics respond" page (sensitivity heat maps, labeler agreement), when they exist."""
    from .metric_page import PAGE as metrics_page
    from .metric_page import load as load_metric_studies

    heatmaps, labeler, metric_skips = load_metric_studies(b.runs_dir)
    if not (heatmaps or labeler):
        return None
    for hm in heatmaps:
        b.w.text(f"sensitivity/{safe_part(hm.dataset or 'unknown')}.json", dumps(hm.result))
    b.render(metrics_page, "metrics.html", heatmaps=heatmaps, labeler=labeler, skipped=metric_skips)
    return metrics_page


def _index(b: _Build, df: pd.DataFrame, boards: list[tuple[Board, list[dict[str, Any]]]], generated_at: str,
           skipped: list[Skipped], metrics_page: str | None, thumbs: Thumbnails | None) -> None:
    """The long score table, the file manifest (sha256 of every run file read) and the index page."""
    b.w.frame("scores_long", df,
              json.loads(df.to_json(orient="records", double_precision=15)) if not df.empty else [])
    manifest = {"rrgbench_version": __version__, "runs": [
        {"run": rec.rel, "spec_hash": rec.spec_hash, "dataset": rec.dataset, "method": rec.method,
         "credentialed": b.cred[rec.rel], "page": b.run_pages[rec.rel],
         "files": {p.relative_to(rec.path).as_posix(): sha256_file(p)
                   for p in sorted([rec.run_json, *rec.scores_dir.glob("*")])
                   if p.is_file()}}
        for rec in b.runs]}
    b.w.text("manifest.json", dumps(manifest))
    if thumbs is not None:
        b.w.written.extend(thumbs.files)
    b.render("index.html", "index.html", generated_at=generated_at, boards=boards, ds_pages=b.ds_pages,
             runs=b.runs, run_pages=b.run_pages, comparisons=b.comparisons,
             incomplete=[r for r in b.runs if _incomplete(r)], skipped=skipped, metrics_page=metrics_page)


def _incomplete(rec: BoardRun) -> bool:
    """A run without scores, or with a stage that did not finish (failed, running, pending)."""
    status = rec.run.get("status") or {}
    return not rec.scores or any(v != "done" for v in status.values())
