"""R2Gen cleaning protocols: bit-exact on tricky strings (notes §1.4)."""

from __future__ import annotations

import random
import re

import pytest

from rrgbench.api import RRGBenchError
from rrgbench.text import PROTOCOLS, clean


def _reference(report: str, mimic: bool) -> str:
    """R2Gen's cleaning written out as the literal chain of replacements the notes describe."""
    t = report
    if mimic:
        t = t.replace("\n", " ")
        for _ in range(7):
            t = t.replace("__", "_")
        for _ in range(6):
            t = t.replace("  ", " ")
    for _ in range(8 if mimic else 3):
        t = t.replace("..", ".")
    t = t.replace("1. ", "")
    for n in "2345":
        t = t.replace(f". {n}. ", ". ")
    for n in "2345":
        t = t.replace(f" {n}. ", ". ")
    sents = t.strip().lower().split(". ")
    # the original pattern '[.,?;*!%^&_+():-\[\]{}]' -- ':-\[' is a range 0x3A..0x5B
    pattern = "[.,?;*!%^&_+():-\\[\\]{}]"
    out = []
    for s in sents:
        for ch in ('"', "/", "\\", "'"):
            s = s.replace(ch, "")
        out.append(re.sub(pattern, "", s.strip().lower()))
    return " . ".join(out) + " ."


@pytest.mark.parametrize(("text", "expected"), [
    ("The heart is normal. Lungs: clear.", "the heart is normal . lungs clear ."),
    # the ':-[' range also deletes < = > @ ; digits and '-' survive, spaces stay doubled
    ("Pressure <= 5 @ rest. A=B>C.", "pressure  5  rest . abc ."),
    # empty sentences are kept (the original compares a str with a list)
    ("No effusion. . Normal heart.", "no effusion .  . normal heart ."),
    ("1. Normal heart. 2. Clear lungs. 3. No effusion.", "normal heart . clear lungs . no effusion ."),
    ("AP/PA \"view\" isn't \\ seen.", "appa view isnt  seen ."),
    ("Normal.... Heart", "normal . heart ."),
    ("", " ."),
    ("X-XXXX in the {left} [base] (mild)!", "x-xxxx in the left base mild ."),
    ("Heart size 10-12 cm; normal 50% ^ & * + _ ? done.", "heart size 10-12 cm normal 50       done ."),
])
def test_r2gen_iu_tricky(text: str, expected: str) -> None:
    assert clean(text, "r2gen_iu") == expected
    assert _reference(text, mimic=False) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("FINDINGS:\n\nThe lungs  are clear.\n___ noted..  No effusion.",
     "findings the lungs are clear .  noted . no effusion ."),
    ("a__b  c...d. e", "ab cd . e ."),
    ("Line one.\nLine two....", "line one . line two ."),
])
def test_r2gen_mimic_tricky(text: str, expected: str) -> None:
    assert clean(text, "r2gen_mimic") == expected


def test_iu_and_mimic_differ_on_newlines_and_underscores() -> None:
    text = "Lungs clear.\n2. No effusion__ seen."
    assert clean(text, "r2gen_iu") != clean(text, "r2gen_mimic")


def test_matches_reference_on_random_strings() -> None:
    rng = random.Random(0)
    alphabet = "ab XY.. 12345. \n_\"'/\\:;<=>?@[]{}()-,!%^&*+ \u00e9\u00c9"
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert clean(s, "r2gen_iu") == _reference(s, mimic=False), repr(s)
        assert clean(s, "r2gen_mimic") == _reference(s, mimic=True), repr(s)


def test_other_protocols_and_unknown_name() -> None:
    assert clean("  A  b\n c ", "whitespace") == "A b c"
    assert clean(" x ", "none") == " x "
    assert set(PROTOCOLS) >= {"r2gen_iu", "r2gen_mimic", "whitespace", "none"}
    with pytest.raises(RRGBenchError, match="unknown cleaning protocol"):
        clean("x", "r2gen")
