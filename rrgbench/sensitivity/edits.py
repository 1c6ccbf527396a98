"""Rule-based report edits for the sensitivity suite, each deterministic under a seed.

An edit is a function ``(report, rng) -> edited report | None``; ``None`` means the rule found no target in
this report (the sample is not eligible for that edit). ``rng`` is a :class:`random.Random` seeded from
(seed, edit name, sample id), so every choice (which sentence, which inserted finding) is reproducible.

Harmful edits change what the report says clinically; neutral edits should not. :data:`EDITS` lists them
with a one-line description each (shown by ``rrgbench sensitivity`` and on the site).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

# ------------------------------------------------------------------------------------------- text units

_SENT = re.compile(r"(?<=[.!?])\s+")
FINDING = re.compile(
    r"\b((?:pleural )?effusions?|pneumothora(?:x|ces)|(?:focal )?consolidations?|cardiomegaly|(?:pulmonary )?edema|"
    r"atelectasis|(?:airspace |air space )?opacit(?:y|ies)|pneumonia|nodules?|mass(?:es)?|fractures?|infiltrates?|"
    r"granulomas?|scarring|emphysema|hyperinflation|airspace disease)\b", re.I)
NEGATION = re.compile(r"\b(no|not|without|negative for|free of|clear of|resolved|removed)\b", re.I)
NORMAL = re.compile(r"\b(normal|unremarkable|within normal limits|clear)\b", re.I)


def sentences(text: str) -> list[str]:
    """Sentences of a report (split after . ! ? followed by white space)."""
    return [s for s in _SENT.split(text.strip()) if s]


def join(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def is_positive_finding(sentence: str) -> bool:
    """A sentence that asserts a finding: it names one and has no negation cue."""
    return bool(FINDING.search(sentence)) and not NEGATION.search(sentence)


def _match_case(src: str, repl: str) -> str:
    return repl[:1].upper() + repl[1:] if src[:1].isupper() else repl


def _pick(rng: random.Random, items: list[int]) -> int | None:
    return rng.choice(items) if items else None


# -------------------------------------------------------------------------------------- harmful edits

def negate_positive(text: str, rng: random.Random) -> str | None:
    """A sentence asserting a finding becomes "There is no <finding>." ("small effusion" -> "no effusion")."""
    sents = sentences(text)
    i = _pick(rng, [k for k, s in enumerate(sents) if is_positive_finding(s)])
    if i is None:
        return None
    finding = FINDING.search(sents[i]).group(1).lower()  # type: ignore[union-attr]
    sents[i] = f"There is no {finding}."
    return join(sents)


_NEG_FLIPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bthere (is|are) no\b", re.I), r"there \1"),
    (re.compile(r"\bno (?:evidence|signs?) of\b", re.I), "evidence of"),
    (re.compile(r"\bnegative for\b", re.I), "positive for"),
    (re.compile(r"\bfree of\b", re.I), "with"),
    (re.compile(r"\bwithout\b", re.I), "with"),
    (re.compile(r"\b(is|are) not (seen|identified|present|visualized|demonstrated)\b", re.I), r"\1 \2"),
    (re.compile(r"^no\b", re.I), "there is"),
    (re.compile(r"\bno\b", re.I), "a"),
)


def negate_negative(text: str, rng: random.Random) -> str | None:
    """A negated finding becomes asserted ("No pneumothorax." -> "There is pneumothorax."): the first
    negation cue before a finding name is flipped."""
    sents = sentences(text)
    cands = []
    for k, s in enumerate(sents):
        cue, find = NEGATION.search(s), FINDING.search(s)
        if cue and find and cue.start() < find.start():
            cands.append(k)
    i = _pick(rng, cands)
    if i is None:
        return None
    s = sents[i]
    for pattern, repl in _NEG_FLIPS:
        m = pattern.search(s)
        if m and m.start() < FINDING.search(s).start():  # type: ignore[union-attr]
            new = pattern.sub(repl, s, count=1)
            sents[i] = _match_case(s, new)
            return join(sents)
    return None


_SIDE = re.compile(r"\b(left|right)\b", re.I)


def laterality_swap(text: str, rng: random.Random) -> str | None:
    """left <-> right in every sentence that asserts something (negated sentences are left alone)."""
    sents = sentences(text)
    hits = [k for k, s in enumerate(sents) if _SIDE.search(s) and not NEGATION.search(s)]
    if not hits:
        return None
    for k in hits:
        sents[k] = _SIDE.sub(lambda m: _match_case(m.group(0), "right" if m.group(0).lower() == "left" else "left"),
                             sents[k])
    return join(sents)


def drop_finding(text: str, rng: random.Random) -> str | None:
    """The sentence that carries a finding is removed (reports of one sentence are not eligible)."""
    sents = sentences(text)
    if len(sents) < 2:
        return None
    i = _pick(rng, [k for k, s in enumerate(sents) if is_positive_finding(s)])
    if i is None:
        return None
    return join(sents[:i] + sents[i + 1:])


INSERTS: tuple[tuple[str, str], ...] = (
    (r"pneumothora", "There is a small right apical pneumothorax."),
    (r"effusion", "There is a moderate left pleural effusion."),
    (r"consolidat|pneumonia", "There is focal consolidation in the right lower lobe."),
    (r"cardiomegaly|heart|cardiac", "The heart is moderately enlarged."),
    (r"edema", "There is mild pulmonary edema."),
    (r"nodul|mass", "There is a 1.5 cm nodule in the left upper lobe."),
    (r"fracture|rib", "There is an acute fracture of the right sixth rib."),
    (r"atelecta", "There is atelectasis at the left lung base."),
)


def insert_finding(text: str, rng: random.Random) -> str | None:
    """A plausible finding sentence whose finding the report does not mention is inserted at a seeded place."""
    low = text.lower()
    options = [s for key, s in INSERTS if not re.search(key, low)]
    if not options:
        return None
    sents = sentences(text)
    sents.insert(rng.randrange(len(sents) + 1), rng.choice(options))
    return join(sents)


SEVERITY = {"small": "large", "large": "small", "mild": "severe", "severe": "mild", "minimal": "extensive",
            "extensive": "minimal", "trace": "large", "moderate": "severe", "tiny": "large", "slight": "marked",
            "mildly": "severely", "severely": "mildly", "moderately": "severely", "borderline": "severe"}
_SEV = re.compile(r"\b(" + "|".join(SEVERITY) + r")\b", re.I)


def severity_change(text: str, rng: random.Random) -> str | None:
    """One severity word of an asserted finding changes grade (small <-> large, mild <-> severe, ...)."""
    sents = sentences(text)
    i = _pick(rng, [k for k, s in enumerate(sents) if _SEV.search(s) and not NEGATION.search(s)])
    if i is None:
        return None
    sents[i] = _SEV.sub(lambda m: _match_case(m.group(0), SEVERITY[m.group(0).lower()]), sents[i], count=1)
    return join(sents)


DEVICE = re.compile(r"\b(tube|catheter|line|picc|pacemaker|pacer|leads?|port|drain|wires?|stent|clips?|"
                    r"defibrillator|icd)\b", re.I)
POSITIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(superior vena cava|svc)\b", re.I), "right atrium"),
    (re.compile(r"\bright atri(um|al)\b", re.I), "superior vena cava"),
    (re.compile(r"\b(cavoatrial junction)\b", re.I), "right ventricle"),
    (re.compile(r"\bright ventricle\b", re.I), "superior vena cava"),
    (re.compile(r"\b(\d+(?:\.\d+)?\s*cm) above the carina\b", re.I), "in the right mainstem bronchus"),
    (re.compile(r"\b(?:in|at) (?:satisfactory|good|standard|appropriate|expected|unchanged|stable|adequate) "
                r"position\b", re.I), "malpositioned, coiled in the neck"),
    (re.compile(r"\b(appropriately|satisfactorily|well) (positioned|placed)\b", re.I), "malpositioned"),
    (re.compile(r"\bstomach\b", re.I), "distal esophagus"),
)


def device_position(text: str, rng: random.Random) -> str | None:
    """The stated position of a support device changes (SVC -> right atrium, "in standard position" ->
    malpositioned, above the carina -> right mainstem bronchus, ...)."""
    sents = sentences(text)
    cands = [k for k, s in enumerate(sents) if DEVICE.search(s) and any(p.search(s) for p, _ in POSITIONS)]
    i = _pick(rng, cands)
    if i is None:
        return None
    for pattern, repl in POSITIONS:
        if pattern.search(sents[i]):
            sents[i] = pattern.sub(repl, sents[i], count=1)
            return join(sents)
    return None


# -------------------------------------------------------------------------------------- neutral edits

def sentence_shuffle(text: str, rng: random.Random) -> str | None:
    """The sentences in another order (reports with fewer than two distinct sentences are not eligible)."""
    sents = sentences(text)
    if len(set(sents)) < 2:
        return None
    order = list(range(len(sents)))
    while order == sorted(order):
        rng.shuffle(order)
    return join([sents[k] for k in order])


SYNONYMS: tuple[tuple[str, str], ...] = (
    ("cardiac silhouette", "heart size"),
    ("within normal limits", "normal"),
    ("osseous structures", "bony structures"),
    ("mediastinal contours", "mediastinal silhouette"),
    ("air space", "airspace"),
    ("unremarkable", "normal"),
    ("pleural effusion", "pleural fluid collection"),
    ("pulmonary vasculature", "pulmonary vessels"),
    ("no evidence of", "no"),
    ("degenerative changes", "degenerative change"),
    ("opacity", "opacification"),
    ("lungs are clear", "lungs are clear bilaterally"),
)
_SYN = [(re.compile(rf"\b{re.escape(a)}\b", re.I), b) for a, b in SYNONYMS] + [
    (re.compile(rf"\b{re.escape(b)}\b", re.I), a) for a, b in SYNONYMS]


def synonym(text: str, rng: random.Random) -> str | None:
    """One phrase replaced from a curated list of synonyms ("cardiac silhouette" <-> "heart size", ...)."""
    hits = [(p, r) for p, r in _SYN if p.search(text)]
    if not hits:
        return None
    pattern, repl = rng.choice(hits)
    return pattern.sub(lambda m: _match_case(m.group(0), repl), text, count=1)


REPHRASE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:the )?lungs are (?:clear|well expanded and clear)\.?$", re.I), "Both lungs are clear."),
    (re.compile(r"^(?:the )?(?:heart size is normal|heart is normal in size|normal heart size|heart size (?:is )?within "
                r"normal limits)\.?$", re.I), "The cardiac silhouette is normal in size."),
    (re.compile(r"^no pneumothorax\.?$", re.I), "There is no evidence of pneumothorax."),
    (re.compile(r"^(?:there is )?no pleural effusion\.?$", re.I), "No pleural effusions are seen."),
    (re.compile(r"^no pneumothorax or pleural effusion\.?$", re.I), "No pleural effusion or pneumothorax."),
    (re.compile(r"^(?:the )?(?:osseous|bony) structures are (?:intact|unremarkable|normal)\.?$", re.I),
     "The visualized bones are unremarkable."),
    (re.compile(r"^(?:the )?mediastinal contours? (?:is|are) (?:normal|within normal limits)\.?$", re.I),
     "The mediastinum is normal in contour."),
    (re.compile(r"^no acute cardiopulmonary (?:disease|abnormality|process)\.?$", re.I),
     "No acute disease in the chest."),
    (re.compile(r"^(?:the )?heart and lungs have been examined and are normal\.?$", re.I),
     "The heart and lungs are normal."),
)


def normal_rephrase(text: str, rng: random.Random) -> str | None:
    """One normal sentence said another way ("The lungs are clear." -> "Both lungs are clear.")."""
    sents = sentences(text)
    cands = [(k, r) for k, s in enumerate(sents) for p, r in REPHRASE if p.match(s.strip())]
    if not cands:
        return None
    k, repl = rng.choice(cands)
    sents[k] = repl
    return join(sents)


# ----------------------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Edit:
    name: str
    kind: str  # "harmful" | "neutral"
    fn: Callable[[str, random.Random], str | None]

    @property
    def description(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())


EDITS: tuple[Edit, ...] = (
    Edit("negate_positive", "harmful", negate_positive),
    Edit("negate_negative", "harmful", negate_negative),
    Edit("laterality_swap", "harmful", laterality_swap),
    Edit("drop_finding", "harmful", drop_finding),
    Edit("insert_finding", "harmful", insert_finding),
    Edit("severity_change", "harmful", severity_change),
    Edit("device_position", "harmful", device_position),
    Edit("sentence_shuffle", "neutral", sentence_shuffle),
    Edit("synonym", "neutral", synonym),
    Edit("normal_rephrase", "neutral", normal_rephrase),
)
VERSION = "1"


def apply(edit: Edit, text: str, seed: int, sample_id: str) -> str | None:
    """``edit`` applied to ``text`` with the rng of (seed, edit, sample); ``None`` when not eligible or unchanged."""
    out = edit.fn(text, random.Random(f"{seed}:{edit.name}:{sample_id}"))
    return out if out is not None and out.strip() != text.strip() else None
