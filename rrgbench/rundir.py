"""The run directory: its file names, the ``run.json`` schema, score files and one reader, :class:`RunDir`.

Every module that reads or writes a run directory goes through this one (the runner, ``score``,
``compare``, ``list``, ``audit``, the leaderboard), so a file name or a field is defined once, here::

    <runs-dir>/<dataset>/<method>/<preset>-seed<k>-<spec_hash>/
        run.json                      RunRecord (below); ``outputs``: size + sha256 of each stage's files
        run.lock                      only while a process runs it (rrgbench.runlock)
        checkpoint/                   Method.save() output; sha256 of each file in run.json
        generations.jsonl             {"id", "report", "reference"} per sample, in split order
        generations.partial.jsonl     only while generating (resume point)
        scores/<metric>.json          MetricResult (below) without its per-sample rows
        scores/<metric>.samples.jsonl per-sample rows {"id", <score>...} (.samples.parquet above 20k rows)
        work/                         method scratch (tokenizers, banks, indices)
        train_state/<stage>/state.pt  only while a method stage trains (mid-stage resume point)
        shards/rank<k>.jsonl          only while generating with several processes

Versions (``schema_version`` in ``run.json`` and in each score file; :data:`RECORD_VERSION` is written):

* 1: the first format: ``spec.metrics`` is part of the spec hash.
* 2: metrics left the spec hash (scoring is its own stage); ``run.json`` gains ``scores`` (metric ->
  status, signature, generations hash); :func:`rrgbench.specs.spec_hash_of` recomputes either hash.
* 3: each ``scores/<metric>.json`` carries ``schema_version`` and ``display``, the metric's own presentation
  facts (:class:`~rrgbench.api.Display`: group, direction per key, labels, headline keys, per-label keys), so
  that readers never need a table of metric names. Score files of versions 1-2 have neither.

Older versions load (missing facts take their defaults: the leaderboard then asks the registered metric
class, see :meth:`ScoreFile.display_facts`); a newer version than this rrgbench knows is refused with one line.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypedDict

from .api import Display
from .errors import RRGBenchError
from .io import atomic_write_json, atomic_write_jsonl, iter_jsonl, read_json

RECORD_VERSION = 3  # what this rrgbench writes; it reads every version up to this one
STAGES = ("prepare", "train", "generate", "score")
RUN_JSON = "run.json"
GENERATIONS = "generations.jsonl"
PARTIAL_GENERATIONS = "generations.partial.jsonl"
CHECKPOINT_DIR = "checkpoint"
SCORES_DIR = "scores"
TRAIN_STATE_DIR = "train_state"  # <stage>/state.pt: mid-stage training state (rrgbench.train_state)
SHARDS_DIR = "shards"  # rank<k>.jsonl: per-process generations before the merge
WORK_DIR = "work"
SCORE_SUFFIX = ".json"
SAMPLES_SUFFIX = ".samples.jsonl"
SAMPLES_PARQUET_SUFFIX = ".samples.parquet"
PARQUET_ROWS = 20_000  # per-sample rows above this are written as parquet (JSONL gets slow)


class DatasetInfo(TypedDict, total=False):
    """``run.json`` ``dataset``: which data the run saw (the manifest hash identifies it)."""

    name: str
    manifest_hash: str
    split: str
    n: int
    n_train: int
    credentialed: bool
    licence: str
    cleaning: str
    skipped: list[str]


class RunRecord(TypedDict, total=False):
    """``run.json``: the frozen spec, stage status and everything needed to audit the run."""

    schema_version: int
    spec: dict[str, Any]
    spec_hash: str
    status: dict[str, str]  # stage -> pending | running | done | failed
    train_stages: dict[str, str]  # method stage -> done
    timings: dict[str, float]  # stage -> seconds
    environment: dict[str, Any]
    dataset: DatasetInfo
    method: dict[str, Any]  # name, version, description, stages
    fidelity: dict[str, str]  # asset -> substitute used and why
    device: str  # where the method ran: cpu, cuda, cuda:N (--device or automatic)
    checkpoint: dict[str, Any]  # {"path": "checkpoint", "sha256": {file: hash}}
    train: dict[str, Any]  # stage -> facts returned by Method.train
    error: str
    resumes: list[dict[str, Any]]  # {"at", "environment"} each time an unfinished run was continued
    outputs: dict[str, Any]  # stage -> {file relative to the run: {"size", "sha256"}} (runner; checked on rerun)
    scores: dict[str, dict[str, Any]]  # metric -> {status, signature, generations_sha256, scored_at}
    created: str
    updated: str


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def new_record(spec: dict[str, Any], spec_hash: str) -> RunRecord:
    return RunRecord(schema_version=RECORD_VERSION, spec=spec, spec_hash=spec_hash,
                     status={s: "pending" for s in STAGES}, train_stages={}, timings={}, fidelity={},
                     train={}, created=now(), updated=now())


_REQUIRED: dict[str, type] = {"schema_version": int, "spec": dict, "spec_hash": str, "status": dict}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "train_stages": dict, "timings": dict, "environment": dict, "dataset": dict, "method": dict, "fidelity": dict,
    "checkpoint": dict, "train": dict, "error": str, "resumes": list, "created": str, "updated": str,
    "outputs": dict, "scores": dict, "device": str,
}
_SPEC_FIELDS: dict[str, tuple[type, ...]] = {
    "method": (str,), "dataset": (str,), "preset": (str,), "seed": (int,), "split": (str,), "section": (str,),
    "limit": (int, type(None)), "metrics": (list,), "config": (dict,), "dataset_options": (dict,),
}


def _type_name(typ: type | tuple[type, ...]) -> str:
    types = typ if isinstance(typ, tuple) else (typ,)
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer", type(None): "null"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def validate(record: Any, path: Path) -> RunRecord:
    """Check the shape of a loaded ``run.json``; raise one clear error naming the file and the field."""
    if not isinstance(record, dict):
        raise RRGBenchError(f"{path}: run record must be a JSON object")
    for key, typ in _REQUIRED.items():
        if not isinstance(record.get(key), typ) or isinstance(record.get(key), bool):
            raise RRGBenchError(f"{path}: run record field '{key}' missing or not {_type_name(typ)}")
    for key, typ in _OPTIONAL.items():
        if key in record and not isinstance(record[key], typ):
            raise RRGBenchError(f"{path}: run record field '{key}' must be {_type_name(typ)}, "
                                f"got {type(record[key]).__name__}")
    for key, typ in _SPEC_FIELDS.items():
        value = record["spec"].get(key)
        if key in record["spec"] and (not isinstance(value, typ) or (isinstance(value, bool) and int in typ)):
            raise RRGBenchError(f"{path}: run record field 'spec.{key}' must be {_type_name(typ)}, "
                                f"got {type(value).__name__}")
    if record["schema_version"] > RECORD_VERSION:
        raise RRGBenchError(f"{path}: schema_version {record['schema_version']} is newer than this rrgbench")
    for stage, state in record["status"].items():
        if state not in ("pending", "running", "done", "failed"):
            raise RRGBenchError(f"{path}: stage '{stage}' has unknown status '{state}'")
    return record  # type: ignore[return-value]


def load_record(run_dir: Path) -> RunRecord:
    path = Path(run_dir) / RUN_JSON
    return validate(read_json(path), path)


def save_record(run_dir: Path, record: RunRecord) -> None:
    record["updated"] = now()
    atomic_write_json(Path(run_dir) / RUN_JSON, record)


def recorded_metrics(record: RunRecord, run_dir: Path | None = None) -> list[str]:
    """Every metric a run has been scored with: the record's ``scores`` (version 2 on), the spec's ``metrics``
    (version 1) and any ``scores/<metric>.json`` on disk, in first-seen order."""
    names: list[str] = list(record.get("scores") or {})
    names += [m for m in record["spec"].get("metrics") or () if isinstance(m, str)]
    if run_dir is not None:
        names += [p.name[: -len(SCORE_SUFFIX)] for p in RunDir(run_dir).score_files()]
    return list(dict.fromkeys(names))


def inside(path: Path, root: Path) -> bool:
    """True if ``path``, with every symbolic link resolved, lies in ``root`` (also resolved)."""
    try:
        Path(path).resolve(strict=True).relative_to(Path(root).resolve())
    except (OSError, ValueError, RuntimeError):
        return False
    return True


@dataclass
class Skipped:
    """A run directory left out by a reader (corrupt record, link outside the runs folder), and why."""

    rel: str
    reason: str


def relative(path: Path, runs_dir: Path) -> str:
    """``path`` relative to ``runs_dir`` with ``/`` separators (the folder's own name for the root itself)."""
    return path.relative_to(runs_dir).as_posix() if path != runs_dir else path.name


def find_runs(runs_dir: Path, skipped: list[Skipped] | None = None) -> list[Path]:
    """Every run directory (one holding ``run.json``) below ``runs_dir``, sorted; ``[]`` when it does not exist.

    Hidden folders are left out and a run's own subfolders are not searched. A symbolic link to a folder is
    followed when its target stays inside ``runs_dir`` (each real folder is visited once); a link that leaves
    it, and a folder that cannot be listed, are appended to ``skipped`` (when given) with the reason.
    """
    import logging

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    log = logging.getLogger("rrgbench.rundir")
    root = runs_dir.resolve()
    found: list[Path] = []
    seen: set[Path] = set()
    skips = skipped if skipped is not None else []

    def walk(folder: Path) -> None:
        real = folder.resolve()
        if real in seen:
            return
        seen.add(real)
        if (folder / RUN_JSON).exists() or (folder / RUN_JSON).is_symlink():
            found.append(folder)  # a run's own subfolders (checkpoint/, work/) never hold another run
            return
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            skips.append(Skipped(relative(folder, runs_dir), f"cannot list folder: {exc.strerror or exc}"))
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
                    skips.append(Skipped(relative(entry, runs_dir), "symbolic link to a folder outside the runs "
                                                                    "folder; not followed"))
                    continue
                walk(entry)
            elif entry.is_dir():
                walk(entry)

    walk(runs_dir)
    return sorted(found)


# ---------------------------------------------------------------------------------------- score files


class MetricResult(TypedDict, total=False):
    """``scores/<metric>.json`` (plus ``per_sample``, written to ``<metric>.samples.jsonl``).

    Built by :func:`rrgbench.scoring.engine.score`; ``display`` comes from the metric plugin
    (:meth:`rrgbench.api.Metric.display`), never from a table in the host.
    """

    schema_version: int
    metric: str
    status: str  # "ok" | "unavailable" | "failed"
    reason: str
    signature: str
    rrgbench_version: str
    n: int
    scores: dict[str, float]
    ci95: dict[str, list[float]]
    ci_kind: dict[str, str]  # per key: "percentile" | "bca" | "bias-shifted" (rrgbench.scoring.resample)
    bootstrap: int
    bootstrap_seed: int
    display: dict[str, Any]  # Display.to_json()
    generations_sha256: str  # set by the runner: which generations were scored
    cached: bool  # in memory only: the statistics came from the score cache
    per_sample: list[dict[str, Any]]  # in memory only: written to <metric>.samples.jsonl


@dataclass
class ScoreFile:
    """One ``scores/<metric>.json`` as read back: numbers, CIs, signature and the metric's display facts.

    ``display`` is ``None`` for a version-1 file (written before metrics described themselves); readers
    then use :meth:`display_facts`, which asks the registered metric class.
    """

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
    display: Display | None = None
    schema_version: int = 1

    def display_facts(self) -> Display:
        """The stored display facts, else those the registered metric class declares, else the defaults."""
        if self.display is None:
            facts = display_of(self.metric, self.raw.get("display"), self.scores)
            # versions 1-2 could carry a top-level "group" / "higher_is_better" written by hand or by a plugin
            if isinstance(self.raw.get("higher_is_better"), bool):
                facts.default_higher_is_better = self.raw["higher_is_better"]
                facts.higher_is_better = {}
            if isinstance(self.raw.get("group"), str) and self.raw["group"]:
                facts.group = self.raw["group"]
            self.display = facts
        return self.display

    def sample_rows(self) -> dict[str, dict[str, Any]]:
        """``{id: row}`` from ``<metric>.samples.jsonl`` (empty when there is none)."""
        if self.samples_path is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for row in read_sample_rows(self.samples_path):
            if "id" not in row:
                raise RRGBenchError(f"{self.samples_path}: a row has no 'id'")
            out[str(row["id"])] = row
        return out


def display_of(metric: str, stored: Any, scores: dict[str, Any] | None = None) -> Display:
    """Display facts of a result of ``metric``: the ``stored`` block when there is one, else what the
    registered metric class declares for these score keys, else the defaults (group Other, higher is better)."""
    if isinstance(stored, dict):
        return Display.from_json(stored)
    try:
        from .plugins import get_host

        host = get_host()
        if metric in host.metrics:
            return host.metrics.get(metric).describe(scores or {})
    except Exception:  # noqa: BLE001 - a result of a metric that no longer loads keeps the defaults
        pass
    return Display()


def score_path(scores_dir: Path, metric: str) -> Path:
    return Path(scores_dir) / f"{metric}{SCORE_SUFFIX}"


def samples_path(scores_dir: Path, metric: str) -> Path:
    """``<metric>.samples.parquet`` when that exists (large runs), else ``<metric>.samples.jsonl``."""
    columnar = Path(scores_dir) / f"{metric}{SAMPLES_PARQUET_SUFFIX}"
    return columnar if columnar.is_file() else Path(scores_dir) / f"{metric}{SAMPLES_SUFFIX}"


def read_sample_rows(path: Path) -> list[dict[str, Any]]:
    """Per-sample rows of a ``.samples.jsonl`` or ``.samples.parquet`` file, in file order."""
    path = Path(path)
    if path.name.endswith(SAMPLES_PARQUET_SUFFIX):
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except (OSError, ValueError) as exc:
            raise RRGBenchError(f"{path}: not a readable parquet file ({exc})") from None
    return list(iter_jsonl(path, tolerate_torn_tail=True))


def write_sample_rows(scores_dir: Path, metric: str, rows: list[dict[str, Any]]) -> Path:
    """Write per-sample rows atomically: JSONL, or parquet (pyarrow, zstd) above :data:`PARQUET_ROWS` rows,
    where JSONL gets slow to write and read. The other format's file of ``metric`` is removed."""
    scores_dir = Path(scores_dir)
    jsonl = scores_dir / f"{metric}{SAMPLES_SUFFIX}"
    columnar = scores_dir / f"{metric}{SAMPLES_PARQUET_SUFFIX}"
    if len(rows) <= PARQUET_ROWS:
        atomic_write_jsonl(jsonl, rows)
        columnar.unlink(missing_ok=True)
        return jsonl
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    from .io import create_temp

    scores_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(columnar)
    os.close(fd)
    try:
        pq.write_table(pa.Table.from_pylist(rows), tmp, compression="zstd")
        os.replace(tmp, columnar)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    jsonl.unlink(missing_ok=True)
    return columnar


def read_score_file(path: Path) -> ScoreFile:
    """Read one ``scores/<metric>.json`` (any version up to :data:`RECORD_VERSION`); a bad file raises naming it."""
    path = Path(path)
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise RRGBenchError(f"{path}: expected a JSON object")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise RRGBenchError(f"{path}: 'schema_version' must be an integer")
    if version > RECORD_VERSION:
        raise RRGBenchError(f"{path}: schema_version {version} is newer than this rrgbench")
    scores = raw.get("scores") or {}
    if not isinstance(scores, dict):
        raise RRGBenchError(f"{path}: 'scores' must be an object of numbers")
    clean: dict[str, float] = {}
    for key, val in scores.items():
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            continue  # nested or textual extras (e.g. per-label tables) are read from ``raw``
        clean[str(key)] = float(val)
    ci = raw.get("ci95") or {}
    if not isinstance(ci, dict):
        raise RRGBenchError(f"{path}: 'ci95' must be an object")
    ci95 = {str(k): [float(v[0]), float(v[1])] for k, v in ci.items()
            if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)}
    metric = str(raw.get("metric") or path.name[: -len(SCORE_SUFFIX)])
    samples = samples_path(path.parent, path.name[: -len(SCORE_SUFFIX)])
    display = Display.from_json(raw["display"], path) if raw.get("display") is not None else None
    return ScoreFile(metric=metric, status=str(raw.get("status") or "ok"), signature=str(raw.get("signature") or ""),
                     scores=clean, ci95=ci95, n=raw.get("n") if isinstance(raw.get("n"), int) else None,
                     reason=str(raw.get("reason") or ""), bootstrap=raw.get("bootstrap"), raw=raw,
                     samples_path=samples if samples.is_file() else None, display=display, schema_version=version)


