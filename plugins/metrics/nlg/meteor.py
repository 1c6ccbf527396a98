"""METEOR 1.5 through the jar shipped with pycocoevalcap, hardened.

pycocoevalcap's wrapper sends ``SCORE ||| ref ||| hyp`` per segment, then one ``EVAL ||| stats ||| ...``
line; the jar answers one score per segment and then the corpus score. The corpus score is **not** the
mean of segment scores: the jar sums the 23 sufficient statistics of all segments (skipping the chunk
count of perfectly matching segments, see ``MeteorStats.addStats``) and scores the sums. This module
keeps those per-segment statistics so any resample can be re-aggregated in Python/numpy without Java;
:func:`score_from_stats` ports ``MeteorScorer.computeMetrics`` operation by operation (tests check it
against the jar's own EVAL output).

Hardening over pycocoevalcap: line breaks (which desynchronise the stdio protocol and leave the JVM
unusable) and ``|||`` are removed from hypotheses *and* references; a bad answer restarts the JVM and
raises a clear error; writes and reads are pipelined (no per-segment round trip).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence

import numpy as np

from rrgbench.api import RRGBenchError

from .java import meteor_jar, require_java

log = logging.getLogger("rrgbench.metrics.nlg.meteor")

N_STATS = 23
# meteor-1.5 defaults for "-l en" (printed by the jar: "Parameters: 0.85 0.2 0.6 0.75", "Weights: 1.0 0.6 0.8 0.6")
ALPHA, BETA, GAMMA, DELTA = 0.85, 0.2, 0.6, 0.75
MODULE_WEIGHTS = (1.0, 0.6, 0.8, 0.6)
# JVM flags that only speed start-up (the paraphrase table load); they do not change any number.
_JVM_TUNING = ["-XX:+UseSerialGC", "-Xms512m"]
_LINE_BREAKS = dict.fromkeys(map(ord, "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), " ")


def sanitize(text: str) -> str:
    """What pycocoevalcap does to a hypothesis (drop ``|||``, one ``'  '`` → ``' '`` pass), plus line breaks."""
    return text.translate(_LINE_BREAKS).replace("|||", "").replace("  ", " ")


class MeteorBridge:
    """One ``java -jar meteor-1.5.jar - - -stdio -l en -norm`` process (the command pycocoevalcap runs)."""

    def __init__(self) -> None:
        java = require_java("METEOR (pycocoevalcap's meteor-1.5.jar)")
        jar = meteor_jar()
        if not jar.is_file():
            raise RRGBenchError(f"missing {jar}: reinstall pycocoevalcap==1.2")
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [java, *_JVM_TUNING, "-jar", "-Xmx2G", jar.name, "-", "-", "-stdio", "-l", "en", "-norm"],
            cwd=jar.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        self.lock = threading.Lock()
        self.timeout = float(os.environ.get("RRGBENCH_METEOR_TIMEOUT", "300"))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _exchange(self, lines: list[str], n_answers: int) -> list[str]:
        """Write ``lines`` from a thread while reading ``n_answers`` lines (no pipe-buffer deadlock)."""
        error: list[BaseException] = []

        def writer() -> None:
            try:
                for line in lines:
                    self.proc.stdin.write(line.encode("utf-8") + b"\n")
                self.proc.stdin.flush()
            except BaseException as exc:  # noqa: BLE001 - reported below
                error.append(exc)

        last = [time.monotonic()]
        done = threading.Event()
        stalled: list[bool] = []

        def watchdog() -> None:  # a JVM that stops answering is killed, so readline() returns
            while not done.wait(1.0):
                if time.monotonic() - last[0] > self.timeout:
                    stalled.append(True)
                    self.proc.kill()
                    return

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        threading.Thread(target=watchdog, daemon=True).start()
        answers = []
        try:
            for _ in range(n_answers):
                raw = self.proc.stdout.readline()
                if not raw:
                    break
                last[0] = time.monotonic()
                answers.append(raw.decode("utf-8", "replace").strip())
        finally:
            done.set()
        t.join()
        if stalled:
            self.proc.wait()  # reap the killed JVM so alive() is accurate at once
            raise RRGBenchError(f"METEOR gave no answer for {self.timeout:.0f} s; its JVM was stopped "
                                "(RRGBENCH_METEOR_TIMEOUT sets the limit)")
        if error or len(answers) < n_answers:
            raise RRGBenchError(f"METEOR process stopped answering ({self._stderr_tail()})")
        return answers

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        except (OSError, ValueError):
            tail = []
        return " | ".join(tail) or f"exit code {self.proc.poll()}"

    def segment_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
        """``[n, 23]`` float64 sufficient statistics, one row per (hypothesis, reference) pair."""
        lines = [f"SCORE ||| {sanitize(r)} ||| {sanitize(h)}" for h, r in zip(hyps, refs)]
        with self.lock:
            answers = self._exchange(lines, len(lines))
        out = np.empty((len(lines), N_STATS))
        for i, ans in enumerate(answers):
            try:
                row = [float(x) for x in ans.split()]
            except ValueError:
                row = []
            if len(row) != N_STATS:
                self.close()
                raise RRGBenchError(f"METEOR returned an unreadable answer for pair {i}: {ans[:200]!r}")
            out[i] = row
        return out

    def evaluate(self, stats: np.ndarray) -> tuple[float, list[float]]:
        """The jar's own EVAL over the given statistics: ``(corpus score, segment scores)``."""
        line = "EVAL ||| " + " ||| ".join(" ".join(repr(float(v)) for v in row) for row in stats)
        with self.lock:
            answers = self._exchange([line], len(stats) + 1)
        values = [float(a) for a in answers]
        return values[-1], values[:-1]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


