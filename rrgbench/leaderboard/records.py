"""Read run directories (``run.json``, ``generations.jsonl``, ``scores/*``) into plain objects.

Only run records are read: the leaderboard never recomputes a score. A malformed file raises
:class:`~rrgbench.api.RRGBenchError` naming it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import RRGBenchError
from ..io import iter_jsonl, read_json

log = logging.getLogger("rrgbench.leaderboard")
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


def inside(path: Path, root: Path) -> bool:
    """True if ``path``, with every symbolic link resolved, lies in ``root`` (also resolved)."""
    try:
        Path(path).resolve(strict=True).relative_to(Path(root).resolve())
    except (OSError, ValueError, RuntimeError):
        return False
    return True


def load_run(path: Path, runs_dir: Path) -> RunRecord:
    """Read one run directory (``path`` holds ``run.json``); a bad file raises naming it.

    Every file read must resolve inside ``runs_dir``: a symbolic link that leaves the runs folder is refused.
    """
    from ..records import validate

    def checked(file: Path) -> Path:
        if file.is_symlink() and not inside(file, runs_dir):
            raise RRGBenchError(f"{file}: symbolic link to a file outside the runs folder")
        return file

    run = validate(read_json(checked(path / "run.json")), path / "run.json")
    scores: dict[str, ScoreFile] = {}
    scores_dir = path / "scores"
    if scores_dir.is_dir():
        if not inside(scores_dir, runs_dir):
            raise RRGBenchError(f"{scores_dir}: symbolic link to a folder outside the runs folder")
        for sp in sorted(scores_dir.glob("*.json")):
            sf = _score_file(checked(sp))
            if sf.samples_path is not None and not inside(sf.samples_path, runs_dir):
                raise RRGBenchError(f"{sf.samples_path}: symbolic link to a file outside the runs folder")
            scores[sf.metric] = sf
    gens = path / "generations.jsonl"
    if gens.exists():
        checked(gens)
    rel = path.relative_to(runs_dir).as_posix() if path != runs_dir else path.name
    return RunRecord(path=path, rel=rel, run=dict(run), scores=scores)


@dataclass
class Skipped:
    """A run directory the site leaves out, and why (shown in the build log and on the index)."""

    rel: str
    reason: str


def _run_dirs(runs_dir: Path, skipped: list[Skipped]) -> list[Path]:
    """Directories holding ``run.json`` (not below another run), hidden folders left out.

    A symbolic link to a folder is followed when its target stays inside the runs folder (each real folder
    is visited once); a link that leaves it is listed in ``skipped`` with the reason.
    """
    root = runs_dir.resolve()
    found: list[Path] = []
    seen: set[Path] = set()

    def walk(folder: Path) -> None:
        real = folder.resolve()
        if real in seen:
            return
        seen.add(real)
        if (folder / "run.json").exists() or (folder / "run.json").is_symlink():
            found.append(folder)  # a run's own subfolders (checkpoint/, work/) never hold another run
            return
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            skipped.append(Skipped(_rel(folder, runs_dir), f"cannot list folder: {exc.strerror or exc}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                if not entry.is_dir():
                    continue
                if not inside(entry, root):
                    log.warning("%s: symbolic link to %s, outside the runs folder: not followed", entry,
                                entry.resolve())
                    skipped.append(Skipped(_rel(entry, runs_dir), "symbolic link to a folder outside the runs "
                                                                  "folder; not followed"))
                    continue
                walk(entry)
            elif entry.is_dir():
                walk(entry)

    walk(runs_dir)
    return sorted(found)


def _rel(path: Path, runs_dir: Path) -> str:
    return path.relative_to(runs_dir).as_posix() if path != runs_dir else path.name


def scan_runs(runs_dir: Path) -> tuple[list[RunRecord], list[Skipped]]:
    """Every readable run under ``runs_dir`` and every one left out (corrupt record, link outside), with why."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RRGBenchError(f"{runs_dir}: runs directory not found")
    skipped: list[Skipped] = []
    runs: list[RunRecord] = []
    for path in _run_dirs(runs_dir, skipped):
        try:
            runs.append(load_run(path, runs_dir))
        except (RRGBenchError, OSError) as exc:
            reason = str(exc) if isinstance(exc, RRGBenchError) else f"{exc.filename}: {exc.strerror or exc}"
            log.warning("skipping run %s: %s", path, reason)
            for prefix in {str(path) + "/", str(path.resolve()) + "/"}:  # the index names files within the run
                reason = reason.replace(prefix, "")
            skipped.append(Skipped(_rel(path, runs_dir), reason))
    return runs, sorted(skipped, key=lambda s: s.rel)


def load_runs(runs_dir: Path) -> list[RunRecord]:
    """Every run under ``runs_dir`` (any depth), sorted by relative path; the first bad record raises."""
    runs, skipped = scan_runs(runs_dir)
    if skipped:
        raise RRGBenchError(f"{skipped[0].rel}: {skipped[0].reason}")
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
