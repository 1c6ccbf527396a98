"""Splitting free-text radiology reports (MIMIC-CXR style) into named sections.

A section starts at a header at the start of a line, ``NAME:`` followed by text on the same or the next
lines. Upper-case headers of any name are recognised (``EXAMINATION:``, ``WET READ:`` ...); a header in
other case (``Findings:``) only when its name is one this module knows, so that a sentence such as
``Note: ...`` stays text. Header names are normalised to a canonical name:

* ``findings``: FINDINGS, FINDING, REPORT (older reports put the body under ``REPORT:``)
* ``impression``: IMPRESSION(S), CONCLUSION(S), IMPRESSION AND RECOMMENDATION(S)
* ``findings_impression``: one combined block, FINDINGS AND IMPRESSION, FINDINGS/IMPRESSION,
  IMPRESSION AND FINDINGS ...

:func:`report_parts` turns that into the ``findings`` and ``impression`` texts an annotation entry holds:
a combined block counts as the findings (it describes the image) unless the report also has a separate
FINDINGS section, in which case it counts as the impression. Text before the first header and sections
with other names (indication, comparison, technique ...) are not used. A missing section gives ``""``.
"""

from __future__ import annotations

import re

__all__ = ["canonical_section", "report_parts", "split_sections"]

_HEADER = re.compile(r"^[ \t]*([A-Za-z][A-Za-z /&(),\-]{0,60}?)[ \t]*:", re.MULTILINE)

_FINDINGS = {"findings", "finding", "report"}
_IMPRESSION = {"impression", "impressions", "conclusion", "conclusions", "impression and recommendation",
               "impression and recommendations", "impression/recommendation", "impression/recommendations"}
_COMBINED = {"findings and impression", "findings and impressions", "finding and impression",
             "findings/impression", "findings/impressions", "findings / impression", "impression and findings",
             "impression/findings", "findings & impression", "findings and impression/recommendations"}
_OTHER = {"indication", "indications", "history", "clinical history", "comparison", "comparisons", "technique",
          "examination", "exam", "procedure", "wet read", "notification", "recommendation",
          "recommendations", "addendum", "reason for exam", "reason for examination", "clinical information"}


def canonical_section(name: str) -> str:
    """The canonical name of a header: ``findings``, ``impression``, ``findings_impression`` or the
    header itself, lower-cased with single spaces."""
    key = " ".join(name.lower().replace("_", " ").split())
    if key in _FINDINGS:
        return "findings"
    if key in _IMPRESSION:
        return "impression"
    if key in _COMBINED:
        return "findings_impression"
    return key


def _is_header(raw: str) -> bool:
    name = raw.strip()
    if name.isupper():
        return True
    key = " ".join(name.lower().split())
    return key in _FINDINGS or key in _IMPRESSION or key in _COMBINED or key in _OTHER


def split_sections(text: str) -> dict[str, str]:
    """``{canonical name: text}`` (whitespace-joined); a repeated section name keeps both texts in order."""
    heads = [m for m in _HEADER.finditer(text) if _is_header(m.group(1))]
    out: dict[str, str] = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = " ".join(text[m.end():end].split())
        name = canonical_section(m.group(1))
        out[name] = f"{out[name]} {body}".strip() if name in out else body
    return out


def report_parts(text: str) -> tuple[str, str]:
    """``(findings, impression)`` of one report; see the module docstring for the combined-block rule."""
    sections = split_sections(text)
    findings = sections.get("findings", "")
    impression = sections.get("impression", "")
    combined = sections.get("findings_impression", "")
    if combined:
        if not findings:
            findings = combined
        elif not impression:
            impression = combined
    return findings, impression
