"""Execute one :class:`~rrgbench.specs.RunSpec`: prepare → train → generate → score.

Each stage records its status in ``run.json`` as it starts and ends. A repeated run with the same spec
reuses finished stages (``force=True`` redoes them). A run killed at any moment continues where it was:

- **train**: after each finished method stage (``Method.stages``) the checkpoint is written to
  ``checkpoint.tmp/``, committed by saving ``run.json`` with its sha256 manifest, then swapped into
  ``checkpoint/``; :meth:`Runner._recover_checkpoint` finishes or undoes an interrupted swap. Within a
  stage, methods that call ``ctx.save_train_state`` (:mod:`rrgbench.train_state`) resume from their last
  save; others restart the stage from the previous stage's checkpoint.
- **generate**: rows are appended (fsync'd) to ``generations.partial.jsonl`` (one process) or
  ``shards/rank<k>.jsonl`` (several, :mod:`rrgbench.distributed`); a resume skips every id already
  written anywhere, drops a torn last line, and rank 0 merges into ``generations.jsonl`` atomically.
- **score**: its own stage, outside the spec hash: each metric's ``scores/<metric>.json`` is written as
  soon as it is computed and reused when its signature and the generations' sha256 still match, so a
  rerun with other ``--metrics`` (or :meth:`Runner.existing` + :meth:`Runner.stage_score`, i.e.
  ``rrgbench rescore``) scores only what is missing. ``run.json["scores"]`` keeps every metric's signature.

Progress is reported to a :class:`StageReporter` (the CLI passes a rich one); every stage also lands in
``Runner.events`` as ``(stage, "ran" | "reused", seconds)``.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .api import Dataset, Method, RRGBenchError, RunContext, Sample
from .config_check import check_overrides
from .distributed import World, drop_torn_tail, get_world, read_rows, shard_files, shard_of, shard_path
from .env import capture
from .io import append_jsonl, atomic_write_jsonl, iter_jsonl, sha256_file
from .plugins import get_host
from .rundir import (
    CHECKPOINT_DIR,
    GENERATIONS,
    PARTIAL_GENERATIONS,
    RUN_JSON,
    SAMPLES_PARQUET_SUFFIX,
    SAMPLES_SUFFIX,
    SCORE_SUFFIX,
    SCORES_DIR,
    SHARDS_DIR,
    STAGES,
    TRAIN_STATE_DIR,
    WORK_DIR,
    RunRecord,
    load_record,
    new_record,
    now,
    read_score_file,
    save_record,
    score_path,
    write_scores,
)
from .seeding import seed_everything
from .specs import RunSpec, deep_merge, spec_from_dict, spec_hash_of
from .terminal import StageReporter, fmt_seconds

log = logging.getLogger("rrgbench.runner")

CHECKPOINT_TMP = CHECKPOINT_DIR + ".tmp"
CHECKPOINT_OLD = CHECKPOINT_DIR + ".old"
IGNORED_ENV_KEYS = ("num_threads",)
SCORE_FILE_SUFFIXES = (SCORE_SUFFIX, SAMPLES_SUFFIX, SAMPLES_PARQUET_SUFFIX)  # a metric's files in scores/


def build_spec(method: str, dataset: str, *, preset: str = "tiny", seed: int = 0,
               overrides: dict[str, Any] | None = None, **fields: Any) -> RunSpec:
    """Resolve names (with "did you mean"), merge preset defaults with overrides, freeze the spec."""
    host = get_host()
    method, dataset = host.methods.resolve(method), host.datasets.resolve(dataset)  # OS-RRG -> osrrg
    method_cls = host.methods.get(method)
    if fields.get("metrics") is not None:
        fields["metrics"] = tuple(dict.fromkeys(host.metrics.resolve(m) for m in fields["metrics"]))
    if preset not in method_cls.presets:
        raise RRGBenchError(f"method '{method}' has no preset '{preset}'; presets: {', '.join(method_cls.presets)}")
    defaults = method_cls.default_config(preset, dataset)
    check_overrides(method, preset, defaults, overrides or {}, tuple(method_cls.optional_config_keys))
    config = deep_merge(defaults, overrides or {})
    fields.pop("assets", None)  # always re-resolved here: weights added since change the spec
    assets = {row["name"]: row["sha256"] for row in asset_rows(method_cls, config, preset) if not row.get("missing")}
    return RunSpec(method=method, dataset=dataset, preset=preset, seed=seed, config=config, assets=assets,
                   **fields)


def asset_rows(method_cls: type, config: dict[str, Any], preset: str) -> list[dict[str, Any]]:
    """The method's pretrained-asset report (``asset_report(config, preset)``; none if it has no such hook):
    one row per asset with ``name`` and either ``path`` + ``sha256`` or ``missing``, ``substitute``, ``put_at``."""
    return list(method_cls.asset_report(config, preset))


def format_asset_row(row: dict[str, Any]) -> str:
    """One line for an :func:`asset_rows` row."""
    if row.get("missing"):
        accepts = f" ({row['accepts']})" if row.get("accepts") else ""
        return f"{row['name']}: MISSING → substitute: {row['substitute']}; put it at {row['put_at']}{accepts}"
    return f"{row['name']}: {row['path']} {row['sha256']}"


def _device(world: World) -> str:
    from .devices import run_device

    return run_device(world)


@contextmanager
def weights_only_loads() -> Iterator[None]:
    """Inside: every ``torch.load`` is ``weights_only=True``, even where a method passes False."""
    saved = {k: os.environ.pop(k, None) for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def hash_tree(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` by relative path (unreadable files raise a clear error)."""
    out: dict[str, str] = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            try:
                out[str(p.relative_to(root))] = sha256_file(p)
            except OSError as exc:
                raise RRGBenchError(f"cannot read checkpoint file {p}: {exc.strerror or exc}") from None
    return out



