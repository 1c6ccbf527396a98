"""``chexpert_rules``: rrgbench's offline rule-based CheXpert labeler (no model weights).

For each sentence, every observation's mention phrases (:mod:`.phrases`) are found, mentions inside an
*unmention* are dropped, and each mention gets a state from the negation / uncertainty scope
(:mod:`.scope`). Per report and observation the mention states combine as positive > uncertain >
negative (a report that says "no effusion on the left, small effusion on the right" is positive).
Two further rules:

* heart-failure mentions (``chf``, ``heart failure``, ``congestive``) that are positive or uncertain make
  Cardiomegaly uncertain when nothing else is said about it;
* No Finding is 1 when no observation other than Support Devices is positive or uncertain and no other
  abnormality (``OTHER_FINDINGS``) is mentioned positively; otherwise it is blank (never 0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..api import CHEXPERT_LABELS, Labeler
from .phrases import ENLARGEMENT, MENTIONS, OTHER_FINDINGS, SIZE_LIKE, UNMENTIONS
from .scope import NEGATIVE, POSITIVE, UNCERTAIN, Sentence, sentences

VERSION = "2"  # 2: "no definite X" and "no <noun> to suggest X" negate (as the CheXpert labeler)
NO_FINDING = "No Finding"
_HEART_FAILURE = re.compile(r"chf|heart failure|congestive")


def phrase_regex(phrases: Sequence[str]) -> str:
    """Alternation of phrases, longest first; ``*`` = any word ending, spaces = any whitespace/hyphen."""
    parts = []
    for p in sorted(set(phrases), key=len, reverse=True):
        body = re.escape(p.rstrip("*")).replace(r"\ ", r"[\s-]+")
        if p.endswith("*"):
            body += "[a-z]*"
        parts.append(body)
    return r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])"


def _compile(phrases: Sequence[str]) -> re.Pattern[str] | None:
    return re.compile(phrase_regex(phrases)) if phrases else None


class RuleLabeler(Labeler):
    """Rule-based CheXpert labeler; ``label`` maps reports to ``{observation: 1 | 0 | -1 | None}``."""

    name = "chexpert_rules"

    def __init__(self) -> None:
        self._obs: list[tuple[str, re.Pattern[str], re.Pattern[str] | None]] = []
        for obs in CHEXPERT_LABELS:
            if obs == NO_FINDING:
                continue
            direct = MENTIONS.get(obs, [])
            size = SIZE_LIKE.get(obs, [])
            pattern = "|".join(f"(?P<{g}>{phrase_regex(p)})" for g, p in (("m", direct), ("s", size)) if p)
            self._obs.append((obs, re.compile(pattern), _compile(UNMENTIONS.get(obs, []))))
        self._other = re.compile(phrase_regex(OTHER_FINDINGS))
        self._enlarged = re.compile(phrase_regex(ENLARGEMENT))
        # report language repeats itself ("No pneumothorax."): mentions are memoised per sentence
        self._sentence_cache: dict[str, list[tuple[str, str, int]]] = {}
        self._sig: str | None = None

    def signature(self) -> str:
        """``chexpert_rules@<version>+<hash of the rule, phrase and scope sources>``."""
        if self._sig is None:
            from . import phrases, rules, scope
            from .cache import source_hash

            self._sig = f"chexpert_rules@{VERSION}+{source_hash(rules, phrases, scope)}"
        return self._sig

    def mentions(self, text: str) -> list[tuple[str, str, int]]:
        """Every mention ``(observation, matched text, state)`` in ``text`` (for inspection and tests)."""
        out: list[tuple[str, str, int]] = []
        cache = self._sentence_cache
        for sent in sentences(text):
            found = cache.get(sent)
            if found is None:
                if len(cache) > 200_000:
                    cache.clear()
                found = cache[sent] = self._sentence_mentions(sent)
            out.extend(found)
        return out

    def _sentence_mentions(self, text: str) -> list[tuple[str, str, int]]:
        found: list[tuple[str, str, int]] = []
        sent: Sentence | None = None
        for obs, regex, unmention in self._obs:
            blocked: list[tuple[int, int]] | None = None
            for m in regex.finditer(text):
                if unmention is not None:
                    if blocked is None:
                        blocked = [u.span() for u in unmention.finditer(text)]
                    if any(m.start() < b and m.end() > a for a, b in blocked):
                        continue
                if sent is None:
                    sent = Sentence(text)
                size_like = m.lastgroup == "s"
                state = sent.state(m.start(), m.end(), size_like=size_like)
                if size_like and state == POSITIVE and not self._enlarged.search(sent.clause(m.start(), m.end())):
                    continue  # "heart size" alone says nothing about cardiomegaly
                found.append((obs, m.group(0), state))
        for m in self._other.finditer(text):
            if sent is None:
                sent = Sentence(text)
            found.append(("other", m.group(0), sent.state(m.start(), m.end())))
        return found

    def label_one(self, text: str) -> dict[str, int | None]:
        states: dict[str, list[int]] = {}
        for obs, mention, state in self.mentions(text):
            states.setdefault(obs, []).append(state)
            if obs == "Edema" and state != NEGATIVE and _HEART_FAILURE.fullmatch(mention):
                states.setdefault("_chf", []).append(UNCERTAIN)
        if "_chf" in states and "Cardiomegaly" not in states:
            states["Cardiomegaly"] = [UNCERTAIN]
        labels: dict[str, int | None] = {}
        finding = False
        for obs in CHEXPERT_LABELS:
            vals = states.get(obs)
            if obs == NO_FINDING or not vals:
                labels[obs] = None
                continue
            value = POSITIVE if POSITIVE in vals else UNCERTAIN if UNCERTAIN in vals else NEGATIVE
            labels[obs] = value
            if value != NEGATIVE and obs != "Support Devices":
                finding = True
        if any(v != NEGATIVE for v in states.get("other", ())):
            finding = True
        labels[NO_FINDING] = None if finding else POSITIVE
        return labels

    def label(self, texts: Sequence[str]) -> list[dict[str, int | None]]:
        return [self.label_one(t) for t in texts]
