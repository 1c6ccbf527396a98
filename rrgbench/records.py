"""The run-record schema (``run.json``) and the files of a run directory.

::

    <runs-dir>/<dataset>/<method>/<preset>-seed<k>-<spec_hash>/
        run.json                      RunRecord below
        checkpoint/                   Method.save() output; sha256 of each file in run.json
        generations.jsonl             {"id", "report", "reference"} per sample, in split order
        generations.partial.jsonl     only while generating (resume point)
        scores/<metric>.json          MetricResult (rrgbench.scoring.engine) without per-sample rows
        scores/<metric>.samples.jsonl per-sample rows {"id", <score>...}
        work/                         method scratch (tokenizers, banks, indices)
        train_state/<stage>/state.pt  only while a method stage trains (mid-stage resume point)
        shards/rank<k>.jsonl          only while generating with several processes
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, TypedDict

from .api import RRGBenchError
from .io import atomic_write_json, read_json
from .specs import SCHEMA_VERSION

STAGES = ("prepare", "train", "generate", "score")
RUN_JSON = "run.json"
GENERATIONS = "generations.jsonl"
PARTIAL_GENERATIONS = "generations.partial.jsonl"
CHECKPOINT_DIR = "checkpoint"
SCORES_DIR = "scores"
TRAIN_STATE_DIR = "train_state"  # <stage>/state.pt: mid-stage training state (rrgbench.train_state)
SHARDS_DIR = "shards"  # rank<k>.jsonl: per-process generations before the merge


class DatasetInfo(TypedDict, total=False):
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
    checkpoint: dict[str, Any]  # {"path": "checkpoint", "sha256": {file: hash}}
    train: dict[str, Any]  # stage -> facts returned by Method.train
    error: str
    resumes: list[dict[str, Any]]  # {"at", "environment"} each time an unfinished run was continued
    scores: dict[str, dict[str, Any]]  # metric -> {status, signature, generations_sha256, scored_at}
    created: str
    updated: str


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def new_record(spec: dict[str, Any], spec_hash: str) -> RunRecord:
    return RunRecord(schema_version=SCHEMA_VERSION, spec=spec, spec_hash=spec_hash,
                     status={s: "pending" for s in STAGES}, train_stages={}, timings={}, fidelity={},
                     train={}, created=now(), updated=now())


_REQUIRED: dict[str, type] = {"schema_version": int, "spec": dict, "spec_hash": str, "status": dict}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "train_stages": dict, "timings": dict, "environment": dict, "dataset": dict, "method": dict, "fidelity": dict,
    "checkpoint": dict, "train": dict, "error": str, "resumes": list, "created": str, "updated": str,
    "outputs": dict,
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
    if record["schema_version"] > SCHEMA_VERSION:
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
    """Every metric a run has been scored with: the record's ``scores`` (schema 2), the spec's ``metrics``
    (schema 1) and any ``scores/<metric>.json`` on disk, in first-seen order."""
    names: list[str] = list(record.get("scores") or {})
    names += [m for m in record["spec"].get("metrics") or () if isinstance(m, str)]
    if run_dir is not None and (Path(run_dir) / SCORES_DIR).is_dir():
        names += sorted(p.stem for p in (Path(run_dir) / SCORES_DIR).glob("*.json"))
    return list(dict.fromkeys(names))


def find_runs(runs_dir: Path) -> list[Path]:
    """Every run directory (one holding run.json) below ``runs_dir``, sorted."""
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        return []
    return sorted(p.parent for p in runs_dir.rglob(RUN_JSON))
