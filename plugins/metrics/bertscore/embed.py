"""Batch-independent BERTScore: each unique text is embedded alone and cached on disk.

bert-score pads texts into length-sorted batches, so a text's embedding (and every score) moves in the
last float bits with whichever other texts share its batch; re-scoring a run then never reproduces it
exactly. Here each unique text is encoded alone (a batch of one: no padding, no neighbours), its
L2-normalised token embeddings are stored under
``<cache_root>/bertscore/<model key>/<text sha256[:2]>/<text sha256>.npz`` and the greedy matching of
bert-score 0.3.13 (``greedy_cos_idf`` without idf: [CLS]/[SEP] weigh 0, empty side → 0; optional
baseline rescaling) runs in float64 numpy per pair. References are therefore embedded once per
dataset, a repeated hypothesis once, and re-scoring the same texts is bit-identical.

The model key hashes everything that changes an embedding: model, layer, library versions and device
type (CPU and CUDA kernels differ in the last bits).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rrgbench.io import atomic_write_bytes
from rrgbench.paths import cache_root

log = logging.getLogger("rrgbench.metrics.bertscore")


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingStore:
    """Token embeddings of single texts for one loaded ``BERTScorer``, memoised in memory and on disk."""

    def __init__(self, scorer: Any, model_signature: str, device: str, root: Path | None = None,
                 disk: bool = True) -> None:
        self.scorer = scorer
        key = hashlib.sha256(f"{model_signature}|device:{device.split(':')[0]}".encode()).hexdigest()[:20]
        self.dir = (root or cache_root() / "bertscore") / key
        self.disk = disk
        self.model_signature = model_signature
        self.memory: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _path(self, h: str) -> Path:
        return self.dir / h[:2] / f"{h}.npz"

    def _load(self, h: str) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            with np.load(self._path(h)) as z:
                return z["emb"], z["weight"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable embedding cache file %s: %s", self._path(h), exc)
            return None

    def _save(self, h: str, emb: np.ndarray, weight: np.ndarray) -> None:
        if not (self.dir / "model.txt").exists():
            atomic_write_bytes(self.dir / "model.txt", (self.model_signature + "\n").encode())
        buf = io.BytesIO()
        np.savez(buf, emb=emb, weight=weight)
        atomic_write_bytes(self._path(h), buf.getvalue())

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """``(normalised embeddings [L, D] float32, token weights [L])`` of ``text`` encoded alone."""
        import torch
        from bert_score.utils import bert_encode, sent_encode

        tok = self.scorer._tokenizer
        ids = sent_encode(tok, text)
        x = torch.tensor([ids], dtype=torch.long, device=self.scorer.device)
        with torch.inference_mode():
            emb = bert_encode(self.scorer._model, x, torch.ones_like(x), all_layers=False)[0]
            emb = emb / torch.norm(emb, dim=-1, keepdim=True)
        special = {tok.sep_token_id, tok.cls_token_id}
        weight = np.array([0.0 if i in special else 1.0 for i in ids], dtype=np.float32)
        return emb.float().cpu().numpy().astype(np.float32), weight

    def get(self, texts: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Embeddings keyed by text sha256 for every unique text (cache first, then the model)."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        todo: dict[str, str] = {}
        for t in texts:
            h = text_key(t)
            if h in out or h in todo:
                continue
            hit = self.memory.get(h) or (self._load(h) if self.disk else None)
            if hit is not None:
                out[h] = self.memory[h] = hit
            else:
                todo[h] = t
        for h, t in todo.items():
            out[h] = self.memory[h] = self.encode(t)
            if self.disk:
                try:
                    self._save(h, *out[h])
                except Exception as exc:  # noqa: BLE001 - a read-only cache must not stop scoring
                    log.warning("cannot write embedding cache %s: %s", self._path(h), exc)
        if todo:
            log.info("bertscore: %d of %d unique texts embedded (%d from cache)", len(todo), len(out),
                     len(out) - len(todo))
        return out


def greedy_match(hyp: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """bert-score's raw P, R, F1 of one pair from normalised embeddings (float64, no padding)."""
    (he, hw), (re_, rw) = hyp, ref
    if hw.sum() == 0 or rw.sum() == 0:  # only [CLS]/[SEP]: bert-score sets P and R to 0
        return 0.0, 0.0, 0.0
    sim = he.astype(np.float64) @ re_.astype(np.float64).T
    hw64, rw64 = hw.astype(np.float64), rw.astype(np.float64)
    p = float((sim.max(axis=1) * hw64).sum() / hw64.sum())
    r = float((sim.max(axis=0) * rw64).sum() / rw64.sum())
    f = 2 * p * r / (p + r) if p + r != 0 else 0.0
    return p, r, f


def pair_scores(store: EmbeddingStore, hyps: Sequence[str], refs: Sequence[str],
                baseline: np.ndarray | None) -> list[dict[str, float]]:
    """``[{"p", "r", "f"}]`` per pair; ``baseline`` ([P, R, F] rows of bert-score's file) rescales."""
    emb = store.get(list(hyps) + list(refs))
    rows = []
    for h, r in zip(hyps, refs):
        p, rec, f = greedy_match(emb[text_key(h)], emb[text_key(r)])
        if baseline is not None:
            b = baseline.astype(np.float64)
            p, rec, f = ((v - bv) / (1 - bv) for v, bv in zip((p, rec, f), b))
        rows.append({"p": float(p), "r": float(rec), "f": float(f)})
    return rows


def disk_cache_enabled() -> bool:
    return os.environ.get("RRGBENCH_NO_CACHE", "") not in ("1", "true", "yes")
