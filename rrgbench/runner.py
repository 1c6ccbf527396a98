"""Execute one :class:`~rrgbench.specs.RunSpec`: prepare → train → generate → score.

Each stage records its status in ``run.json`` as it starts and ends. A repeated run with the same spec
reuses finished stages (``force=True`` redoes them); an interrupted generation resumes from the last
sample written to ``generations.partial.jsonl``.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .api import Dataset, Method, RRGBenchError, RunContext, Sample
from .env import capture
from .io import append_jsonl, atomic_write_jsonl, iter_jsonl, sha256_file
from .plugins import get_host
from .records import (
    CHECKPOINT_DIR,
    GENERATIONS,
    PARTIAL_GENERATIONS,
    SCORES_DIR,
    STAGES,
    RunRecord,
    load_record,
    new_record,
    save_record,
)
from .specs import RunSpec, deep_merge

log = logging.getLogger("rrgbench.runner")


def build_spec(method: str, dataset: str, *, preset: str = "tiny", seed: int = 0,
               overrides: dict[str, Any] | None = None, **fields: Any) -> RunSpec:
    """Resolve names (with "did you mean"), merge preset defaults with overrides, freeze the spec."""
    host = get_host()
    method_cls = host.methods.get(method)
    host.datasets.entry(dataset)
    for metric in fields.get("metrics") or ():
        host.metrics.entry(metric)
    if preset not in method_cls.presets:
        raise RRGBenchError(f"method '{method}' has no preset '{preset}'; presets: {', '.join(method_cls.presets)}")
    config = deep_merge(method_cls.default_config(preset, dataset), overrides or {})
    return RunSpec(method=method, dataset=dataset, preset=preset, seed=seed, config=config, **fields)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _device() -> str:
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


class Runner:
    """Runs one spec inside its run directory."""

    def __init__(self, spec: RunSpec, runs_dir: Path, *, force: bool = False, data_dir: Path | None = None,
                 skip_bad: bool = False, bootstrap: int = 1000) -> None:
        self.spec = spec
        self.run_dir = spec.run_dir(runs_dir)
        self.force = force
        self.data_dir = data_dir
        self.skip_bad = skip_bad
        self.bootstrap = bootstrap
        self.host = get_host()
        self._method: Method | None = None
        self._dataset: Dataset | None = None
        self._state_ready = False  # True once the method holds trained weights
        self.record: RunRecord

    # -- bookkeeping -----------------------------------------------------------------------------
    def _open_record(self) -> None:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            probe = self.run_dir / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise RRGBenchError(f"cannot write to runs directory {self.run_dir}: {exc.strerror or exc}") from None
        if (self.run_dir / "run.json").exists():
            self.record = load_record(self.run_dir)
            if self.record["spec_hash"] != self.spec.spec_hash:
                raise RRGBenchError(f"{self.run_dir}/run.json belongs to another spec ({self.record['spec_hash']})")
        else:
            self.record = new_record(self.spec.to_dict(), self.spec.spec_hash)
        if self.force:
            self.record["status"] = {s: "pending" for s in self.record["status"]}
            self.record["train_stages"] = {}
        self.record["environment"] = capture(self.host.env_info())
        save_record(self.run_dir, self.record)

    def _done(self, stage: str) -> bool:
        return self.record["status"].get(stage) == "done"

    @contextmanager
    def _stage(self, stage: str) -> Iterator[None]:
        self.record["status"][stage] = "running"
        for later in STAGES[STAGES.index(stage) + 1:]:  # results downstream of a redone stage are stale
            self.record["status"][later] = "pending"
        save_record(self.run_dir, self.record)
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            self.record["status"][stage] = "failed"
            self.record["error"] = f"{stage}: {type(exc).__name__}: {exc}"
            save_record(self.run_dir, self.record)
            raise
        self.record["timings"][stage] = round(time.perf_counter() - start, 3)
        self.record["status"][stage] = "done"
        self.record.pop("error", None)
        save_record(self.run_dir, self.record)

    # -- lazily built objects --------------------------------------------------------------------
    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            cls = self.host.datasets.get(self.spec.dataset)
            self._dataset = cls(data_dir=self.data_dir, section=self.spec.section, skip_bad=self.skip_bad,
                                **self.spec.dataset_options)
            self._dataset.prepare()
        return self._dataset

    @property
    def method(self) -> Method:
        if self._method is None:
            cls = self.host.methods.get(self.spec.method)
            ctx = RunContext(run_dir=self.run_dir, seed=self.spec.seed, device=_device(), preset=self.spec.preset,
                             dataset_name=self.spec.dataset, substitutes=self.record.setdefault("fidelity", {}))
            seed_everything(self.spec.seed)
            self._method = cls(dict(self.spec.config), ctx)
            self._method.prepare(self.dataset)
            self.record["method"] = {"name": cls.name, "version": cls.version, "description": cls.description,
                                     "stages": list(cls.stages)}
        return self._method

    def test_samples(self) -> list[Sample]:
        samples = self.dataset.split(self.spec.split)
        if self.spec.limit is not None:
            samples = samples[: self.spec.limit]
        if not samples:
            raise RRGBenchError(f"dataset '{self.spec.dataset}' has no samples in split '{self.spec.split}'")
        return samples

    # -- stages ----------------------------------------------------------------------------------
    def run(self) -> Path:
        self._open_record()
        self.stage_prepare()
        self.stage_train()
        self.stage_generate()
        self.stage_score()
        return self.run_dir

    def stage_prepare(self) -> None:
        with self._stage("prepare"):
            ds = self.dataset
            self.record["dataset"] = {
                "name": self.spec.dataset, "manifest_hash": ds.manifest_hash(), "split": self.spec.split,
                "n": len(self.test_samples()), "n_train": len(ds.split("train")), "credentialed": ds.credentialed,
                "licence": ds.licence, "cleaning": ds.cleaning, "skipped": list(ds.skipped),
            }

    def stage_train(self) -> None:
        ckpt = self.run_dir / CHECKPOINT_DIR
        stages = type(self.method).stages
        todo = [s for s in stages if self.record["train_stages"].get(s) != "done"]
        if not todo and self._done("train") and ckpt.exists():
            return
        with self._stage("train"):
            if len(todo) < len(stages) and ckpt.exists():
                self.method.load(ckpt)  # resume after the last finished method stage
            self._state_ready = True
            for stage in todo:
                log.info("train stage %s", stage)
                seed_everything(self.spec.seed + stages.index(stage))
                facts = self.method.train(stage, self.dataset)
                self.method.save(ckpt)
                self.record["train"][stage] = facts or {}
                self.record["train_stages"][stage] = "done"
                self.record["checkpoint"] = {"path": CHECKPOINT_DIR, "sha256": _hash_tree(ckpt)}
                save_record(self.run_dir, self.record)

    def _loaded_method(self) -> Method:
        """The method with its trained state: trained in this process, or loaded from the checkpoint."""
        method = self.method
        if not self._state_ready:
            method.load(self.run_dir / CHECKPOINT_DIR)
            self._state_ready = True
        return method

    def stage_generate(self) -> None:
        final = self.run_dir / GENERATIONS
        if self._done("generate") and final.exists():
            return
        samples = self.test_samples()
        partial = self.run_dir / PARTIAL_GENERATIONS
        done: dict[str, dict[str, Any]] = {}
        if partial.exists() and not self.force:
            rows = list(iter_jsonl(partial, tolerate_torn_tail=True))
            done = {r["id"]: r for r in rows if "id" in r}
            atomic_write_jsonl(partial, rows)  # drop a torn tail before appending
        elif partial.exists():
            partial.unlink()
        with self._stage("generate"):
            method = self._loaded_method()
            todo = [s for s in samples if s.id not in done]
            bs = max(1, method.generate_batch_size())
            seed_everything(self.spec.seed)
            bar = method.ctx.progress(total=len(samples), initial=len(samples) - len(todo), desc="generate",
                                      unit="report")
            for i in range(0, len(todo), bs):
                batch = todo[i: i + bs]
                reports = method.generate(batch, self.dataset)
                if len(reports) != len(batch):
                    raise RRGBenchError(f"method '{self.spec.method}' returned {len(reports)} reports for "
                                        f"{len(batch)} samples")
                rows = [{"id": s.id, "report": str(r), "reference": s.report} for s, r in zip(batch, reports)]
                append_jsonl(partial, rows)
                done.update({r["id"]: r for r in rows})
                bar.update(len(batch))
            bar.close()
            atomic_write_jsonl(final, [done[s.id] for s in samples])
            partial.unlink(missing_ok=True)

    def stage_score(self) -> None:
        if self._done("score") and not self.force:
            return
        from .scoring import engine

        rows = list(iter_jsonl(self.run_dir / GENERATIONS))
        with self._stage("score"):
            cleaning = self.record.get("dataset", {}).get("cleaning", "r2gen_iu")
            results = engine.score(list(self.spec.metrics), [r["id"] for r in rows], [r["report"] for r in rows],
                                   [r["reference"] for r in rows], bootstrap=self.bootstrap, seed=self.spec.seed,
                                   **_cleaning_kw(engine, cleaning))
            engine.write_results(results, self.run_dir / SCORES_DIR)


def _cleaning_kw(engine: Any, cleaning: str) -> dict[str, str]:
    import inspect

    return {"cleaning": cleaning} if "cleaning" in inspect.signature(engine.score).parameters else {}


def _hash_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def execute(spec: RunSpec, runs_dir: Path, **kwargs: Any) -> Path:
    """Run ``spec`` to completion (resuming what is done) and return its run directory."""
    return Runner(spec, runs_dir, **kwargs).run()