def write_scores(results: dict[str, MetricResult], scores_dir: Path) -> None:
    """Write ``<metric>.samples.jsonl`` (per-sample rows) then ``<metric>.json`` (the summary), atomically."""
    for name, res in results.items():
        summary = {"schema_version": RECORD_VERSION,
                   **{k: v for k, v in res.items() if k not in ("per_sample", "cached", "schema_version")}}
        if res.get("per_sample") is not None:
            write_sample_rows(scores_dir, name, res["per_sample"])
        atomic_write_json(score_path(scores_dir, name), summary)


# ------------------------------------------------------------------------------------------- RunDir


class RunDir:
    """One run directory, read lazily: ``RunDir(path).record``, ``.scores()``, ``.generations()``.

    Every reader of run directories uses this class; nothing else opens ``run.json`` or ``scores/`` by name.
    Malformed files raise :class:`~rrgbench.errors.RRGBenchError` naming the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._scores: dict[str, ScoreFile] | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- files -----------------------------------------------------------------------------------
    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    @property
    def generations_path(self) -> Path:
        return self.path / GENERATIONS

    @property
    def scores_dir(self) -> Path:
        return self.path / SCORES_DIR

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    def score_path(self, metric: str) -> Path:
        return score_path(self.scores_dir, metric)

    def samples_path(self, metric: str) -> Path:
        return samples_path(self.scores_dir, metric)

    def exists(self) -> bool:
        return self.run_json.is_file()

    # -- contents --------------------------------------------------------------------------------
    @cached_property
    def record(self) -> RunRecord:
        """``run.json``, validated (any version up to :data:`RECORD_VERSION`)."""
        return load_record(self.path)

    def score_files(self) -> list[Path]:
        """Every ``scores/<metric>.json``, sorted by name."""
        if not self.scores_dir.is_dir():
            return []
        return sorted(p for p in self.scores_dir.glob(f"*{SCORE_SUFFIX}") if not p.name.endswith(SAMPLES_SUFFIX))

    def scores(self) -> dict[str, ScoreFile]:
        """``{metric: ScoreFile}`` for every score file of the run (read once)."""
        if self._scores is None:
            out: dict[str, ScoreFile] = {}
            for path in self.score_files():
                sf = read_score_file(path)
                out[sf.metric] = sf
            self._scores = out
        return self._scores

    def score(self, metric: str) -> ScoreFile | None:
        """The score file of ``metric`` (``None`` when absent)."""
        path = self.score_path(metric)
        if self._scores is not None:
            return self._scores.get(metric)
        return read_score_file(path) if path.is_file() else None

    def has_generations(self) -> bool:
        return self.generations_path.is_file()

    def generations(self, *, tolerate_torn_tail: bool = False) -> list[dict[str, Any]]:
        """Rows ``{"id", "report", "reference"}`` of ``generations.jsonl`` (empty when there is none yet)."""
        if not self.has_generations():
            return []
        return list(iter_jsonl(self.generations_path, tolerate_torn_tail=tolerate_torn_tail))

    def sample_scores(self, metric: str) -> dict[str, dict[str, Any]]:
        """``{id: row}`` of ``scores/<metric>.samples.jsonl``."""
        sf = self.score(metric)
        return sf.sample_rows() if sf is not None else {}

    # -- facts from the record -------------------------------------------------------------------
    @property
    def spec(self) -> dict[str, Any]:
        return self.record.get("spec") or {}

    @property
    def dataset(self) -> str:
        return str(self.spec.get("dataset") or (self.record.get("dataset") or {}).get("name") or "unknown")

    @property
    def method(self) -> str:
        return str(self.spec.get("method") or (self.record.get("method") or {}).get("name") or "unknown")

    @property
    def preset(self) -> str:
        return str(self.spec.get("preset") or "-")

    @property
    def seed(self) -> int | None:
        seed = self.spec.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    @property
    def spec_hash(self) -> str:
        return str(self.record.get("spec_hash") or "")

    @property
    def fidelity(self) -> dict[str, str]:
        fid = self.record.get("fidelity") or {}
        return {str(k): str(v) for k, v in fid.items()} if isinstance(fid, dict) else {}

    @property
    def credentialed(self) -> bool:
        return bool((self.record.get("dataset") or {}).get("credentialed"))

    @property
    def cleaning(self) -> str:
        return str((self.record.get("dataset") or {}).get("cleaning") or "r2gen_iu")

    @property
    def variant(self) -> str:
        """Hash of what must match for seeds to be pooled: spec without seed/metrics, plus data identity."""
        spec = {k: v for k, v in self.spec.items() if k not in ("seed", "metrics")}
        ds = self.record.get("dataset") or {}
        key = repr(sorted((k, repr(v)) for k, v in spec.items())) + f"|{ds.get('manifest_hash')}|{ds.get('split')}"
        return hashlib.sha256(key.encode()).hexdigest()[:8]
