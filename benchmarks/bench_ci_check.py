"""Do the 95 % bootstrap intervals contain their point estimates? On real IU X-ray report text (not a test).

Takes the prepared ``iu_xray_phantom`` test split (the canonical 590 studies; ``rrgbench data prepare
iu_xray_phantom`` first) and scores two text-only systems against the references with every offline
metric (nlg, bertscore, token, chexpert_rules, umls):

* ``shifted``: each study gets the reference of the next test study (real, fluent, mostly wrong text);
* ``majority``: every study gets the most frequent training reference.

Prints, per system, metric and key: the estimate, its interval, the interval kind (``ci_kind``) and
whether it contains the estimate; then the same for the paired delta (shifted − majority). Exits 1 if any
interval excludes its estimate.

    .venv/bin/python benchmarks/bench_ci_check.py [--n 590] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

METRICS = ("nlg", "bertscore", "token", "chexpert_rules", "umls")


def systems(n: int | None) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """``(ids, references, {system: hypotheses})`` on the prepared iu_xray_phantom test split."""
    from rrgbench.plugins import get_host

    ds = get_host().datasets.get("iu_xray_phantom")()
    test = ds.split("test")[:n] if n else ds.split("test")
    ids, refs = [s.id for s in test], [s.report for s in test]
    common = Counter(s.report for s in ds.split("train")).most_common(1)[0][0]
    return ids, refs, {"shifted": refs[1:] + refs[:1], "majority": [common] * len(refs)}


def check(ids: list[str], refs: list[str], hyps: dict[str, list[str]], bootstrap: int
          ) -> list[tuple[str, str, str, float, list[float], str, bool]]:
    """Rows ``(system, metric, key, estimate, ci95, ci_kind, contains)``; system ``a-b`` for paired deltas."""
    from rrgbench.scoring import engine
    from rrgbench.scoring.resample import paired_bootstrap

    rows = []
    for system, h in hyps.items():
        for name, res in engine.score(METRICS, ids, h, refs, bootstrap=bootstrap, cache=False).items():
            if res.get("status") != "ok":
                print(f"{system:<10} {name:<15} {res.get('status')}: {res.get('reason', '')[:80]}")
                continue
            for key, est in sorted(res["scores"].items()):
                ci = res["ci95"].get(key)
                if ci is None:
                    continue
                kind = res.get("ci_kind", {}).get(key, "?")
                rows.append((system, name, key, est, ci, kind, ci[0] - 1e-12 <= est <= ci[1] + 1e-12))
    a, b = list(hyps)[:2]
    for name in METRICS:
        try:
            metric, sa = engine.sample_stats(name, hyps[a], refs, cache=False)
            _, sb = engine.sample_stats(name, hyps[b], refs, cache=False)
        except Exception as exc:  # noqa: BLE001 - an unavailable metric is listed, not fatal
            print(f"{a}-{b:<8} {name:<15} skipped: {exc}")
            continue
        for key, d in sorted(paired_bootstrap(metric, sa, sb, b=bootstrap).items()):
            ci = d["ci95"]
            rows.append((f"{a}-{b}", name, key, d["delta"], ci, d["ci_kind"],
                         ci[0] - 1e-12 <= d["delta"] <= ci[1] + 1e-12))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="first N test studies (default: all 590)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    ids, refs, hyps = systems(args.n)
    rows = check(ids, refs, hyps, args.bootstrap)
    print(f"{len(ids)} iu_xray_phantom test studies, {args.bootstrap} resamples")
    print(f"{'system':<18} {'metric':<15} {'key':<26} {'estimate':>9}  {'95% CI':<20} {'kind':<13} contains")
    for system, name, key, est, ci, kind, ok in rows:
        print(f"{system:<18} {name:<15} {key:<26} {est:9.4f}  [{ci[0]:.4f}, {ci[1]:.4f}]  {kind:<13} "
              f"{'yes' if ok else 'NO'}")
    bad = [r for r in rows if not r[-1]]
    kinds = Counter(r[5] for r in rows)
    print(f"{len(rows) - len(bad)}/{len(rows)} intervals contain their estimate; kinds: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
