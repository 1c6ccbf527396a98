"""NegEx / ConText-style negation and uncertainty scope over report sentences.

A sentence is scanned once for *cues* (``no``, ``without``, ``is normal``, ``possible``, ``cannot be
excluded``...) and *terminators* (``but``, ``however``, ``, mild`` ...). A mention at ``[start, end)`` takes
the state of the nearest cue on its left that looks forward (a pre-cue) or, failing that, the nearest cue
on its right that looks back (a post-cue), provided that

* the cue lies in the same clause (clauses end at terminators and at another cue in between),
* the cue lies within its word window, and
* commas: a pre-cue's scope runs through lists (``no A, B, C or D``) but ends at a comma followed by a
  new modifier (``no pneumothorax, mild cardiomegaly``) unless the sentence goes on with ``or``/``nor``;
  a post-cue reaches back over a comma only inside a list (``A, B and C are normal``, not
  ``cardiomegaly, lungs are normal``).

Cue categories (checked in this order at one position, longest phrase first):

``pseudo``   look like a negation but are not (``no change in``, ``not only``): block scope.
``preunc``   uncertainty looking forward (``possible``, ``cannot exclude``, ``no definite``, ``no new``).
``postunc``  uncertainty looking back (``cannot be excluded``, ``is likely``).
``biunc``    uncertainty both ways (``versus``, ``and/or``).
``postneg``  negation looking back (``is normal``, ``are not seen``, ``has resolved``).
``bineg``    negation both ways (``resolved``, ``resolution``).
``preneg``   negation looking forward (``no``, ``without``, ``negative for``, ``normal``).
``stable``   ``stable`` / ``unchanged``: uncertainty for size-like mentions (heart size, contours), as the
             CheXpert labeler does; transparent for other mentions.
``term``     terminators: end every scope.

The rules are rrgbench's own, informed by NegEx (Chapman et al. 2001), ConText (Harkema et al. 2009)
and the categories of the CheXpert labeler (Irvin et al. 2019).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

POSITIVE, NEGATIVE, UNCERTAIN = 1, 0, -1

_WORD = re.compile(r"[a-z0-9]+(?:[-'/][a-z0-9]+)*")

_VERB = r"(?:is|are|was|were|be|been|appears?|appeared|remains?|remained|seems?|looks?|is\s+now|are\s+now)"
_ADV = r"(?:\s+(?:now|again|otherwise|grossly|essentially|overall|largely|still|also|entirely|totally|completely|within))*"
_NORMAL = r"(?:normal|unremarkable|within\s+normal\s+limits?|wnl|negative|clear(?!\s+of)|stable\s+and\s+normal)"
_SEEN = (r"(?:seen|identified|visualized|visualised|evident|appreciated|demonstrated|noted|present|detected|"
         r"apparent|observed|shown|enlarged|dilated|widened|increased|visible|definitely\s+seen)")

# (category, phrases) in priority order. Phrases are regex fragments matched on lower-cased text.
_CUES: list[tuple[str, list[str]]] = [
    ("pseudo", [
        r"no\s+(?:significant\s+|interval\s+|appreciable\s+|substantial\s+)?(?:change|increase|decrease|"
        r"progression|improvement|worsening)(?:\s+in)?",
        r"not\s+only", r"without\s+(?:significant\s+|interval\s+)?change", r"not\s+changed?",
        r"no\s+longer\s+(?:enlarged)", r"gram[-\s]negative", r"age[-\s]indeterminate", r"of\s+indeterminate\s+age",
    ]),
    ("preunc", [
        # "no definite X" is a negation (the CheXpert labeler's negation.txt: "No definite XXX"), see preneg
        r"no\s+(?:obvious|convincing|clear|certain)", r"not\s+(?:definitely|clearly)",
        r"no\s+(?:new|newly)", r"cannot\s+(?:exclude|rule\s+out|be\s+certain)", r"can\s*not\s+(?:exclude|rule\s+out)",
        r"can't\s+(?:exclude|rule\s+out)", r"could\s+not\s+(?:exclude|rule\s+out)", r"not\s+exclude",
        r"rule\s+out", r"r/o", r"to\s+exclude", r"question\s+of", r"questionable", r"questionably",
        r"possible", r"possibly", r"probable", r"probably", r"presumed", r"presumably", r"presumptive",
        r"suspicious\s+(?:for|of)", r"suspicion\s+(?:for|of)", r"suspected", r"suspect", r"concern\s+for",
        r"concerning\s+for", r"worrisome\s+for", r"worrisome", r"may\s+(?:represent|reflect|indicate|be\s+due\s+to|be)",
        r"could\s+(?:represent|reflect|indicate|be\s+due\s+to|be)", r"might\s+(?:represent|reflect|indicate|be)",
        r"would\s+(?:represent|reflect|be)", r"may", r"might", r"could", r"likely", r"less\s+likely",
        r"most\s+likely", r"suggest(?:s|ed|ing|ive(?:\s+of)?)?", r"favou?r(?:s|ed)?", r"differential(?:\s+diagnosis)?"
        r"(?:\s+includes?)?", r"borderline", r"equivocal", r"indeterminate", r"uncertain", r"perhaps",
        r"evaluate\s+for", r"evaluation\s+for",
        r"correlat\w+\s+(?:clinically\s+)?(?:for|with)", r"clinical\s+correlation\s+(?:for|with)",
    ]),
    ("postunc", [
        r"(?:cannot|can\s*not|can't|could\s+not)\s+be\s+(?:excluded|ruled\s+out|entirely\s+excluded|completely\s+excluded)",
        r"(?:is|are)\s+not\s+(?:excluded|ruled\s+out)", r"not\s+(?:excluded|ruled\s+out)",
        r"(?:is|are|was|were)\s+(?:possible|probable|likely|suspected|questioned|questionable|not\s+certain)",
        r"(?:is|are)\s+(?:a\s+)?(?:consideration|concern)", r"(?:may|might|could)\s+be\s+(?:present|seen)",
        r"would\s+be\s+difficult\s+to\s+exclude", r"is\s+difficult\s+to\s+exclude", r"not\s+entirely\s+excluded",
        r"(?:is|are)\s+borderline", r"\?",
    ]),
    ("biunc", [r"versus", r"vs\.?", r"and/or", r"or\s+possibly"]),
    ("postneg", [
        _VERB + _ADV + r"\s+" + _NORMAL + r"(?:\s+in\s+(?:size|caliber|calibre|contour|appearance|configuration))?",
        _VERB + r"\s+(?:of\s+)?normal\s+(?:size|caliber|calibre|contour|appearance|configuration|limits)",
        r"normal\s+in\s+(?:size|caliber|calibre|contour|appearance|configuration)",
        r"(?:is|are|was|were|be|been|has\s+been|have\s+been)\s+(?:not\s+|no\s+longer\s+)" + _SEEN,
        r"not\s+" + _SEEN, r"no\s+longer\s+(?:seen|present|visualized|identified|evident|apparent|visible)",
        r"(?:has|have|had)\s+(?:since\s+|now\s+|completely\s+|nearly\s+)?(?:resolved|cleared|been\s+removed|"
        r"been\s+resolved|disappeared|decreased\s+and\s+resolved)",
        r"(?:is|are|was|were)\s+(?:now\s+)?(?:resolved|removed|gone|absent|excluded|ruled\s+out)",
        r"removed", r"absent", r"(?:is|are)\s+(?:not\s+)?negative", r"(?:at\s+)?(?:the\s+)?"
        r"upper\s+limits?\s+of\s+normal", r"top[-\s]normal", r"upper[-\s]normal",
        r"(?:normal|unremarkable)(?=\s*(?:[,.;:]|$|and\b|with\b|for\b|except\b|but\b))", r"within\s+normal\s+limits?",
        r"wnl",
    ]),
    ("stable", [r"stable", r"unchanged", r"similar\s+(?:to|in\s+appearance\s+to|compared)", r"not\s+significantly\s+changed"]),
    ("bineg", [r"resolved", r"(?:interval\s+)?resolution"]),
    ("preneg", [
        r"no\s+(?:evidence|signs?|findings?|suggestion|radiographic\s+evidence|x-?ray\s+evidence)\s+(?:of|to\s+suggest|"
        r"for)", r"without\s+(?:evidence|signs?|findings?)\s+(?:of|for)", r"negative\s+for", r"free\s+of",
        r"clear\s+of", r"clearing\s+of", r"resolution\s+of", r"removal\s+of", r"absence\s+of",
        r"(?:there\s+is|there\s+are)\s+no", r"no", r"not", r"without", r"nor", r"neither", r"never", r"none",
        r"denies", r"normal", r"unremarkable", r"non-?(?:enlarged|dilated)",
    ]),
    ("term", [
        r"but", r"however", r"although", r"though", r"except(?:\s+for)?", r"aside\s+from", r"apart\s+from",
        r"other\s+than", r"which", r"whereas", r"yet", r"with\s+the\s+exception\s+of", r"secondary\s+to",
        r"due\s+to", r"consistent\s+with", r"compatible\s+with", r"representing", r"likely\s+due\s+to",
        r"there\s+(?:is|are|has\s+been|have\s+been)(?!\s+no\b)",
        r",\s*(?:stable|unchanged|persistent|mild(?:ly)?|moderate(?:ly)?|severe|marked(?:ly)?|small|large|"
        r"the|there|with|which|and\s+(?:the|there)|new|increas\w*|decreas\w*|improv\w*|worsen\w*|minimal|trace|"
        r"now)(?!.*(?<![a-z])(?:or|nor)(?![a-z]))",
    ]),
]

_CATEGORY_WINDOW = {"bineg": 5, "preneg": 9, "postneg": 7, "preunc": 7, "postunc": 7, "biunc": 5, "stable": 6}
_LOOKS_FORWARD = {"bineg", "preneg", "preunc", "biunc", "stable"}
_LOOKS_BACK = {"bineg", "postneg", "postunc", "biunc", "stable"}
_STATE = {"bineg": NEGATIVE, "preneg": NEGATIVE, "postneg": NEGATIVE, "preunc": UNCERTAIN, "postunc": UNCERTAIN, "biunc": UNCERTAIN,
          "stable": UNCERTAIN}


def _bounded(phrase: str) -> str:
    return rf"(?:{phrase})(?![a-z0-9])"


# One pass per sentence; the leading guard skips positions inside words before any alternative is tried.
_CUE_RE = re.compile(r"(?:(?<![a-z0-9])|(?=[,?]))(?:" + "|".join(
    f"(?P<{cat}>{'|'.join(_bounded(p) for p in sorted(phrases, key=len, reverse=True))})"
    for cat, phrases in _CUES) + ")")
_LIST_WORD = re.compile(r"(?<![a-z0-9])(?:and|or|nor)(?![a-z0-9])")
_SENTENCE_SPLIT = re.compile(r"(?<!\d)\.(?!\d)|[;!\n\r]|:\s|\s-\s|\?\s*(?=[a-z]{2,})")


@dataclass(frozen=True)
class Cue:
    start: int
    end: int
    category: str
    text: str


_LINE_BREAK = re.compile(r"[ \t]*(?:(?:\r\n|\r|\n)[ \t]*)+")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_SPACE_RUN = re.compile(r"[^\S\n]+")
_NEW_LINE_STARTS = re.compile(r"[A-Z0-9\-*\u2022]")  # a capital, a digit (numbered list) or a bullet


def normalise_whitespace(text: str) -> str:
    """``text`` with every whitespace run made one space, except line breaks that end a sentence.

    A line break ends a sentence (kept as ``\n``) after a blank line, or when the next line starts with a
    capital letter, a digit or a bullet (a new sentence, a section header such as ``IMPRESSION:``, a list
    item); otherwise it is wrapping inside a sentence (``no\npleural effusion``) and becomes a space. Labels
    and concepts then do not depend on where a report's lines were broken.
    """
    def join(m: re.Match[str]) -> str:
        following = text[m.end(): m.end() + 1]
        if len(_NEWLINE.findall(m.group(0))) >= 2 or not following or _NEW_LINE_STARTS.match(following):
            return "\n"
        return " "

    return _SPACE_RUN.sub(" ", _LINE_BREAK.sub(join, text))


def sentences(text: str) -> list[str]:
    """Lower-cased sentences of ``text`` (split on ``. ; ! :`` and sentence-ending line breaks, not inside
    decimals), after :func:`normalise_whitespace`."""
    return [s.strip() for s in _SENTENCE_SPLIT.split(normalise_whitespace(text).lower()) if s and s.strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the sentences of ``text`` (same splitting as :func:`sentences`).

    Offsets index ``text`` as given: pass it through :func:`normalise_whitespace` first (as :func:`sentences`
    does) so that a line break inside a sentence does not split it."""
    spans, start = [], 0
    for m in _SENTENCE_SPLIT.finditer(text.lower()):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def span_state(text: str, start: int, end: int, spans: list[tuple[int, int]] | None = None) -> int:
    """State (1 / 0 / -1) of the mention ``text[start:end]`` within its sentence of ``text``."""
    for a, b in spans if spans is not None else sentence_spans(text):
        if a <= start and end <= b:
            return Sentence(text[a:b].lower()).state(start - a, end - a)
    return POSITIVE


