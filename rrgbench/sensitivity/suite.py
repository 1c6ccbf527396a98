"""Score edited-vs-original reports with each metric and summarise how each metric responds to each edit.

Flow: pick up to ``n`` references of a dataset split (seeded) -> apply every edit of :data:`.edits.EDITS`
where its rule finds a target -> for each metric, compute per-pair statistics once for all identity pairs
(original vs itself) and all edited pairs (edited vs original) -> per (edit, metric key) on the eligible
samples: Δ = corpus score(edited) − corpus score(identity), its paired-bootstrap 95% CI (same resamples for
both), and the share of samples whose own score moved the right way.

Verdicts: a harmful edit is ``sensitive`` for a key when the CI of Δ lies entirely on the harmful side of 0
(below for higher-is-better keys, above for lower-is-better), ``wrong-way`` when it lies entirely on the
other side, else ``insensitive``. A neutral edit is ``robust`` when the whole CI lies within ± ``band`` ×
|identity score|, else ``not-robust``. "Right direction" per sample is: moved the harmful way (harmful), or
stayed within the same relative band (neutral).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import edits as E


def select(refs: dict[str, str], n: int, seed: int) -> list[str]:
    """Up to ``n`` ids in sorted order, a seeded sample when there are more."""
    ids = sorted(refs)
    if len(ids) > n:
        ids = sorted(random.Random(seed).sample(ids, n))
    return ids


def edit_all(refs: dict[str, str], ids: Sequence[str], seed: int) -> dict[str, dict[str, str]]:
    """``{edit name: {id: edited text}}`` for the samples where each edit applies."""
    out: dict[str, dict[str, str]] = {}
    for edit in E.EDITS:
        done = {i: E.apply(edit, refs[i], seed, i) for i in ids}
        out[edit.name] = {i: t for i, t in done.items() if t is not None}
    return out


def verdict(kind: str, ci: Sequence[float], higher_is_better: bool, band_abs: float) -> str:
    lo, hi = ci
    if kind == "harmful":
        down, up = hi < 0, lo > 0
        if (down and higher_is_better) or (up and not higher_is_better):
            return "sensitive"
        return "wrong-way" if (down or up) else "insensitive"
    return "robust" if -band_abs <= lo and hi <= band_abs else "not-robust"


def _metric_rows(name: str, metric: Any, stats: list[dict[str, Any]], n_ids: int, pos: dict[str, int],
                 spans: dict[str, tuple[int, list[str]]], bootstrap: int, seed: int, band: float
                 ) -> tuple[list[str], list[dict[str, Any]]]:
    """(reported keys, one row per edit x key) for one metric's statistics of all pairs."""
    from ..scoring.resample import batch_scores, percentile_ci, resample_weights

    hib = bool(getattr(metric, "higher_is_better", True))
    identity = stats[:n_ids]
    present = list(metric.aggregate(identity[:2]))
    first = next((k for k in (metric.primary, *(metric.headline or ())) if k in present), present[0])
    keys = [(k, sk) for k, sk in (metric.sensitivity_keys or ((first, first),)) if k in present]
    per_sample = metric.sample_scores(stats)  # once, on all pairs (identity and edited side by side)
    rows: list[dict[str, Any]] = []
    for edit in E.EDITS:
        start, eligible = spans[edit.name]
        if not eligible:
            rows += [{"edit": edit.name, "kind": edit.kind, "metric": name, "key": k, "eligible": 0,
                      "verdict": "no-eligible-samples"} for k, _ in keys]
            continue
        id_idx = [pos[i] for i in eligible]
        st_id = [identity[i] for i in id_idx]
        st_ed = stats[start:start + len(eligible)]
        # row 0: the observed corpus; rows 1..b: paired resamples (same weights for both sides)
        w = np.ones((1, len(eligible)))
        if bootstrap > 0 and len(eligible) > 1:
            w = np.vstack([w, resample_weights(len(eligible), bootstrap, seed)])
        base, after = batch_scores(metric, st_id, w), batch_scores(metric, st_ed, w)
        for key, skey in keys:
            draws = after[key] - base[key]
            delta = float(draws[0])
            ci = percentile_ci(draws[1:]) if len(draws) > 1 else [delta, delta]
            per_id = np.array([float(per_sample[i].get(skey, np.nan)) for i in id_idx])
            per_ed = np.array([float(r.get(skey, np.nan)) for r in per_sample[start:start + len(eligible)]])
            d = per_ed - per_id
            if edit.kind == "harmful":
                right = (d < 0) if hib else (d > 0)
            else:
                right = np.abs(d) <= band * np.abs(per_id) + 1e-12
            rows.append({"edit": edit.name, "kind": edit.kind, "metric": name, "key": key,
                         "eligible": len(eligible), "identity": float(base[key][0]), "edited": float(after[key][0]),
                         "delta": delta, "ci95": ci, "right_fraction": float(np.nanmean(right)),
                         "verdict": verdict(edit.kind, ci, hib, band * abs(float(base[key][0])))})
    return [k for k, _ in keys], rows


