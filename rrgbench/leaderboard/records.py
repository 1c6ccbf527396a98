"""Read run directories (``run.json``, ``generations.jsonl``, ``scores/*``) into plain objects.

Only run records are read: the leaderboard never recomputes a score. A malformed file raises
:class:`~rrgbench.api.RRGBenchError` naming it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import RRGBenchError
from ..io import iter_jsonl, read_json

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_part(text: str) -> str:
    """A path component that is safe to create on disk (no ``/``, no ``..``, no odd characters)."""
    part = _SAFE.sub("_", str(text)).strip("._") or "_"
    return part[:80]


@dataclass
class ScoreFile:
    """One ``scores/<metric>.json``."""

    metric: str
    status: str
    signature: str
    scores: dict[str, float]
    ci95: dict[str, list[float]]
    n: int | None
    reason: str = ""
    bootstrap: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    samples_path: Path | None = None


@dataclass
class RunRecord:
    """One run directory as the leaderboard sees it."""

    path: Path
    rel: str  # path relative to the runs dir, with '/' separators
    run: dict[str, Any]
    scores: dict[str, ScoreFile]

    @property
    def spec(self) -> dict[str, Any]:
        return self.run.get("spec") or {}

    @property
    def dataset(self) -> str:
        return str(self.spec.get("dataset") or (self.run.get("dataset") or {}).get("name") or "unknown")

    @property
    def method(self) -> str:
        return str(self.spec.get("method") or (self.run.get("method") or {}).get("name") or "unknown")

    @property
    def preset(self) -> str:
        return str(self.spec.get("preset") or "-")

    @property
    def seed(self) -> int | None:
        seed = self.spec.get("seed")
        return seed if isinstance(seed, int) else None

    @property
    def spec_hash(self) -> str:
        return str(self.run.get("spec_hash") or "")

    @property
    def fidelity(self) -> dict[str, str]:
        fid = self.run.get("fidelity") or {}
        return {str(k): str(v) for k, v in fid.items()} if isinstance(fid, dict) else {}

    @property
    def credentialed(self) -> bool:
        return bool((self.run.get("dataset") or {}).get("credentialed"))

    @property
    def variant(self) -> str:
        """Hash of what must match for seeds to be pooled: spec without seed/metrics, plus data identity."""
        spec = {k: v for k, v in self.spec.items() if k not in ("seed", "metrics")}
        ds = self.run.get("dataset") or {}
        key = repr(sorted((k, repr(v)) for k, v in spec.items())) + f"|{ds.get('manifest_hash')}|{ds.get('split')}"
        return hashlib.sha256(key.encode()).hexdigest()[:8]

    @property
    def site_path(self) -> str:
        """Where this run's page lives inside the site (safe path components only)."""
        return "/".join(["runs", *(safe_part(p) for p in self.rel.split("/"))])

    @property
    def generations_path(self) -> Path:
        return self.path / "generations.jsonl"


def _score_file(path: Path) -> ScoreFile:
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise RRGBenchError(f"{path}: expected a JSON object")
    status = str(raw.get("status") or "ok")
    scores = raw.get("scores") or {}
    if not isinstance(scores, dict):
        raise RRGBenchError(f"{path}: 'scores' must be an object of numbers")
    clean: dict[str, float] = {}
    for key, val in scores.items():
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            continue  # nested or textual extras (e.g. per-label tables) are read from ``raw``
        clean[str(key)] = float(val)
    ci = raw.get("ci95") or {}
    ci95 = {str(k): [float(v[0]), float(v[1])] for k, v in ci.items()
            if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)}
    metric = str(raw.get("metric") or path.stem)
    samples = path.with_name(f"{path.stem}.samples.jsonl")
    return ScoreFile(metric=metric, status=status, signature=str(raw.get("signature") or ""),
                     scores=clean, ci95=ci95, n=raw.get("n") if isinstance(raw.get("n"), int) else None,
                     reason=str(raw.get("reason") or ""), bootstrap=raw.get("bootstrap"), raw=raw,
                     samples_path=samples if samples.is_file() else None)


def load_run(path: Path, runs_dir: Path) -> RunRecord:
    """Read one run directory (``path`` holds ``run.json``)."""
    run = read_json(path / "run.json")
    if not isinstance(run, dict):
        raise RRGBenchError(f"{path / 'run.json'}: expected a JSON object")
    if not isinstance(run.get("spec", {}), dict):
        raise RRGBenchError(f"{path / 'run.json'}: 'spec' must be an object")
    scores: dict[str, ScoreFile] = {}
    scores_dir = path / "scores"
    if scores_dir.is_dir():
        for sp in sorted(scores_dir.glob("*.json")):
            sf = _score_file(sp)
            scores[sf.metric] = sf
    rel = path.relative_to(runs_dir).as_posix() if path != runs_dir else path.name
    return RunRecord(path=path, rel=rel, run=run, scores=scores)


def load_runs(runs_dir: Path) -> list[RunRecord]:
    """Every run under ``runs_dir`` (any depth), sorted by relative path."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RRGBenchError(f"{runs_dir}: runs directory not found")
    found = sorted(p.parent for p in runs_dir.rglob("run.json")
                   if not any(part.startswith(".") for part in p.relative_to(runs_dir).parts))
    # a run's own subfolders (checkpoint/, work/) never hold another run; skip nested run.json files
    runs: list[RunRecord] = []
    kept: list[Path] = []
    for path in found:
        if any(k in path.parents for k in kept):
            continue
        kept.append(path)
        runs.append(load_run(path, runs_dir))
    return runs


def load_generations(rec: RunRecord) -> list[dict[str, Any]]:
    """Rows of ``generations.jsonl`` (empty when the run has none yet)."""
    if not rec.generations_path.is_file():
        return []
    return list(iter_jsonl(rec.generations_path, tolerate_torn_tail=True))


def load_sample_scores(sf: ScoreFile) -> dict[str, dict[str, Any]]:
    """``{id: row}`` from ``scores/<metric>.samples.jsonl``."""
    if sf.samples_path is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in iter_jsonl(sf.samples_path, tolerate_torn_tail=True):
        if "id" not in row:
            raise RRGBenchError(f"{sf.samples_path}: a row has no 'id'")
        out[str(row["id"])] = row
    return out