def checkpoint_mismatches(ckpt: Path, recorded: dict[str, str]) -> dict[str, str]:
    """Files of ``ckpt`` whose sha256 differs from ``recorded``: name -> missing | unexpected | changed."""
    current = hash_tree(ckpt)
    return {name: "missing" if name not in current else "unexpected" if name not in recorded else "changed"
            for name in sorted(set(recorded) | set(current)) if recorded.get(name) != current.get(name)}


def open_dataset(spec: RunSpec, data_dir: Path | None = None, *, skip_bad: bool = False) -> Dataset:
    """The prepared dataset a spec names, with its section and options."""
    cls = get_host().datasets.get(spec.dataset)
    dataset = cls(data_dir=data_dir, section=spec.section, skip_bad=skip_bad, **spec.dataset_options)
    dataset.prepare()
    return dataset


def evaluated_samples(spec: RunSpec, dataset: Dataset) -> list[Sample]:
    """The samples a spec generates and scores: its split, cut to ``limit``."""
    samples = dataset.split(spec.split)
    return samples[: spec.limit] if spec.limit is not None else samples


class Runner:
    """Runs one spec inside its run directory (on every rank when launched with several processes)."""

    def __init__(self, spec: RunSpec, runs_dir: Path, *, force: bool = False, data_dir: Path | None = None,
                 skip_bad: bool = False, bootstrap: int = 1000, reporter: StageReporter | None = None,
                 wait: bool = False) -> None:
        self.spec = spec
        self.run_dir = spec.run_dir(runs_dir)
        self.force = force
        self.wait = wait  # another process holds the run directory: wait for it (else exit with a message)
        self.data_dir = data_dir
        self.skip_bad = skip_bad
        self.bootstrap = bootstrap
        self.host = get_host()
        self.world = get_world()
        self._method: Method | None = None
        self._dataset: Dataset | None = None
        self._state_ready = False  # True once the method holds trained weights
        self._info: dict[str, Any] | None = None
        self.reporter = reporter or StageReporter()
        self.events: list[tuple[str, str, float]] = []  # (stage, "ran" | "reused", seconds)
        self._lock: Any = None  # rrgbench.runlock.RunLock held by rank 0 while running
        self.record: RunRecord

    @classmethod
    def existing(cls, run_dir: Path, **kwargs: Any) -> Runner:
        """A runner bound to an existing run directory (any schema version), e.g. to rescore it."""
        run_dir = Path(run_dir)
        record = load_record(run_dir)
        spec = spec_from_dict(dict(record["spec"]), source=str(run_dir / RUN_JSON))
        self = cls(spec, run_dir.parent, **kwargs)
        self.run_dir, self.record = run_dir, record
        return self

    # -- bookkeeping -----------------------------------------------------------------------------
    def _save(self) -> None:
        """Write run.json (rank 0 only: other ranks read it, never write it)."""
        if self.world.is_main:
            save_record(self.run_dir, self.record)

    def _reload(self) -> None:
        if not self.world.is_main:
            self.record = load_record(self.run_dir)

    def _open_record(self) -> None:
        if self.world.is_main:
            self._open_record_main()
        self.world.barrier()
        self._reload()

    def _open_record_main(self) -> None:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            probe = self.run_dir / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise RRGBenchError(f"cannot write to runs directory {self.run_dir}: {exc.strerror or exc}") from None
        refuse_links(self.run_dir)
        fresh = not (self.run_dir / RUN_JSON).exists()
        if not fresh:
            try:
                self.record = load_record(self.run_dir)
                recorded_hash = spec_hash_of(self.spec, self.record["schema_version"], self.record["spec"])
                if self.record["spec_hash"] != recorded_hash:
                    raise RRGBenchError(f"{self.run_dir}/run.json belongs to another spec "
                                        f"({self.record['spec_hash']})")
            except RRGBenchError as exc:
                if not self.force:
                    raise RRGBenchError(f"{exc}. To start this run over, rerun the same command with --force: the "
                                        f"directory is moved aside (never deleted) and the run starts afresh") from None
                aside = _move_aside(self.run_dir)
                log.warning("%s; moved the run directory aside to %s and starting over", exc, aside)
                self.run_dir.mkdir(parents=True)
                if self._lock is not None:
                    self._lock.moved(aside)
                fresh = True
        if fresh:
            self.record = new_record(self.spec.generation_dict(), self.spec.spec_hash)
        if self.force:
            self.record["status"] = {s: "pending" for s in self.record["status"]}
            self.record["train_stages"] = {}
            self.record.pop("checkpoint", None)
            for name in (TRAIN_STATE_DIR, CHECKPOINT_TMP, CHECKPOINT_OLD):
                shutil.rmtree(self.run_dir / name, ignore_errors=True)
        self._recover_checkpoint()
        _remove_stale_temporaries(self.run_dir)
        if not fresh and not self.force:
            self._verify_outputs()
        env = capture(self.host.env_info())
        env["world_size"] = self.world.world_size
        if fresh or self.force or "environment" not in self.record:
            self.record["environment"] = env
        elif any(v != "done" for v in self.record["status"].values()):
            # a resumed run: keep the environment it started in; log when it continued and what changed
            from .env import diff_environment

            changed = diff_environment(self.record["environment"], env, ignore=IGNORED_ENV_KEYS)
            self.record.setdefault("resumes", []).append({"at": now(), "changed": changed})
        save_record(self.run_dir, self.record)

    def _recover_checkpoint(self) -> None:
        """Finish or undo a checkpoint swap that a kill interrupted (the run.json commit decides)."""
        ckpt, tmp, old = (self.run_dir / n for n in (CHECKPOINT_DIR, CHECKPOINT_TMP, CHECKPOINT_OLD))
        recorded = (self.record.get("checkpoint") or {}).get("sha256")
        if tmp.exists():
            if recorded and hash_tree(tmp) == recorded:  # committed: complete the swap
                if ckpt.exists():
                    shutil.rmtree(ckpt)
                tmp.rename(ckpt)
            else:  # never committed: the previous checkpoint stands
                shutil.rmtree(tmp)
        if old.exists():
            if ckpt.exists():
                shutil.rmtree(old)
            else:
                old.rename(ckpt)

    # -- output integrity ------------------------------------------------------------------------
    def _record_outputs(self, stage: str, rels: list[str]) -> None:
        """Size and sha256 of a stage's output files (those that exist) into ``run.json`` ``outputs``."""
        self.record.setdefault("outputs", {})[stage] = {
            rel: file_digest(self.run_dir / rel) for rel in rels if (self.run_dir / rel).is_file()}

    def _intact(self, rel: str) -> bool:
        """False if ``rel`` differs from the size and sha256 recorded for it (True when none is recorded)."""
        for files in (self.record.get("outputs") or {}).values():
            if rel in files:
                return digest_mismatch(self.run_dir / rel, files[rel]) is None
        return True

    def _verify_outputs(self) -> None:
        """A finished stage whose outputs no longer match their recorded size and sha256 is redone (said so).

        Cheap: sizes first, then one sha256 per file. A changed ``generations.jsonl`` is removed (its rows cannot
        be trusted one by one) and generated again; changed score files are rescored.
        """
        for stage in ("generate", "score"):
            recorded = (self.record.get("outputs") or {}).get(stage)
            if self.record["status"].get(stage) != "done" or not recorded:
                continue
            bad = {rel: why for rel, want in recorded.items()
                   if (why := digest_mismatch(self.run_dir / rel, want)) is not None}
            if not bad:
                continue
            detail = "; ".join(f"{rel} {why}" for rel, why in sorted(bad.items()))
            log.warning("%s: output of the finished %s stage changed since run.json recorded it (%s): redoing %s",
                        self.run_dir, stage, detail, stage)
            self.record["status"][stage] = "pending"
            self._invalidate_after(stage)
            if stage == "generate":
                (self.run_dir / GENERATIONS).unlink(missing_ok=True)

    def _invalidate_after(self, stage: str) -> None:
        """Results downstream of a redone stage are stale."""
        for later in STAGES[STAGES.index(stage) + 1:]:
            self.record["status"][later] = "pending"

    def _done(self, stage: str) -> bool:
        return self.record["status"].get(stage) == "done"

    def _reused(self, stage: str, detail: str = "") -> None:
        self.events.append((stage, "reused", 0.0))
        if self.world.is_main:
            self.reporter.reused(stage, detail)

    @contextmanager
    def _stage(self, stage: str, invalidate: bool = True, detail: str = "") -> Iterator[None]:
        self.record["status"][stage] = "running"
        if invalidate:
            self._invalidate_after(stage)
        self._save()
        if self.world.is_main:
            self.reporter.begin(stage, detail)
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            self.record["status"][stage] = "failed"
            self.record["error"] = f"{stage}: {type(exc).__name__}: {exc}"
            self._save()
            raise
        seconds = round(time.perf_counter() - start, 3)
        self.record["timings"][stage] = seconds
        self.record["status"][stage] = "done"
        self.record.pop("error", None)
        self._save()
        self.events.append((stage, "ran", seconds))
        if self.world.is_main:
            self.reporter.end(stage, seconds)

    # -- lazily built objects --------------------------------------------------------------------
    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = open_dataset(self.spec, self.data_dir, skip_bad=self.skip_bad)
        return self._dataset

    @property
    def method(self) -> Method:
        if self._method is None:
            self._method = self._new_method(self.run_dir)
        return self._method

    def _new_method(self, run_dir: Path) -> Method:
        """The method of the spec, seeded and prepared on the dataset, with ``run_dir`` as its scratch root."""
        cls = self.host.methods.get(self.spec.method)
        ctx = RunContext(run_dir=run_dir, seed=self.spec.seed, device=_device(self.world),
                         preset=self.spec.preset, dataset_name=self.spec.dataset,
                         rank=self.world.rank, world_size=self.world.world_size,
                         substitutes=self.record.setdefault("fidelity", {}),
                         accelerator=self.world.accelerator())
        seed_everything(self.spec.seed)
        self.record["device"] = ctx.device
        method = cls(dict(self.spec.config), ctx)
        method.prepare(self.dataset)
        self.record["method"] = {"name": cls.name, "version": cls.version, "description": cls.description,
                                 "stages": list(cls.stages)}
        return method

    def regenerate(self, samples: Sequence[Sample], scratch: Path) -> list[str]:
        """Reports for ``samples`` generated again from the committed checkpoint, by the same steps as the
        generate stage (seeding, prepare, checkpoint load, batches); ``prepare``'s files go under ``scratch``,
        the run directory is only read. Used by ``rrgbench audit --regenerate``."""
        method = self._new_method(Path(scratch))
        self._load_checkpoint(method)
        return generate_reports(method, list(samples), self.dataset, self.spec.seed)

    def test_samples(self) -> list[Sample]:
        samples = evaluated_samples(self.spec, self.dataset)
        if not samples:
            raise RRGBenchError(f"dataset '{self.spec.dataset}' has no samples in split '{self.spec.split}'")
        return samples

    # -- stages ----------------------------------------------------------------------------------
    def run(self) -> Path:
        """Run every stage under the run directory's lock (rank 0 holds it); Ctrl-C says where it stopped."""
        lock = None
        if self.world.is_main:
            from .runlock import RunLock

            lock = self._lock = RunLock(self.run_dir).acquire(wait=self.wait,
                                                              on_wait=lambda msg: log.warning("%s", msg))
            if lock.previous:
                log.warning("took over the lock of pid %s on host %s, which ended without releasing it",
                            lock.previous.get("pid"), lock.previous.get("host"))
        try:
            self._open_record()
            self.stage_prepare()
            if self.world.is_main:
                self._warn_missing_assets()
            self.stage_train()
            self.stage_generate()
            if self.world.is_main:  # metrics run once, on the merged generations
                self.stage_score()
        except KeyboardInterrupt as exc:
            if isinstance(exc, RunInterrupted):
                raise
            raise RunInterrupted(self._where_stopped()) from None
        finally:
            if lock is not None:
                lock.release()
        return self.run_dir

    def _where_stopped(self) -> str:
        """One sentence for Ctrl-C: the stage that stopped, what is kept, and how to resume."""
        record = getattr(self, "record", None) or {}
        status = record.get("status") or {}
        stage = next((s for s in STAGES if status.get(s) in ("failed", "running")), None)
        kept = ""
        if stage == "train":
            done = [s for s, v in (record.get("train_stages") or {}).items() if v == "done"]
            kept = (f" (finished method stages: {', '.join(done) or 'none'}; the last saved training state "
                    "is kept)")
        elif stage == "generate":
            try:
                n = len(read_rows(self._generated_paths()))
            except RRGBenchError:
                n = 0
            kept = f" ({n} of {(record.get('dataset') or {}).get('n', '?')} reports kept)"
        where = f"during {stage}{kept}" if stage else "before any stage started"
        return f"interrupted {where} in {self.run_dir}; run the same command again to resume from there"

    def _warn_missing_assets(self) -> None:
        """One WARNING per pretrained asset replaced by a substitute (INFO under the tiny preset, which
        substitutes by design), before training."""
        rows = asset_rows(self.host.methods.get(self.spec.method), self.spec.config, self.spec.preset)
        for row in rows:
            if row.get("missing"):
                (log.info if self.spec.preset == "tiny" else log.warning)("%s", format_asset_row(row))

    def stage_prepare(self) -> None:
        if not self.world.is_main:
            self.world.barrier()  # rank 0 prepares (downloads, caches) first; then each rank reads
            _ = self.dataset
            return
        if self._done("prepare") and _same_data(self.record.get("dataset"), self._dataset_info()):
            self._reused("prepare", f"{self.spec.dataset}, {self._dataset_info()['n']} {self.spec.split} samples")
            self.world.barrier()  # prepared before and the data are unchanged: nothing to record
            return
        with self._stage("prepare", invalidate=False, detail=self.spec.dataset):
            info = self._dataset_info()
            if self.record.get("dataset") is not None and not _same_data(self.record.get("dataset"), info):
                log.warning("dataset %s changed since this run started: redoing later stages", self.spec.dataset)
                self._invalidate_after("prepare")
                self.record["train_stages"] = {}
            self.record["dataset"] = info  # type: ignore[typeddict-item]
        self.world.barrier()

    def _dataset_info(self) -> dict[str, Any]:
        if self._info is None:
            ds = self.dataset
            self._info = {
                "name": self.spec.dataset, "manifest_hash": ds.manifest_hash(), "split": self.spec.split,
                "n": len(self.test_samples()), "n_train": len(ds.split("train")), "credentialed": ds.credentialed,
                "licence": ds.licence, "cleaning": ds.cleaning, "skipped": list(ds.skipped),
            }
            mode = ds.fingerprint_mode
            if mode != "full":  # the default is left out so records from before the option still match
                self._info["fingerprint"] = mode
        return self._info

    def stage_train(self) -> None:
        distributed_training = bool(type(self.method).distributed_training)
        if self.world.is_main or distributed_training:
            self._train()
        self.world.barrier()  # other ranks wait for the committed checkpoint
        self._reload()

    def _train(self) -> None:
        ckpt = self.run_dir / CHECKPOINT_DIR
        stages = type(self.method).stages
        todo = [s for s in stages if self.record["train_stages"].get(s) != "done"]
        if not todo and self._done("train") and ckpt.exists():
            took = self.record.get("timings", {}).get("train")
            self._reused("train", f"checkpoint/ ({fmt_seconds(took)} of training)" if took is not None else "checkpoint/")
            return
        with self._stage("train", detail=f"{self.spec.method} ({', '.join(todo)})"):
            if len(todo) < len(stages) and ckpt.exists():
                self._load_checkpoint(self.method)  # resume after the last finished method stage
            self._state_ready = True
            for stage in todo:
                log.info("train stage %s", stage)
                ctx = self.method.ctx
                ctx.stage = stage
                ctx.resume_dir = self.run_dir / TRAIN_STATE_DIR / stage
                ctx.resume_dir.mkdir(parents=True, exist_ok=True)
                seed_everything(self.spec.seed + stages.index(stage))
                facts = self.method.train(stage, self.dataset)
                ctx.resume_dir = None
                if self.world.is_main:
                    self._commit_checkpoint(stage, facts or {})

    def _commit_checkpoint(self, stage: str, facts: dict[str, Any]) -> None:
        """Save to checkpoint.tmp, commit its manifest in run.json, then swap it into checkpoint/."""
        ckpt, tmp, old = (self.run_dir / n for n in (CHECKPOINT_DIR, CHECKPOINT_TMP, CHECKPOINT_OLD))
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.method.save(tmp)
        self.record["train"][stage] = facts
        self.record["train_stages"][stage] = "done"
        self.record["checkpoint"] = {"path": CHECKPOINT_DIR, "sha256": hash_tree(tmp)}
        save_record(self.run_dir, self.record)  # the commit point
        if ckpt.exists():
            ckpt.rename(old)
        tmp.rename(ckpt)
        shutil.rmtree(old, ignore_errors=True)
        states = self.run_dir / TRAIN_STATE_DIR
        shutil.rmtree(states / stage, ignore_errors=True)
        if states.is_dir() and not any(states.iterdir()):
            states.rmdir()

    def verify_checkpoint(self) -> None:
        """Raise a clear error if checkpoint/ is missing, unreadable, or differs from its manifest."""
        ckpt = self.run_dir / CHECKPOINT_DIR
        recorded = (self.record.get("checkpoint") or {}).get("sha256")
        if not ckpt.is_dir():
            raise RRGBenchError(f"{ckpt}: checkpoint directory missing; rerun with --force to retrain")
        if recorded is None:
            return
        for name, state in checkpoint_mismatches(ckpt, recorded).items():
            raise RRGBenchError(f"{ckpt / name}: checkpoint file {state} since run.json recorded it "
                                f"(sha256 mismatch); rerun with --force to retrain")

    def _load_checkpoint(self, method: Method) -> None:
        self.verify_checkpoint()
        ckpt = self.run_dir / CHECKPOINT_DIR
        try:
            with weights_only_loads():
                method.load(ckpt)
        except RRGBenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - corrupt, truncated or pickled-code checkpoints
            from .train_state import describe_load_error

            raise RRGBenchError(f"{ckpt}: cannot load checkpoint ({describe_load_error(exc)}); "
                                f"rerun with --force to retrain") from None

    def _loaded_method(self) -> Method:
        """The method with its trained state: trained in this process, or loaded from the checkpoint."""
        method = self.method
        if not self._state_ready:
            self._load_checkpoint(method)
            self._state_ready = True
        return method

    # -- generation ------------------------------------------------------------------------------
    def _generated_paths(self) -> list[Path]:
        """Every file that may hold generated rows: final, single-process partial, per-rank shards."""
        return [self.run_dir / GENERATIONS, self.run_dir / PARTIAL_GENERATIONS, *shard_files(self.run_dir)]

    def stage_generate(self) -> None:
        final = self.run_dir / GENERATIONS
        if self._done("generate") and final.exists() and not self.force:
            self._reused("generate", GENERATIONS)
            return
        samples = self.test_samples()
        world = self.world
        if self.force and world.is_main:
            for path in self._generated_paths():
                path.unlink(missing_ok=True)
        world.barrier()
        done = read_rows(self._generated_paths())
        out = self.run_dir / PARTIAL_GENERATIONS if not world.distributed else shard_path(self.run_dir, world.rank)
        out.parent.mkdir(parents=True, exist_ok=True)
        drop_torn_tail(out)
        world.barrier()
        todo = [s for s in samples if s.id not in done and shard_of(s.id, world.world_size) == world.rank]
        with self._stage("generate", detail=f"{len(todo)} of {len(samples)} samples"):
            if todo:
                self._generate(todo, out, total=len(samples))
            world.barrier()
            if world.is_main:
                self._merge(samples)
                self._record_outputs("generate", [GENERATIONS])

    def _generate(self, todo: list[Sample], out: Path, total: int) -> None:
        method = self._loaded_method()
        bar = method.ctx.progress(total=total, initial=total - len(todo), desc="generate", unit="report")
        written = [total - len(todo)]

        def keep(batch: list[Sample], reports: list[str]) -> None:
            rows = [{"id": s.id, "report": r, "reference": s.report} for s, r in zip(batch, reports)]
            try:
                append_jsonl(out, rows)
            except OSError as exc:  # full disk, file-size limit, quota: what is already written stays
                try:
                    kept = len(read_rows(self._generated_paths()))
                except (RRGBenchError, OSError):
                    kept = written[0]
                raise RRGBenchError(f"cannot append to {out}: {exc.strerror or exc}; the {kept} generations "
                                    "on disk are kept and reused by the next run") from None
            written[0] += len(batch)
            bar.update(len(batch))

        generate_reports(method, todo, self.dataset, self.spec.seed, on_batch=keep)
        bar.close()

    def _merge(self, samples: list[Sample]) -> None:
        rows = read_rows(self._generated_paths())
        missing = [s.id for s in samples if s.id not in rows]
        if missing:
            raise RRGBenchError(f"{self.run_dir}: {len(missing)} sample(s) have no generation after merging "
                                f"(first: {missing[0]}); rerun to generate them")
        atomic_write_jsonl(self.run_dir / GENERATIONS,
                           [{"id": s.id, "report": rows[s.id]["report"], "reference": s.report} for s in samples])
        (self.run_dir / PARTIAL_GENERATIONS).unlink(missing_ok=True)
        for path in shard_files(self.run_dir):
            path.unlink()
        shards = self.run_dir / SHARDS_DIR
        if shards.is_dir() and not any(shards.iterdir()):
            shards.rmdir()

    # -- scoring ---------------------------------------------------------------------------------
    def stage_score(self, metrics: Sequence[str] | None = None,
                    options: dict[str, dict[str, Any]] | None = None) -> list[str]:
        """Score the generations with ``metrics`` (default: the spec's), only those without a current result.

        ``options`` (default: the spec's ``metric_options``) are per-metric constructor options; a metric given
        none keeps the options it was last scored with (``run.json["scores"][name]["options"]``), so a rescore
        reproduces them. Returns the metrics scored now. Each result is written to ``scores/`` as it finishes; the record's
        ``scores`` map keeps every metric's signature, status and the generations' sha256.
        """
        from .scoring import engine

        gen_path = self.run_dir / GENERATIONS
        if not self._done("generate") or not gen_path.is_file():
            raise RRGBenchError(f"{self.run_dir}: no finished generations to score (generate stage: "
                                f"{self.record['status'].get('generate', 'pending')}); finish the run first")
        metrics = list(dict.fromkeys(self.host.metrics.resolve(m)
                                     for m in (metrics if metrics is not None else self.spec.metrics)))
        gen_hash = sha256_file(gen_path)
        scores_dir = self.run_dir / SCORES_DIR
        cleaning = self.record.get("dataset", {}).get("cleaning", "r2gen_iu")
        scores = self.record.setdefault("scores", {})
        given = self.spec.metric_options if options is None else options
        opts = {name: dict(given[name]) if name in given else dict((scores.get(name) or {}).get("options") or {})
                for name in metrics}
        todo = []
        for name in metrics:
            intact = all(self._intact(f"{SCORES_DIR}/{name}{ext}") for ext in SCORE_FILE_SUFFIXES)
            cached = None if self.force or not intact else _cached_score(score_path(scores_dir, name), engine, name,
                                                                         gen_hash, cleaning, opts[name])
            if cached is None:
                todo.append(name)
            elif name not in scores:  # a run scored before run.json kept signatures
                scores[name] = _score_entry(cached, gen_hash, opts[name])
        if not todo and self._done("score"):
            self._save()
            self._reused("score", f"{len(metrics)} metric(s) already scored")
            return []
        lock = threading.Lock()

        def write(name: str, res: Any) -> None:  # each metric is on disk as soon as it is done
            res["generations_sha256"] = gen_hash
            write_scores({name: res}, scores_dir)
            with lock:
                scores[name] = _score_entry(res, gen_hash, opts[name])
            self.reporter.end(f"score:{name}", 0.0, res.get("status", ""))

        with self._stage("score", invalidate=False, detail=", ".join(todo)):
            if todo:
                rows = list(iter_jsonl(gen_path))
                ids, hyps, refs = [r["id"] for r in rows], [r["report"] for r in rows], [r["reference"] for r in rows]
                engine.score(todo, ids, hyps, refs, options={n: opts[n] for n in todo}, bootstrap=self.bootstrap,
                             seed=self.spec.seed, cleaning=cleaning, on_result=write)
            self._record_outputs("score", [f"{SCORES_DIR}/{name}{ext}" for name in scores
                                           for ext in SCORE_FILE_SUFFIXES])
        return todo


