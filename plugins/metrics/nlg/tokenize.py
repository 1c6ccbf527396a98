"""Tokenisation protocols: text -> the space-joined token string handed to the COCO scorers.

* ``r2gen``: R2Gen cleaning (:func:`rrgbench.text.clean` with the dataset's cleaning protocol), then the
  whitespace tokens re-joined by single spaces, exactly what R2Gen's tokenizer decodes before scoring
  (without R2Gen's vocabulary truncation and ``<unk>``, which belong to a method, not to the metric).
* ``ptb``: pycocoevalcap's PTBTokenizer (Stanford CoreNLP 3.4.1, ``-preserveLines -lowerCase``, then the
  same punctuation filter). Runs the jar shipped in the wheel; temp files go to the system temp dir, not
  into site-packages (so a read-only install works).
* ``raw``: ``str.split()`` re-joined by spaces (RadEval / ViLMedic style; case and punctuation kept).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence

from rrgbench.api import RRGBenchError
from rrgbench.text import clean

from .java import corenlp_jar, require_java

PROTOCOLS = ("r2gen", "ptb", "raw")

# pycocoevalcap/tokenizer/ptbtokenizer.py: tokens dropped after PTB tokenisation.
PTB_PUNCTUATIONS = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                              ".", "?", "!", ",", ":", "-", "--", "...", ";"])
# Characters Python or Java treat as line breaks: each would split one report into two PTB lines.
_LINE_BREAKS = dict.fromkeys(map(ord, "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), " ")


def tokenize(texts: Sequence[str], protocol: str, cleaning: str = "r2gen_iu") -> list[str]:
    """Token strings (tokens joined by single spaces) for ``texts`` under ``protocol``."""
    if protocol == "r2gen":
        return [" ".join(clean(t, cleaning).split()) for t in texts]
    if protocol == "raw":
        return [" ".join(t.split()) for t in texts]
    if protocol == "ptb":
        return ptb_tokenize(texts)
    raise RRGBenchError(f"unknown tokenization protocol '{protocol}'; choose one of {', '.join(PROTOCOLS)}")


def ptb_tokenize(texts: Sequence[str]) -> list[str]:
    """PTB-tokenise all texts in one Java call (one line per text)."""
    if not texts:
        return []
    java = require_java("the 'ptb' tokenization protocol (Stanford PTBTokenizer)")
    jar = corenlp_jar()
    if not jar.is_file():
        raise RRGBenchError(f"missing {jar}: reinstall pycocoevalcap==1.2")
    body = "\n".join(t.translate(_LINE_BREAKS) for t in texts)
    fd, path = tempfile.mkstemp(prefix="rrgbench-ptb-", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body.encode("utf-8"))
        proc = subprocess.run([java, "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer",
                               "-preserveLines", "-lowerCase", path],
                              capture_output=True, check=False)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise RRGBenchError(f"PTBTokenizer failed (exit {proc.returncode}): "
                            f"{proc.stderr.decode('utf-8', 'replace').strip()[-500:]}")
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(texts):
        raise RRGBenchError(f"PTBTokenizer returned {len(lines)} lines for {len(texts)} reports")
    return [" ".join(w for w in line.rstrip().split(" ") if w not in PTB_PUNCTUATIONS)
            for line in lines[:len(texts)]]
