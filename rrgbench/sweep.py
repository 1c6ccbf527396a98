"""Grids of runs (methods × datasets × seeds), executed inline, as local subprocesses, or on Slurm.

Each grid point is one :class:`~rrgbench.specs.RunSpec` and one :class:`SweepJob`. Executors:

``inline``  one after another in this process (no submitit).
``local``   submitit's ``LocalExecutor``: one subprocess per run, logs under ``--log-dir``.
``slurm``   submitit's ``SlurmExecutor`` through ``AutoExecutor``: a job array (``map_array``), one job per
            run, each job a ``tasks_per_node × nodes`` torch world (``WORLD_SIZE``/``RANK``/``MASTER_ADDR``
            exported from Slurm) so generation is sharded across every GPU of the job.

Jobs are ``submitit.helpers.Checkpointable``: a preempted or timed-out job requeues itself and the runner's
file-level resume continues where it stopped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import RRGBenchError
from .specs import RunSpec

EXECUTORS = ("inline", "local", "slurm")


def grid(methods: Sequence[str], datasets: Sequence[str], seeds: Sequence[int], **fields: Any) -> list[RunSpec]:
    """Every (method, dataset, seed) spec, names resolved and preset defaults merged (errors before submitting)."""
    from .runner import build_spec

    if not methods or not datasets or not seeds:
        raise RRGBenchError("a sweep needs at least one method, one dataset and one seed")
    return [build_spec(m, d, seed=s, **fields) for m, d, s in itertools.product(methods, datasets, seeds)]


def _checkpointable() -> type:
    try:
        from submitit.helpers import Checkpointable
    except ImportError:  # pragma: no cover - submitit is a declared dependency
        return object
    return Checkpointable


@dataclass
class SweepJob(_checkpointable()):  # type: ignore[misc]
    """One run of a sweep, picklable for submitit; calling it runs (or resumes) the spec."""

    spec: dict[str, Any]
    runs_dir: str
    bootstrap: int = 1000
    data_dir: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def setup(self) -> None:
        """Hook run in the worker before the run (e.g. to register extra plugins)."""

    def __call__(self) -> dict[str, Any]:
        from .runner import Runner
        from .specs import spec_from_dict

        self.setup()
        _export_torch_env_from_slurm()
        spec = spec_from_dict(dict(self.spec), source="sweep job")
        options = {"wait": True, **self.options}  # a requeued job waits for its predecessor's lock to drop
        runner = Runner(spec, Path(self.runs_dir), data_dir=Path(self.data_dir) if self.data_dir else None,
                        bootstrap=self.bootstrap, **options)
        run_dir = runner.run()
        return {"run_dir": str(run_dir), "spec_hash": spec.spec_hash, "rank": runner.world.rank,
                "status": dict(runner.record.get("status", {}))}


def _export_torch_env_from_slurm() -> None:
    """Under a multi-task Slurm job, export RANK/WORLD_SIZE/MASTER_ADDR... for accelerate (no-op otherwise)."""
    import os

    if "SLURM_JOB_ID" not in os.environ or "WORLD_SIZE" in os.environ:
        return
    try:
        import submitit

        env = submitit.JobEnvironment()
    except (ImportError, RuntimeError):
        return
    if env.num_tasks > 1:
        from submitit.helpers import TorchDistributedEnvironment

        TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


@dataclass
class SlurmOptions:
    partition: str | None = None
    nodes: int = 1
    gpus_per_node: int = 0
    tasks_per_node: int = 1
    cpus_per_task: int = 8
    mem_gb: int | None = None
    timeout_min: int = 24 * 60
    array_parallelism: int = 16
    account: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_sweep(jobs: list[SweepJob], *, executor: str = "inline", log_dir: Path | None = None,
              slurm: SlurmOptions | None = None, wait: bool = True) -> list[dict[str, Any]]:
    """Run ``jobs`` with ``executor``; returns one result per job (``{"error": ...}`` for failed ones)."""
    if executor not in EXECUTORS:
        raise RRGBenchError(f"unknown executor '{executor}'; choose one of {', '.join(EXECUTORS)}")
    if executor == "inline":
        results = []
        for job in jobs:
            try:
                results.append(job())
            except RRGBenchError as exc:  # one failed run does not stop the sweep
                results.append({"spec_hash": _spec_hash(job), "error": str(exc)})
        return results
    import submitit

    folder = Path(log_dir or Path(jobs[0].runs_dir) / "_sweep_logs") / "%j"
    if executor == "local":
        ex: Any = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=(slurm or SlurmOptions()).timeout_min)
    else:
        opts = slurm or SlurmOptions()
        try:
            ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        except RuntimeError as exc:
            raise RRGBenchError(f"--executor slurm: {exc} (use --executor local or inline here)") from None
        params: dict[str, Any] = {"timeout_min": opts.timeout_min, "nodes": opts.nodes,
                                  "tasks_per_node": opts.tasks_per_node, "cpus_per_task": opts.cpus_per_task,
                                  "slurm_array_parallelism": opts.array_parallelism}
        if opts.gpus_per_node:
            params["gpus_per_node"] = opts.gpus_per_node
        if opts.partition:
            params["slurm_partition"] = opts.partition
        if opts.mem_gb:
            params["mem_gb"] = opts.mem_gb
        if opts.account:
            params["slurm_account"] = opts.account
        params.update(opts.extra)
        ex.update_parameters(**params)
    submitted = ex.submit_array(jobs)
    if not wait:
        return [{"job_id": j.job_id, "spec_hash": _spec_hash(job)} for j, job in zip(submitted, jobs)]
    results = []
    for handle, job in zip(submitted, jobs):
        try:
            out = handle.result()
            results.append(out[0] if isinstance(out, list) else out)  # multi-task jobs return one per task
        except Exception as exc:  # noqa: BLE001 - submitit wraps the worker's error
            results.append({"spec_hash": _spec_hash(job), "job_id": handle.job_id,
                            "error": str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)})
    return results


def _spec_hash(job: SweepJob) -> str:
    from .specs import spec_from_dict

    return spec_from_dict(dict(job.spec)).spec_hash
