"""Varied, made-up chest X-ray report text for tests and benchmarks (no real patient text).

The grammar mixes normal and abnormal findings, synonyms, numbering, punctuation and casing so that
tokenisation protocols, n-gram statistics and METEOR's stemming/synonym stages all get exercised.
"""

from __future__ import annotations

import random

_NORMAL = [
    "The heart is normal in size.",
    "Heart size is within normal limits.",
    "The cardiomediastinal silhouette is unremarkable.",
    "The lungs are clear.",
    "Lungs are clear bilaterally.",
    "No focal consolidation, pleural effusion or pneumothorax.",
    "There is no pneumothorax or large pleural effusion.",
    "No acute bony abnormality.",
    "The osseous structures are intact.",
    "Pulmonary vasculature is normal.",
    "No evidence of active disease.",
    "The mediastinal contours are normal.",
]
_ABNORMAL = [
    "There is mild cardiomegaly.",
    "The heart is {size} enlarged.",
    "{side} basilar atelectasis is seen.",
    "Small {side} pleural effusion.",
    "There is a {size} {side} pneumothorax.",
    "Patchy opacity in the {side} lower lobe, concerning for pneumonia.",
    "Degenerative changes of the thoracic spine.",
    "Calcified granuloma in the {side} upper lobe.",
    "Hyperexpanded lungs consistent with emphysema.",
    "Interval placement of a {device}.",
    "{Device} tip projects over the cavoatrial junction.",
    "Streaky opacities likely represent scarring.",
]
_SIDES = ["right", "left", "bilateral"]
_SIZES = ["small", "moderate", "large", "mildly"]
_DEVICES = ["right internal jugular catheter", "left PICC line", "dual-lead pacemaker", "endotracheal tube"]


def report(rng: random.Random) -> str:
    """One synthetic findings section of 2-8 sentences."""
    n_normal = rng.randint(1, 5)
    n_abnormal = rng.choice([0, 0, 1, 1, 2, 3])
    sentences = rng.sample(_NORMAL, n_normal)
    for _ in range(n_abnormal):
        device = rng.choice(_DEVICES)
        sentences.insert(rng.randint(0, len(sentences)), rng.choice(_ABNORMAL).format(
            side=rng.choice(_SIDES), Side=rng.choice(_SIDES).capitalize(), size=rng.choice(_SIZES),
            device=device, Device=device.capitalize()))
    text = " ".join(s[0].upper() + s[1:] for s in sentences)
    if rng.random() < 0.1:
        text = " ".join(f"{i}. {s}" for i, s in enumerate(sentences, 1))
    if rng.random() < 0.05:
        text = text.upper()
    return text


def pairs(n: int, seed: int = 0, similarity: float = 0.5) -> tuple[list[str], list[str], list[str]]:
    """``(ids, hyps, refs)``: ``n`` pairs; with probability ``similarity`` a hypothesis is an edited
    copy of its reference, otherwise an independent report."""
    rng = random.Random(seed)
    ids, hyps, refs = [], [], []
    for i in range(n):
        ref = report(rng)
        if rng.random() < similarity:
            words = ref.split()
            for _ in range(rng.randint(0, 4)):
                j = rng.randrange(len(words))
                op = rng.random()
                if op < 0.4 and len(words) > 3:
                    del words[j]
                elif op < 0.7:
                    words.insert(j, rng.choice(["no", "mild", "stable", "the", "small"]))
                else:
                    words[j] = rng.choice(["normal", "clear", "effusion", "opacity", "heart"])
            hyp = " ".join(words)
        else:
            hyp = report(rng)
        ids.append(f"s{i:05d}")
        hyps.append(hyp)
        refs.append(ref)
    return ids, hyps, refs