def generate_reports(method: Method, samples: list[Sample], dataset: Dataset, seed: int,
                     on_batch: Callable[[list[Sample], list[str]], None] | None = None) -> list[str]:
    """The one generation loop (the generate stage and ``audit --regenerate``): seed once, then
    ``method.generate`` on batches of ``method.generate_batch_size()``; ``on_batch(samples, reports)`` after each.
    A method returning the wrong number of reports is an error naming it."""
    bs = max(1, method.generate_batch_size())
    seed_everything(seed)
    out: list[str] = []
    for i in range(0, len(samples), bs):
        batch = samples[i: i + bs]
        reports = [str(r) for r in method.generate(batch, dataset)]
        if len(reports) != len(batch):
            raise RRGBenchError(f"method '{method.name or type(method).__name__}' returned {len(reports)} reports "
                                f"for {len(batch)} samples")
        if on_batch is not None:
            on_batch(batch, reports)
        out.extend(reports)
    return out


def _score_entry(res: dict[str, Any], gen_hash: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    entry = {"status": res.get("status"), "signature": res.get("signature"), "generations_sha256": gen_hash,
             "scored_at": now()}
    if options:
        entry["options"] = dict(options)
    if res.get("status") != "ok":
        entry["reason"] = res.get("reason", "")
    return entry


def _same_data(recorded: Any, info: dict[str, Any]) -> bool:
    """Whether a recorded dataset entry describes the same data as ``info``.

    ``skipped`` is left out: its messages name files by absolute path, so they change when the data moves,
    while the manifest hash already covers which samples were kept.
    """
    if not isinstance(recorded, dict):
        return False
    return {k: v for k, v in recorded.items() if k != "skipped"} == {k: v for k, v in info.items() if k != "skipped"}


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C inside a run; its message says where the run stopped and how to resume (exit 130)."""


LINK_CHECKED = (CHECKPOINT_DIR, CHECKPOINT_TMP, CHECKPOINT_OLD, TRAIN_STATE_DIR, SCORES_DIR, SHARDS_DIR, WORK_DIR,
                RUN_JSON, GENERATIONS, PARTIAL_GENERATIONS)


def refuse_links(run_dir: Path) -> None:
    """Raise if a file or folder rrgbench writes, replaces or deletes inside ``run_dir`` is a symbolic link:
    the runner never follows or deletes through a link (it could point anywhere)."""
    for name in LINK_CHECKED:
        path = Path(run_dir) / name
        if path.is_symlink():
            raise RRGBenchError(f"{path} is a symbolic link (to {os.readlink(path)}); rrgbench never follows or "
                                "deletes through links inside a run directory. Replace it with a real "
                                f"{'file' if '.' in name else 'folder'} (e.g. a copy) or remove it, then rerun")


def _move_aside(run_dir: Path) -> Path:
    """Rename ``run_dir`` to ``<run_dir>.corrupt-<UTC time>`` (a free name) and return it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for k in range(1000):
        aside = run_dir.with_name(f"{run_dir.name}.corrupt-{stamp}" + (f"-{k}" if k else ""))
        if not aside.exists():
            run_dir.rename(aside)
            return aside
    raise RRGBenchError(f"cannot move {run_dir} aside: too many corrupt copies beside it")


def file_digest(path: Path) -> dict[str, Any]:
    """``{"size", "sha256"}`` of a file, as recorded in ``run.json`` ``outputs``."""
    return {"size": Path(path).stat().st_size, "sha256": sha256_file(path)}


def digest_mismatch(path: Path, want: dict[str, Any]) -> str | None:
    """How ``path`` differs from its recorded digest (missing, size, content), or None if it matches."""
    try:
        size = Path(path).stat().st_size
    except FileNotFoundError:
        return "is missing"
    if size != want.get("size"):
        return f"is {size} bytes, recorded {want.get('size')}"
    if sha256_file(path) != want.get("sha256"):
        return "has a different sha256 (same size)"
    return None


def _remove_stale_temporaries(run_dir: Path) -> None:
    """Delete ``.<name>.*.tmp`` files that a kill during an atomic write left behind (their targets are intact)."""
    for path in run_dir.rglob(".*.tmp"):
        if path.is_file():
            path.unlink(missing_ok=True)


def current_signature(engine: Any, name: str, cleaning: str, options: dict[str, Any] | None = None) -> str:
    """The signature metric ``name`` has here and now with ``options`` under the run's cleaning protocol."""
    return engine.make_metric(name, options, cleaning=cleaning).signature()


def _cached_score(path: Path, engine: Any, name: str, gen_hash: str, cleaning: str,
                  options: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The result in ``path`` if it is a finished one for these generations under the current signature."""
    if not path.exists():
        return None
    try:
        sf = read_score_file(path)
    except RRGBenchError:
        return None
    if sf.status != "ok" or sf.raw.get("generations_sha256") != gen_hash:
        return None
    try:
        return sf.raw if sf.signature == current_signature(engine, name, cleaning, options) else None
    except Exception:  # noqa: BLE001 - a metric that cannot even build is rescored (and reports why)
        return None