_shared: MeteorBridge | None = None
_shared_lock = threading.Lock()


def bridge() -> MeteorBridge:
    """The process-wide METEOR JVM, started on first use and restarted if it died.

    Starting the JVM (loading the 62 MB paraphrase table) takes ~5 s; every later scoring call in the
    same process reuses it. The lock inside the bridge serialises concurrent callers.
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            _shared = MeteorBridge()
        return _shared


def prewarm() -> threading.Thread:
    """Start the JVM and load its paraphrase table in the background (e.g. while a model generates)."""
    t = threading.Thread(target=lambda: bridge().segment_stats(["warm"], ["warm"]), daemon=True)
    t.start()
    return t


@atexit.register
def _shutdown() -> None:
    if _shared is not None:
        _shared.close()


def segment_stats(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """Per-pair statistics; one retry on a fresh JVM if the shared one died."""
    try:
        return bridge().segment_stats(hyps, refs)
    except RRGBenchError as exc:
        log.warning("METEOR JVM failed (%s); restarting once", exc)
        return bridge().segment_stats(hyps, refs)


# ----------------------------------------------------------------------------- scoring from stats


def _div(a: float, b: float) -> float:
    """Java double division (no exception on zero)."""
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _total_matches(s: Sequence[float]) -> tuple[float, float]:
    tst = ref = 0.0
    for i in range(4):
        tst += s[4 + 4 * i]
        ref += s[5 + 4 * i]
        tst += s[6 + 4 * i]
        ref += s[7 + 4 * i]
    return tst, ref


def score_from_stats(s: Sequence[float]) -> float:
    """``MeteorScorer.computeMetrics`` on one 23-value statistics row (English defaults)."""
    tl, rl, tf, rf = s[0], s[1], s[2], s[3]
    ttm, rtm = _total_matches(s)
    chunks, twm, rwm = s[20], s[21], s[22]
    twl = (DELTA * (tl - tf)) + ((1.0 - DELTA) * tf)
    rwl = (DELTA * (rl - rf)) + ((1.0 - DELTA) * rf)
    tw = rw = 0.0
    for i, w in enumerate(MODULE_WEIGHTS):
        tw += s[4 + 4 * i] * w * DELTA
    for i, w in enumerate(MODULE_WEIGHTS):
        rw += s[5 + 4 * i] * w * DELTA
    for i, w in enumerate(MODULE_WEIGHTS):
        tw += s[6 + 4 * i] * w * (1.0 - DELTA)
    for i, w in enumerate(MODULE_WEIGHTS):
        rw += s[7 + 4 * i] * w * (1.0 - DELTA)
    precision = _div(tw, twl)
    recall = _div(rw, rwl)
    fmean = _div(1.0, _div(1.0 - ALPHA, precision) + _div(ALPHA, recall))
    if ttm == tl and rtm == rl and chunks == 1:
        frag = 0.0
    else:
        frag = _div(chunks, (twm + rwm) / 2)
    frag_penalty = GAMMA * _java_pow(frag, BETA)
    score = fmean * (1.0 - frag_penalty)
    return 0.0 if math.isnan(score) else max(score, 0.0)


def _java_pow(x: float, y: float) -> float:
    if math.isnan(x):
        return math.nan
    if math.isinf(x):
        return math.inf
    return math.pow(x, y)


def effective_rows(stats: np.ndarray) -> np.ndarray:
    """Rows as ``addStats`` adds them: a perfect segment (all words matched, one chunk) adds no chunks."""
    tst = stats[:, 4] + stats[:, 6] + stats[:, 8] + stats[:, 10] + stats[:, 12] + stats[:, 14] + stats[:, 16] + stats[:, 18]
    ref = stats[:, 5] + stats[:, 7] + stats[:, 9] + stats[:, 11] + stats[:, 13] + stats[:, 15] + stats[:, 17] + stats[:, 19]
    perfect = (tst == stats[:, 0]) & (ref == stats[:, 1]) & (stats[:, 20] == 1.0)
    out = stats.copy()
    out[perfect, 20] = 0.0
    return out


def corpus_score(stats: np.ndarray) -> float:
    """The jar's EVAL corpus score from ``[n, 23]`` segment statistics (all integer-valued: sums are exact)."""
    if len(stats) == 0:
        return 0.0
    return score_from_stats(effective_rows(stats).sum(axis=0).tolist())


