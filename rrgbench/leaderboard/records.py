"""The leaderboard's view of run directories: every run read once through :class:`rrgbench.rundir.RunDir`.

Only run records are read: the leaderboard never recomputes a score. Every file read must resolve inside
the runs folder; a run that cannot be read is skipped with its reason (:func:`scan_runs`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ..errors import RRGBenchError
from ..rundir import RUN_JSON, RunDir, ScoreFile, Skipped, find_runs, inside, relative

__all__ = ["BoardRun", "ScoreFile", "Skipped", "inside", "load_generations", "load_run", "load_runs",
           "load_sample_scores", "safe_part", "scan_runs"]

log = logging.getLogger("rrgbench.leaderboard")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_part(text: str) -> str:
    """A path component that is safe to create on disk (no ``/``, no ``..``, no odd characters)."""
    part = _SAFE.sub("_", str(text)).strip("._") or "_"
    return part[:80]


class BoardRun(RunDir):
    """A :class:`RunDir` read eagerly and checked, with its place in the site.

    ``run`` is the validated ``run.json`` and ``scores`` the ``{metric: ScoreFile}`` map (attributes, read
    once by :func:`load_run`); ``rel`` is the path relative to the runs folder.
    """

    def __init__(self, path: Path, rel: str, run: dict[str, Any], scores: dict[str, ScoreFile]) -> None:
        super().__init__(path)
        self.rel = rel
        self.__dict__["record"] = run  # fills RunDir.record (a cached property)
        self._scores = scores

    @property
    def run(self) -> dict[str, Any]:
        return self.record  # type: ignore[return-value]

    @property
    def scores(self) -> dict[str, ScoreFile]:  # type: ignore[override]
        """``{metric: ScoreFile}`` (an attribute here, unlike :meth:`RunDir.scores`)."""
        return self._scores or {}

    @property
    def site_path(self) -> str:
        """Where this run's page lives inside the site (safe path components only)."""
        return "/".join(["runs", *(safe_part(p) for p in self.rel.split("/"))])


def load_run(path: Path, runs_dir: Path) -> BoardRun:
    """Read one run directory (``path`` holds ``run.json``); a bad file raises naming it.

    Every file read must resolve inside ``runs_dir``: a symbolic link that leaves the runs folder is refused.
    """
    run_dir = RunDir(path)

    def checked(file: Path) -> Path:
        if file.is_symlink() and not inside(file, runs_dir):
            raise RRGBenchError(f"{file}: symbolic link to a file outside the runs folder")
        return file

    checked(path / RUN_JSON)
    record = run_dir.record
    if run_dir.scores_dir.is_dir() and not inside(run_dir.scores_dir, runs_dir):
        raise RRGBenchError(f"{run_dir.scores_dir}: symbolic link to a folder outside the runs folder")
    for file in run_dir.score_files():
        checked(file)
    scores = run_dir.scores()
    for sf in scores.values():
        if sf.samples_path is not None and not inside(sf.samples_path, runs_dir):
            raise RRGBenchError(f"{sf.samples_path}: symbolic link to a file outside the runs folder")
    if run_dir.generations_path.exists():
        checked(run_dir.generations_path)
    return BoardRun(path, relative(path, runs_dir), dict(record), scores)


def scan_runs(runs_dir: Path) -> tuple[list[BoardRun], list[Skipped]]:
    """Every readable run under ``runs_dir`` and every one left out (corrupt record, link outside), with why."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RRGBenchError(f"{runs_dir}: runs directory not found")
    skipped: list[Skipped] = []
    runs: list[BoardRun] = []
    for path in find_runs(runs_dir, skipped):
        try:
            runs.append(load_run(path, runs_dir))
        except (RRGBenchError, OSError) as exc:
            reason = str(exc) if isinstance(exc, RRGBenchError) else f"{exc.filename}: {exc.strerror or exc}"
            log.warning("skipping run %s: %s", path, reason)
            for prefix in {str(path) + "/", str(path.resolve()) + "/"}:  # the index names files within the run
                reason = reason.replace(prefix, "")
            skipped.append(Skipped(relative(path, runs_dir), reason))
    return runs, sorted(skipped, key=lambda s: s.rel)


def load_runs(runs_dir: Path) -> list[BoardRun]:
    """Every run under ``runs_dir`` (any depth), sorted by relative path; the first bad record raises."""
    runs, skipped = scan_runs(runs_dir)
    if skipped:
        raise RRGBenchError(f"{skipped[0].rel}: {skipped[0].reason}")
    return runs


def load_generations(rec: RunDir) -> list[dict[str, Any]]:
    """Rows of ``generations.jsonl`` (empty when the run has none yet)."""
    return rec.generations(tolerate_torn_tail=True)


def load_sample_scores(sf: ScoreFile) -> dict[str, dict[str, Any]]:
    """``{id: row}`` from ``scores/<metric>.samples.jsonl``."""
    return sf.sample_rows()
