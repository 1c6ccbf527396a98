"""Throughput of the clinical pieces, measured side by side in one run.

    python benchmarks/bench_labeler.py [--n 3000] [--openi NLMCXR_reports.tgz] [--umls]

Prints reports/s of the ``chexpert_rules`` labeler (a fresh instance, whose per-sentence memo fills as it goes;
and with the memo emptied before every report), of ``label_reports`` on new texts and on cached texts, the time of one CE ``aggregate`` over n pairs, of a vectorised 1000-resample bootstrap, and with ``--umls``
reports/s of the UMLS lexicon backend. Texts are synthetic reports built from a sentence bank (no dataset text),
or the Open-i reports with ``--openi``. Target (issue 5): thousands of reports per second for the labeler.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

SENTENCES = [
    "The heart is normal in size.", "Heart size is mildly enlarged.", "Stable cardiomegaly.",
    "The mediastinum is unremarkable.", "Cardiomediastinal silhouette is within normal limits.",
    "No focal consolidation, pleural effusion, or pneumothorax.", "Small left pleural effusion.",
    "Possible right lower lobe pneumonia.", "Bibasilar atelectasis versus scarring.", "The lungs are clear.",
    "No acute cardiopulmonary abnormality.", "Degenerative changes of the thoracic spine.",
    "Left-sided pacemaker with leads in the right atrium and ventricle.", "Mild pulmonary edema.",
    "Calcified granuloma in the right upper lobe.", "There is a 1 cm nodule in the left midlung.",
    "Healed right rib fracture.", "Right IJ central line tip in the SVC.", "No pneumothorax is seen.",
    "Pleural thickening at the left apex.", "Increased interstitial markings, cannot exclude edema.",
]


def synthetic_reports(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(SENTENCES, rng.randint(3, 7))) + f" Study {i}." for i in range(n)]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:10.0f} reports/s  ({seconds * 1000:8.1f} ms for {n})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--openi", type=Path, default=None, help="NLMCXR_reports.tgz: use the Open-i reports")
    ap.add_argument("--umls", action="store_true", help="also time the UMLS lexicon backend (loads spaCy)")
    args = ap.parse_args()

    from rrgbench.clinical import label_reports
    from rrgbench.clinical.ce import CEConfig, ce_scores, positive_mask

    if args.openi:
        sys.path.insert(0, str(Path(__file__).parent))
        from labeler_vs_mesh import load_reports

        texts = [t for _, t, _ in load_reports(args.openi)][: args.n]
        source = f"Open-i reports ({len(texts)})"
    else:
        texts = synthetic_reports(args.n)
        source = f"synthetic reports ({len(texts)})"
    print(f"texts: {source}, mean {sum(len(t) for t in texts) / len(texts):.0f} characters")

    from rrgbench.clinical.rules import RuleLabeler

    labeler = RuleLabeler()  # fresh: empty per-sentence memo
    t0 = time.perf_counter()
    labeler.label(texts)
    print(f"chexpert_rules, fresh labeler      {rate(len(texts), time.perf_counter() - t0)}")
    labeler._sentence_cache.clear()
    t0 = time.perf_counter()
    for t in texts:
        labeler._sentence_cache.clear()
        labeler.label_one(t)
    print(f"chexpert_rules, no sentence memo   {rate(len(texts), time.perf_counter() - t0)}")
    t0 = time.perf_counter()
    labels = label_reports(texts)
    print(f"label_reports, new texts (hashing) {rate(len(texts), time.perf_counter() - t0)}")
    t0 = time.perf_counter()
    label_reports(texts)
    print(f"label_reports, cached texts        {rate(len(texts), time.perf_counter() - t0)}")

    cfg = CEConfig.from_options()
    masks = [positive_mask(lab) for lab in labels]
    refs = masks[1:] + masks[:1]
    t0 = time.perf_counter()
    for _ in range(100):
        ce_scores(masks, refs, cfg)
    per = (time.perf_counter() - t0) / 100
    print(f"CE aggregate (all modes, 14+5)     {per * 1000:10.2f} ms per resample of {len(masks)} pairs")
    from rrgbench.clinical.ce import ce_scores_weighted
    from rrgbench.scoring.resample import resample_weights

    weights = resample_weights(len(masks), 1000, 0)
    t0 = time.perf_counter()
    ce_scores_weighted(masks, refs, cfg, weights)
    print(f"CE batch_aggregate, 1000 resamples {(time.perf_counter() - t0) * 1000:10.1f} ms in one vectorised call")

    if args.umls:
        from rrgbench_plugins.metrics.umls.concepts import LexiconBackend

        backend = LexiconBackend()
        backend.concepts(texts[:2])  # load spaCy outside the timing
        t0 = time.perf_counter()
        backend.concepts(texts)
        print(f"UMLS lexicon backend (spaCy)       {rate(len(texts), time.perf_counter() - t0)}")


if __name__ == "__main__":
    main()
