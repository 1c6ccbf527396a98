"""Per-sample sufficient statistics for BLEU, ROUGE-L and CIDEr-D, and their vectorised re-aggregation.

Everything follows pycocoevalcap 1.2 (``bleu_scorer.py``, ``rouge.py``, ``cider_scorer.py``) on the
same token strings; the corpus point estimates themselves are computed by the NLG metric with
pycocoevalcap's own scorers, and the tests check these vectorised forms against pycocoevalcap re-run
on fixed resamples.

Resamples are given as a weight matrix ``W[B, n]`` (how often each sample is drawn). That covers the
bootstrap (counts), the paired bootstrap (same ``W`` for both systems) and approximate randomisation
(two systems' samples concatenated with weights ``1-M`` and ``M``).
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from scipy import sparse

N = 4
SMALL, TINY = 1e-9, 1e-15  # bleu_scorer.py
ROUGE_BETA = 1.2  # rouge.py
CIDER_SIGMA = 6.0  # cider.py


def precook(tokens: str, n: int = N) -> dict[tuple[str, ...], int]:
    """n-gram counts of ``tokens.split()`` (orders 1..n), as pycocoevalcap's ``precook``."""
    words = tokens.split()
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i:i + k])] += 1
    return counts


# ------------------------------------------------------------------------------------------- BLEU

BLEU_FIELDS = ("testlen", "reflen", "guess_1", "guess_2", "guess_3", "guess_4",
               "correct_1", "correct_2", "correct_3", "correct_4")


def bleu_counts(hyp_counts: dict, hyp: str, ref_counts: dict, ref: str) -> list[int]:
    """``[testlen, reflen, guess_1..4, correct_1..4]`` for one pair with one reference."""
    testlen, reflen = len(hyp.split()), len(ref.split())
    guess = [max(0, testlen - k + 1) for k in range(1, N + 1)]
    correct = [0] * N
    for gram, count in hyp_counts.items():
        correct[len(gram) - 1] += min(ref_counts.get(gram, 0), count)
    return [testlen, reflen, *guess, *correct]


def bleu_from_totals(t: Sequence[float]) -> list[float]:
    """BLEU-1..4 from ``[testlen, reflen, guess_1..4, correct_1..4]`` counts, in pycocoevalcap's operation
    order: corpus BLEU from summed counts (``BleuScorer.compute_score``), or one pair's (its ``bleu_list``)."""
    bleus = []
    bleu = 1.0
    for k in range(N):
        bleu *= (float(t[6 + k]) + TINY) / (float(t[2 + k]) + SMALL)
        bleus.append(bleu ** (1.0 / (k + 1)))
    ratio = (t[0] + TINY) / (t[1] + SMALL)
    if ratio < 1:
        for k in range(N):
            bleus[k] *= math.exp(1 - 1 / ratio)
    return bleus