def run(refs: dict[str, str], metric_names: Sequence[str], *, n: int = 500, seed: int = 0, bootstrap: int = 1000,
        band: float = 0.05, options: dict[str, dict[str, Any]] | None = None, cleaning: str = "r2gen_iu",
        dataset: str = "", split: str = "test", progress: Any = None) -> dict[str, Any]:
    """The whole suite on ``refs`` (``{id: reference}``); returns the JSON-able result (see module doc).
    Metrics are loaded one after another, then scored concurrently (as ``rrgbench score`` does)."""
    from concurrent.futures import ThreadPoolExecutor

    from ..scoring.engine import make_metric

    t0 = time.perf_counter()
    ids = select(refs, n, seed)
    edited = edit_all(refs, ids, seed)
    pos = {i: k for k, i in enumerate(ids)}
    hyps = [refs[i] for i in ids]
    pair_refs = [refs[i] for i in ids]
    spans: dict[str, tuple[int, list[str]]] = {}
    for edit in E.EDITS:
        eligible = sorted(edited[edit.name])
        spans[edit.name] = (len(hyps), eligible)
        hyps += [edited[edit.name][i] for i in eligible]
        pair_refs += [refs[i] for i in eligible]

    result: dict[str, Any] = {
        "dataset": dataset, "split": split, "n_references": len(refs), "n": len(ids), "seed": seed,
        "bootstrap": bootstrap, "band": band, "edits_version": E.VERSION, "pairs_scored": len(hyps),
        "edits": [{"name": e.name, "kind": e.kind, "description": e.description,
                   "eligible": len(edited[e.name])} for e in E.EDITS],
        "examples": {e.name: ({"id": i, "original": refs[i], "edited": edited[e.name][i]}
                              if (i := next(iter(sorted(edited[e.name])), None)) else None) for e in E.EDITS},
        "metrics": [], "rows": [],
    }
    ready: dict[str, Any] = {}
    for name in metric_names:  # loads and heavy imports one at a time (imports are not thread-safe)
        metric = make_metric(name, (options or {}).get(name), cleaning)
        reason = metric.availability()
        entry: dict[str, Any] = {"metric": name, "higher_is_better": bool(getattr(metric, "higher_is_better", True)),
                                 "signature": "", "status": "ok"}
        result["metrics"].append(entry)
        if reason:
            entry.update(status="unavailable", reason=reason)
            continue
        entry["signature"] = metric.signature()
        load = getattr(metric, "load", None)
        if load is not None:
            load()
        ready[name] = (metric, entry)

    def work(name: str) -> list[dict[str, Any]]:
        metric, entry = ready[name]
        if progress:
            progress(f"{name}: scoring {len(hyps)} pairs")
        t_metric = time.perf_counter()
        stats = metric.sample_stats(hyps, pair_refs)
        entry["scoring_s"] = round(time.perf_counter() - t_metric, 1)
        entry["keys"], rows = _metric_rows(name, metric, stats, len(ids), pos, spans, bootstrap, seed, band)
        entry["seconds"] = round(time.perf_counter() - t_metric, 1)
        return rows

    if ready:
        # one intra-op thread per model while metrics run side by side: on a small shared machine, torch's
        # OpenMP barriers across oversubscribed cores made BERTScore 15x slower (measured: 1230 s vs 68 s)
        import sys

        torch = sys.modules.get("torch")
        threads = torch.get_num_threads() if torch is not None else None
        if torch is not None and len(ready) > 1:
            torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=len(ready), thread_name_prefix="rrgbench-sensitivity") as pool:
                for rows in pool.map(work, list(ready)):
                    result["rows"] += rows
        finally:
            if torch is not None and threads:
                torch.set_num_threads(threads)
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return result