def batch_corpus_scores(stats: np.ndarray, weights: np.ndarray, effective: bool = False) -> np.ndarray:
    """Corpus METEOR for every row of ``weights`` ``[B, n]`` (resample counts) at once, vectorised;
    ``effective``: ``stats`` already went through :func:`effective_rows`."""
    s = weights @ (stats if effective else effective_rows(stats))  # [B, 23]
    ttm = s[:, 4] + s[:, 6] + s[:, 8] + s[:, 10] + s[:, 12] + s[:, 14] + s[:, 16] + s[:, 18]
    rtm = s[:, 5] + s[:, 7] + s[:, 9] + s[:, 11] + s[:, 13] + s[:, 15] + s[:, 17] + s[:, 19]
    w = np.asarray(MODULE_WEIGHTS)
    with np.errstate(all="ignore"):
        twl = DELTA * (s[:, 0] - s[:, 2]) + (1.0 - DELTA) * s[:, 2]
        rwl = DELTA * (s[:, 1] - s[:, 3]) + (1.0 - DELTA) * s[:, 3]
        tw = (s[:, 4:20:4] * w * DELTA).sum(1) + (s[:, 6:20:4] * w * (1.0 - DELTA)).sum(1)
        rw = (s[:, 5:20:4] * w * DELTA).sum(1) + (s[:, 7:20:4] * w * (1.0 - DELTA)).sum(1)
        p, r = tw / twl, rw / rwl
        fmean = 1.0 / ((1.0 - ALPHA) / p + ALPHA / r)
        perfect = (ttm == s[:, 0]) & (rtm == s[:, 1]) & (s[:, 20] == 1.0)
        frag = np.where(perfect, 0.0, s[:, 20] / ((s[:, 21] + s[:, 22]) / 2))
        score = fmean * (1.0 - GAMMA * np.power(frag, BETA))
    return np.where(np.isnan(score), 0.0, np.maximum(score, 0.0))