def bleu_batch(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``[B, 4]`` corpus BLEU-1..4 for each weight row; ``counts`` is ``[n, 10]``."""
    t = weights @ counts
    ratios = (t[:, 2 + N:] + TINY) / (t[:, 2:2 + N] + SMALL)
    bleus = np.cumprod(ratios, axis=1) ** (1.0 / np.arange(1, N + 1))
    ratio = (t[:, 0] + TINY) / (t[:, 1] + SMALL)
    with np.errstate(divide="ignore", over="ignore"):
        bp = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
    return bleus * bp[:, None]


# ---------------------------------------------------------------------------------------- ROUGE-L


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (bit-parallel; same integer as pycocoevalcap's my_lcs)."""
    if len(a) < len(b):
        a, b = b, a
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(hyp: str, ref: str) -> float:
    """pycocoevalcap ROUGE-L (β = 1.2, tokens = ``split(" ")``) for one pair."""
    token_c, token_r = hyp.split(" "), ref.split(" ")
    lcs = lcs_length(token_r, token_c)
    prec = lcs / float(len(token_c))
    rec = lcs / float(len(token_r))
    if prec != 0 and rec != 0:
        return ((1 + ROUGE_BETA ** 2) * prec * rec) / float(rec + ROUGE_BETA ** 2 * prec)
    return 0.0


# ------------------------------------------------------------------------------------------ CIDEr


class _CsrRows:
    """Rows of a CSR matrix appended entry by entry (compact typed arrays, no per-entry Python objects)."""

    def __init__(self) -> None:
        self.indices, self.data, self.indptr = array("i"), array("d"), array("q", [0])

    def add(self, col: int, value: float) -> None:
        self.indices.append(col)
        self.data.append(value)

    def end_row(self) -> None:
        self.indptr.append(len(self.indices))

    def matrix(self, rows: int, cols: int) -> sparse.csr_matrix:
        """The CSR matrix with each row's entries sorted by column, as a COO -> CSR conversion leaves them
        (so every row's dot product sums in the same order); the appended entries are released."""
        out = sparse.csr_matrix((np.array(self.data, float), np.array(self.indices, np.int32),
                                 np.array(self.indptr, np.int64)), shape=(rows, cols))
        self.indices, self.data, self.indptr = array("i"), array("d"), array("q", [0])
        out.sort_indices()
        return out


class CiderBatch:
    """CIDEr-D for many weightings of one sample set, with document frequencies recomputed per row.

    For order k, sample i and weighting b (idf depends on b through the weighted reference set)::

        idf_bg = log(sum_i W_bi) - log(max(1, sum_i W_bi [g in ref_i]))
        num_bi = sum_g min(th_ig, tr_ig) tr_ig idf_bg^2,  |h|_bi^2 = sum_g th_ig^2 idf_bg^2, same for |r|
        val    = num / (|h| |r|)  (0 if a norm is 0),  × exp(-(len_h - len_r)^2 / (2 σ^2))
        CIDEr_b = sum_i W_bi · 10 · mean_k(val) / sum_i W_bi

    which is pycocoevalcap's ``compute_cider`` (clipping included, since idf ≥ 0). n-grams of a
    hypothesis that occur in no reference have df 0 → idf = log N for every weighting; they are kept as
    one per-sample constant instead of columns.
    """

    def __init__(self, hyps: Sequence[str], refs: Sequence[str]) -> None:
        self.n = n = len(hyps)
        # pass 1: the reference n-gram vocabulary per order, ids in order of first appearance
        vocab: list[dict[tuple[str, ...], int]] = [{} for _ in range(N)]
        for r in refs:
            for g in precook(r):
                vocab[len(g) - 1].setdefault(g, len(vocab[len(g) - 1]))
        # pass 2, pair by pair (no corpus of n-gram dicts in memory): per order three [n, V_k] CSR matrices,
        # min(th,tr)·tr, th² (hypothesis) and tr² (reference; its pattern is also "g in ref_i")
        parts = [_CsrRows() for _ in range(3 * N)]
        self.hyp_only = np.zeros((N, n))  # sum of th² over hypothesis n-grams absent from all refs
        len_h, len_r = np.zeros(n), np.zeros(n)
        for i, (h, r) in enumerate(zip(hyps, refs)):
            hc, rc = precook(h), precook(r)
            for g, tr in rc.items():
                k = len(g) - 1
                j = vocab[k][g]
                th = hc.get(g, 0)
                if th:
                    parts[3 * k].add(j, min(th, tr) * tr)
                parts[3 * k + 2].add(j, tr * tr)
            for g, th in hc.items():
                k = len(g) - 1
                j = vocab[k].get(g)
                if j is None:
                    self.hyp_only[k, i] += th * th
                else:
                    parts[3 * k + 1].add(j, th * th)
            for part in parts:
                part.end_row()
            len_h[i] = sum(c for g, c in hc.items() if len(g) == 2)
            len_r[i] = sum(c for g, c in rc.items() if len(g) == 2)
        self.matrices: list[tuple[sparse.csr_matrix, sparse.csr_matrix, sparse.csr_matrix]] = []
        self.presence: list[sparse.csr_matrix] = []  # [n, V_k]: g in ref_i
        for k in range(N):
            v = len(vocab[k])
            num, nh, nr = (parts[3 * k + m].matrix(n, v) for m in range(3))
            self.matrices.append((num, nh, nr))
            self.presence.append(sparse.csr_matrix((np.ones(len(nr.data)), nr.indices, nr.indptr), shape=(n, v)))
        del vocab, parts
        self.penalty = np.e ** (-((len_h - len_r) ** 2) / (2 * CIDER_SIGMA ** 2))

    def sample_scores(self, weights: np.ndarray) -> np.ndarray:
        """``[B, n]`` per-sample CIDEr-D under each weighting's document frequencies."""
        weights = np.atleast_2d(np.asarray(weights, float))
        total = weights.sum(axis=1)  # [B]
        log_n = np.log(total)
        val = np.zeros((len(weights), self.n))
        for k in range(N):
            df = (self.presence[k].T @ weights.T).T  # [B, V]
            idf2 = (log_n[:, None] - np.log(np.maximum(1.0, df))) ** 2
            num_m, nh_m, nr_m = self.matrices[k]
            num = (num_m @ idf2.T).T  # [B, n]
            nh = (nh_m @ idf2.T).T + self.hyp_only[k][None, :] * (log_n ** 2)[:, None]
            nr = (nr_m @ idf2.T).T
            denom = np.sqrt(nh) * np.sqrt(nr)
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where((nh != 0) & (nr != 0), num / denom, num)
            val += v * self.penalty[None, :]
        return val / N * 10.0

    def corpus(self, weights: np.ndarray, chunk: int = 200) -> np.ndarray:
        """``[B]`` corpus CIDEr-D (weighted mean of per-sample scores), computed ``chunk`` rows at a time."""
        weights = np.atleast_2d(np.asarray(weights, float))
        out = np.empty(len(weights))
        for s in range(0, len(weights), chunk):
            w = weights[s:s + chunk]
            out[s:s + chunk] = (self.sample_scores(w) * w).sum(axis=1) / w.sum(axis=1)
        return out


class _DocFreq(dict):
    """pycocoevalcap's ``document_frequency`` (a ``defaultdict(float)``) without inserting the n-grams it is
    asked about and lacks (every hypothesis-only n-gram would stay in memory with df 0)."""

    def __missing__(self, key: tuple[str, ...]) -> float:
        return 0.0


class _CorpusSize(list):
    """A chunk of pycocoevalcap's ``crefs`` that reports the corpus size as its length: ``compute_cider``
    takes ``ref_len = log(len(crefs))`` and only iterates the list otherwise."""

    def __init__(self, items: list, corpus_size: int) -> None:
        super().__init__(items)
        self.corpus_size = corpus_size

    def __len__(self) -> int:
        return self.corpus_size


def cider_d(hyps: Sequence[str], refs: Sequence[str], chunk: int = 2000) -> tuple[float, np.ndarray]:
    """pycocoevalcap's ``CiderScorer(n=4, sigma=6).compute_score()`` on one reference per hypothesis, run by
    pycocoevalcap's own ``compute_cider`` on ``chunk`` pairs at a time against the corpus document
    frequencies, so the n-gram counts of the whole corpus are never in memory at once (they took gigabytes
    at 100k pairs). Same corpus score and per-sample scores, bit for bit."""
    from pycocoevalcap.cider.cider_scorer import CiderScorer
    from pycocoevalcap.cider.cider_scorer import precook as coco_precook

    df = _DocFreq()
    for r in refs:  # compute_doc_freq: +1 per reference containing the n-gram
        for g in coco_precook(r):
            df[g] += 1
    scores: list[float] = []
    for s in range(0, len(hyps), chunk):
        scorer = CiderScorer(n=N, sigma=CIDER_SIGMA)
        for h, r in zip(hyps[s:s + chunk], refs[s:s + chunk]):
            scorer += (h, [r])
        scorer.document_frequency = df
        scorer.crefs = _CorpusSize(scorer.crefs, len(hyps))
        scores.extend(scorer.compute_cider())
    return np.mean(np.array(scores)), np.array(scores)