VERDICT_MARK = {"sensitive": "+", "robust": "+", "insensitive": "0", "not-robust": "!", "wrong-way": "!",
                "no-eligible-samples": ""}


def format_table(result: dict[str, Any]) -> str:
    """Edits x metric keys: mean Δ, with + (sensitive / robust), 0 (insensitive), ! (wrong way / not robust)."""
    cols = [(m["metric"], k) for m in result["metrics"] if m["status"] == "ok" for k in m.get("keys", [])]
    cell = {(r["edit"], r["metric"], r["key"]): r for r in result["rows"]}
    head = f"{'edit':<17} {'kind':<8} {'n':>4}  " + "  ".join(f"{k:>14}" for _, k in cols)
    lines = [f"{result['dataset']} ({result['split']}): {result['n']} references, seed {result['seed']}, "
             f"bootstrap {result['bootstrap']}, neutral band ±{result['band']:.0%} of the identity score", head]
    for e in result["edits"]:
        parts = []
        for m, k in cols:
            r = cell.get((e["name"], m, k))
            if not r or "delta" not in r:
                parts.append(f"{'-':>14}")
                continue
            parts.append(f"{r['delta']:+9.4f} {VERDICT_MARK[r['verdict']]:1} {r['right_fraction']:>3.0%}"[-14:].rjust(14))
        lines.append(f"{e['name']:<17} {e['kind']:<8} {e['eligible']:>4}  " + "  ".join(parts))
    lines.append("cell: mean Δ (edited − original), verdict (+ sensitive / robust, 0 insensitive, ! wrong way / "
                 "not robust), share of samples moved the right way; CIs in --json and on the site")
    for m in result["metrics"]:
        if m["status"] != "ok":
            lines.append(f"  {m['metric']}: unavailable: {m.get('reason', '')}")
    lines.append(f"elapsed {result['elapsed_s']} s")
    return "\n".join(lines)


def format_markdown(result: dict[str, Any], metric: str) -> str:
    """One metric's rows as a Markdown table (what each metric README quotes)."""
    rows = [r for r in result["rows"] if r["metric"] == metric]
    keys = list(dict.fromkeys(r["key"] for r in rows))
    cell = {(r["edit"], r["key"]): r for r in rows}
    out = [f"`rrgbench sensitivity --dataset {result['dataset']} --n {result['n']} --seed {result['seed']}` "
           f"({result['n']} references, {result['bootstrap']} paired resamples; Δ = edited − original):", "",
           "| edit | kind | eligible | " + " | ".join(f"{k}: Δ [95% CI], right way, verdict" for k in keys) + " |",
           "|---|---|---|" + "---|" * len(keys)]
    for e in result["edits"]:
        parts = []
        for k in keys:
            r = cell.get((e["name"], k))
            if not r or "delta" not in r:
                parts.append("–")
                continue
            lo, hi = r["ci95"]
            parts.append(f"{r['delta']:+.4f} [{lo:+.4f}, {hi:+.4f}], {r['right_fraction']:.0%}, {r['verdict']}")
        out.append(f"| {e['name']} | {e['kind']} | {e['eligible']} | " + " | ".join(parts) + " |")
    return "\n".join(out)
