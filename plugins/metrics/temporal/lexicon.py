"""rrgbench's temporal lexicon: words that state change over time or compare with an earlier study.

Written for rrgbench from the idea of RadEval's temporal-entity F1 (a fixed set of change words); the
term list and grouping are our own. Each canonical term groups its surface variants, so "increased",
"increasing" and "has increased" all count as ``increase``; paraphrases that mean the same change
("stable" / "unchanged" / "no change") share one term. Any edit here must bump :data:`VERSION`, which
goes into the metric signature.
"""

from __future__ import annotations

import re

VERSION = "1"

# canonical term -> regular expressions (matched on lower-cased text at word boundaries)
TERMS: dict[str, tuple[str, ...]] = {
    "new": (r"new", r"newly"),
    "unchanged": (r"unchanged", r"stable", r"stably", r"no (?:significant |interval )?change",
                  r"not (?:significantly )?changed", r"without (?:significant )?change", r"unaltered"),
    "improve": (r"improv\w*", r"better"),
    "worsen": (r"wors\w*", r"deteriorat\w*"),
    "increase": (r"increas\w*", r"enlarging", r"larger"),
    "decrease": (r"decreas\w*", r"diminish\w*", r"smaller"),
    "resolve": (r"resolv\w*", r"resolution", r"cleared", r"clearing"),
    "interval": (r"interval", r"interim"),
    "persist": (r"persist\w*", r"remain\w*", r"redemonstrat\w*", r"again (?:seen|noted|demonstrated|identified)",
                r"continues?", r"continued"),
    "comparison": (r"prior", r"previous\w*", r"comparison", r"compared", r"earlier", r"since"),
    "progress": (r"progress\w*", r"advanc\w*"),
    "develop": (r"develop\w*", r"evolv\w*", r"evolution"),
    "recur": (r"recur\w*", r"reaccumulat\w*", r"re-accumulat\w*"),
    "now": (r"now", r"currently"),
    "chronic": (r"chronic\w*", r"healed", r"long-?standing", r"old"),
}

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (term, re.compile(r"\b(?:" + "|".join(variants) + r")\b")) for term, variants in TERMS.items())


def temporal_terms(text: str) -> set[str]:
    """The canonical temporal terms mentioned in ``text`` (a set: repeats count once)."""
    low = text.lower()
    return {term for term, pattern in _PATTERNS if pattern.search(low)}
