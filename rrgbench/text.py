"""Named report-cleaning protocols.

``r2gen_iu`` and ``r2gen_mimic`` reproduce, bit for bit, the cleaning R2Gen applies to IU X-ray and
MIMIC-CXR reports before tokenisation and before computing NLG metrics (notes §1.4). Two quirks of the
original are kept on purpose because published numbers depend on them:

* the per-sentence character class ``[.,?;*!%^&_+():-\\[\\]{}]`` contains the range ``:-[`` (0x3A-0x5B),
  so ``: ; < = > ? @`` and upper-case letters are deleted too (the text is lower-cased first, so only
  ``< = > @`` are visible effects);
* empty sentences are never dropped (the original compares a string with a list), so ``"a. . b"`` keeps
  an empty sentence between the two `` . `` separators.
"""

from __future__ import annotations

import re

__all__ = ["PROTOCOLS", "clean", "clean_r2gen_iu", "clean_r2gen_mimic"]

# 0x3A-0x5B is the range ":-[" in the original pattern; written out explicitly here.
_SENTENCE_STRIP = re.compile(r"[.,?;*!%^&_+()\x3a-\x5b\]{}]")
_NUMBERED = (("1. ", ""), (". 2. ", ". "), (". 3. ", ". "), (". 4. ", ". "), (". 5. ", ". "),
             (" 2. ", ". "), (" 3. ", ". "), (" 4. ", ". "), (" 5. ", ". "))


def _replace_repeatedly(text: str, old: str, new: str, times: int) -> str:
    for _ in range(times):
        text = text.replace(old, new)
    return text


def _clean_sentence(sentence: str) -> str:
    for ch in ('"', "/", "\\", "'"):
        sentence = sentence.replace(ch, "")
    return _SENTENCE_STRIP.sub("", sentence.strip().lower())


def _finish(text: str) -> str:
    for old, new in _NUMBERED:
        text = text.replace(old, new)
    sentences = [_clean_sentence(s) for s in text.strip().lower().split(". ")]
    return " . ".join(sentences) + " ."


def clean_r2gen_iu(report: str) -> str:
    """R2Gen's IU X-ray cleaning (``clean_report_iu_xray``)."""
    return _finish(_replace_repeatedly(report, "..", ".", 3))


def clean_r2gen_mimic(report: str) -> str:
    """R2Gen's MIMIC-CXR cleaning (``clean_report_mimic_cxr``)."""
    text = report.replace("\n", " ")
    text = _replace_repeatedly(text, "__", "_", 7)
    text = _replace_repeatedly(text, "  ", " ", 6)
    text = _replace_repeatedly(text, "..", ".", 8)
    return _finish(text)


def _none(report: str) -> str:
    return report


def _whitespace(report: str) -> str:
    return " ".join(report.split())


PROTOCOLS = {
    "r2gen_iu": clean_r2gen_iu,
    "r2gen_mimic": clean_r2gen_mimic,
    "whitespace": _whitespace,
    "none": _none,
}


def clean(report: str, protocol: str) -> str:
    """Apply cleaning protocol ``protocol`` (one of :data:`PROTOCOLS`)."""
    try:
        return PROTOCOLS[protocol](report)
    except KeyError:
        from .api import RRGBenchError

        raise RRGBenchError(
            f"unknown cleaning protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}"
        ) from None