def find_cues(sentence: str) -> list[Cue]:
    """All cues of a lower-cased sentence, left to right, non-overlapping."""
    return [Cue(m.start(), m.end(), m.lastgroup or "term", m.group(0)) for m in _CUE_RE.finditer(sentence)]


class Sentence:
    """A lower-cased sentence with its cues, ready to classify mention spans."""

    __slots__ = ("text", "cues", "_word_starts", "_cue_starts")

    def __init__(self, text: str) -> None:
        self.text = text
        self.cues = find_cues(text)
        self._word_starts = [m.start() for m in _WORD.finditer(text)]
        self._cue_starts = [c.start for c in self.cues]

    def _words_between(self, a: int, b: int) -> int:
        return bisect.bisect_left(self._word_starts, b) - bisect.bisect_left(self._word_starts, a)

    def _comma_ok(self, a: int, b: int, clause_end: int) -> bool:
        """May a scope cross the commas in ``text[a:b]``? Only inside a list (and/or/nor follows)."""
        gap = self.text[a:b]
        if "," not in gap:
            return True
        tail = self.text[a + gap.rfind(","):clause_end]
        return bool(_LIST_WORD.search(tail))

    def _clause_end(self, pos: int) -> int:
        i = bisect.bisect_left(self._cue_starts, pos)
        for cue in self.cues[i:]:
            if cue.category == "term":
                return cue.start
        return len(self.text)

    def _clause_start(self, pos: int) -> int:
        i = bisect.bisect_right(self._cue_starts, pos)
        for cue in reversed(self.cues[:i]):
            if cue.category == "term" and cue.end <= pos:
                return cue.end
        return 0

    def state(self, start: int, end: int, size_like: bool = False) -> int:
        """1 positive, 0 negated, -1 uncertain for the mention ``text[start:end]``."""
        i = bisect.bisect_left(self._cue_starts, start)
        # cues overlapping the mention itself are ignored (e.g. "unremarkable" is not inside "mass")
        left = [c for c in self.cues[:i] if c.end <= start]
        right = [c for c in self.cues[i:] if c.start >= end]
        for cue in reversed(left):
            if cue.category == "stable" and not size_like:
                continue
            if cue.category in _LOOKS_FORWARD and self._words_between(cue.end, start) <= _CATEGORY_WINDOW[
                    cue.category]:
                return NEGATIVE if self._negated_suggestion(cue) else _STATE[cue.category]
            break
        for cue in right:
            if cue.category == "stable" and not size_like:
                continue
            if cue.category in _LOOKS_BACK and self._words_between(end, cue.start) <= _CATEGORY_WINDOW[
                    cue.category] and self._comma_ok(end, cue.start, cue.start):
                return _STATE[cue.category]
            break
        return POSITIVE

    def _negated_suggestion(self, cue: Cue) -> bool:
        """``no <noun phrase> to suggest X``: X is negated, not uncertain (the CheXpert labeler's negation.txt,
        "no NN to suggest/explain XXX"); true when a ``to suggest`` cue follows a negation in its clause."""
        if not cue.text.startswith("suggest") or not re.search(r"(?<![a-z])to\s+$", self.text[:cue.start]):
            return False
        lo = self._clause_start(cue.start)
        return any(c.category == "preneg" and c.start >= lo and c.end <= cue.start
                   and self._words_between(c.end, cue.start) <= 8 for c in self.cues)

    def clause(self, start: int, end: int) -> str:
        """The text of the clause that holds ``[start, end)`` (between terminators)."""
        return self.text[self._clause_start(start):self._clause_end(end)]
