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

# metric -> [(corpus key, per-sample key)] reported by the suite (others fall back to their first key)
HEADLINE: dict[str, tuple[tuple[str, str], ...]] = {
    "nlg": (("bleu_4", "bleu_4"), ("meteor", "meteor"), ("rouge_l", "rouge_l"), ("cider", "cider")),
    "bertscore": (("bertscore_f1", "bertscore_f1"),),
    "chexpert_rules": (("ce_f1_micro", "ce_f1"),),
    "chexbert": (("ce_f1_micro", "ce_f1"),),
    "umls": (("umls_f1", "umls_f1"),),
    "token": (("token_f1", "token_f1"),),
    "radgraph": (("radgraph_partial", "radgraph_partial"),),
    "temporal": (("temporal_f1", "temporal_f1"),),
    "semb": (("semb", "semb"),),
    "radcliq": (("radcliq_v1", "radcliq_v1"),),
}
DEFAULT_METRICS = ("nlg", "bertscore", "chexpert_rules", "umls", "token")


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


def _sample_values(metric: Any, stats: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([float(r.get(key, np.nan)) for r in metric.sample_scores(stats)], dtype=float)


def verdict(kind: str, ci: Sequence[float], higher_is_better: bool, band_abs: float) -> str:
    lo, hi = ci
    if kind == "harmful":
        down, up = hi < 0, lo > 0
        if (down and higher_is_better) or (up and not higher_is_better):
            return "sensitive"
        return "wrong-way" if (down or up) else "insensitive"
    return "robust" if -band_abs <= lo and hi <= band_abs else "not-robust"


def run(refs: dict[str, str], metric_names: Sequence[str], *, n: int = 500, seed: int = 0, bootstrap: int = 1000,
        band: float = 0.05, options: dict[str, dict[str, Any]] | None = None, cleaning: str = "r2gen_iu",
        dataset: str = "", split: str = "test", progress: Any = None) -> dict[str, Any]:
    """The whole suite on ``refs`` (``{id: reference}``); returns the JSON-able result (see module doc)."""
    from ..scoring.engine import make_metric
    from ..scoring.resample import paired_bootstrap

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
        "bootstrap": bootstrap, "band": band, "edits_version": E.VERSION,
        "edits": [{"name": e.name, "kind": e.kind, "description": e.description,
                   "eligible": len(edited[e.name])} for e in E.EDITS],
        "examples": {e.name: ({"id": i, "original": refs[i], "edited": edited[e.name][i]}
                              if (i := next(iter(sorted(edited[e.name])), None)) else None) for e in E.EDITS},
        "metrics": [], "rows": [],
    }
    for name in metric_names:
        metric = make_metric(name, (options or {}).get(name), cleaning)
        reason = metric.availability()
        hib = bool(getattr(metric, "higher_is_better", True))
        entry: dict[str, Any] = {"metric": name, "higher_is_better": hib, "signature": "", "status": "ok"}
        result["metrics"].append(entry)
        if reason:
            entry.update(status="unavailable", reason=reason)
            continue
        entry["signature"] = metric.signature()
        if progress:
            progress(f"{name}: scoring {len(hyps)} pairs")
        load = getattr(metric, "load", None)
        if load is not None:
            load()
        stats = metric.sample_stats(hyps, pair_refs)
        identity = stats[:len(ids)]
        keys = HEADLINE.get(name) or ((k, k) for k in list(metric.aggregate(identity[:2]))[:1])
        present = set(metric.aggregate(identity[:2]))
        keys = [(k, s) for k, s in keys if k in present]
        entry["keys"] = [k for k, _ in keys]
        for edit in E.EDITS:
            start, eligible = spans[edit.name]
            if not eligible:
                for key, _ in keys:
                    result["rows"].append({"edit": edit.name, "kind": edit.kind, "metric": name, "key": key,
                                           "eligible": 0, "verdict": "no-eligible-samples"})
                continue
            st_edit = stats[start:start + len(eligible)]
            st_id = [identity[pos[i]] for i in eligible]
            paired = paired_bootstrap(metric, st_edit, st_id, b=bootstrap, seed=seed) if len(eligible) > 1 else {}
            base = metric.aggregate(st_id)
            after = metric.aggregate(st_edit)
            for key, skey in keys:
                delta = float(after[key] - base[key])
                ci = paired.get(key, {}).get("ci95") or [delta, delta]
                band_abs = band * abs(float(base[key]))
                per_id, per_ed = _sample_values(metric, st_id, skey), _sample_values(metric, st_edit, skey)
                d = per_ed - per_id
                if edit.kind == "harmful":
                    right = (d < 0) if hib else (d > 0)
                else:
                    right = np.abs(d) <= band * np.abs(per_id) + 1e-12
                result["rows"].append({
                    "edit": edit.name, "kind": edit.kind, "metric": name, "key": key, "eligible": len(eligible),
                    "identity": float(base[key]), "edited": float(after[key]), "delta": delta,
                    "ci95": [float(ci[0]), float(ci[1])], "right_fraction": float(np.nanmean(right)),
                    "verdict": verdict(edit.kind, ci, hib, band_abs)})
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
