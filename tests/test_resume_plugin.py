"""A tiny test plugin (dataset ``toy_resume`` + method ``tiny_counter``) and a CLI entry that loads it.

``python tests/test_resume_plugin.py run ...`` behaves like ``rrgbench run ...`` with this plugin
registered (also under ``torchrun``). ``tiny_counter`` trains a small torch model step by step, saving
mid-stage training state through ``ctx.save_train_state`` every few steps, and writes the sha1 of its
weights into every report: equal reports prove bit-identical weights after a resume.
"""

from __future__ import annotations

import hashlib
import io
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rrgbench import hookimpl
from rrgbench.api import Dataset, Method, Sample
from rrgbench.io import atomic_write_bytes


class ToyResume(Dataset):
    """``n`` made-up studies per split (report text from rrgbench.scoring.synthetic), no images."""

    name = "toy_resume"
    cleaning = "whitespace"

    def __init__(self, n: int = 24, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = int(n)
        self._splits: dict[str, list[Sample]] = {}

    def prepare(self) -> None:
        from rrgbench.scoring.synthetic import report

        rng = random.Random(7)
        self._splits = {split: [Sample(id=f"{split}-{i:03d}", report=report(rng), image_paths=(), split=split)
                                for i in range(self.n)] for split in ("train", "val", "test")}

    def split(self, name: str) -> list[Sample]:
        return list(self._splits[name])

    def manifest_hash(self) -> str:
        text = "\n".join(f"{s.id}\t{s.report}" for rows in self._splits.values() for s in rows)
        return hashlib.sha256(text.encode()).hexdigest()


class TinyCounter(Method):
    """Two training stages of a 16-weight linear model; reports depend on the weights and the id only."""

    name = "tiny_counter"
    stages = ("warm", "main")
    presets = ("tiny",)

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        return {"steps": 24, "step_sleep": 0.03, "save_every": 4, "gen_sleep": 0.05, "generate_batch_size": 2}

    def __init__(self, config: dict[str, Any], ctx: Any) -> None:
        super().__init__(config, ctx)
        self.w = None
        self.sentences: list[str] = []

    def prepare(self, data: Dataset) -> None:
        import torch

        self.sentences = sorted({s.strip() + "." for r in data.split("train") for s in r.report.split(".")
                                 if s.strip()})
        self.w = torch.zeros(16)

    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        import torch

        start = 0
        state = self.ctx.load_train_state()
        if state is not None:
            self.w = state["states"]["w"]
            start = state["step"]
        for step in range(start, int(self.config["steps"])):
            x = torch.randn(8, 16)  # consumes the torch RNG: a resume must restore it
            target = x[:, :4].sum(1) + random.random()  # and the python RNG
            grad = 2 * x.T @ (x @ self.w - target) / len(x)
            self.w = self.w - 0.05 * grad
            time.sleep(float(self.config["step_sleep"]))
            if (step + 1) % int(self.config["save_every"]) == 0:
                self.ctx.save_train_state({"w": self.w}, step=step + 1)
        return {"steps": int(self.config["steps"]), "stage": stage}

    def _code(self) -> str:
        return hashlib.sha1(self.w.numpy().tobytes()).hexdigest()[:10]

    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        time.sleep(float(self.config["gen_sleep"]))
        code = self._code()
        out = []
        for s in samples:
            h = int(hashlib.sha1((s.id + code).encode()).hexdigest(), 16)
            picks = [self.sentences[(h >> (8 * k)) % len(self.sentences)] for k in range(3)]
            out.append(" ".join(picks))
        return out

    def save(self, path: Path) -> None:
        import torch

        buf = io.BytesIO()
        torch.save({"w": self.w}, buf)
        atomic_write_bytes(Path(path) / "model.pt", buf.getvalue())

    def load(self, path: Path) -> None:
        import torch

        self.w = torch.load(Path(path) / "model.pt", weights_only=True)["w"]


@hookimpl
def rrgbench_register_datasets(register):
    register(ToyResume, name="toy_resume", description="test-only toy dataset")


@hookimpl
def rrgbench_register_methods(register):
    register(TinyCounter, name="tiny_counter", description="test-only resumable method")


def install() -> None:
    """Register this module with the process-wide plugin host (idempotent)."""
    from rrgbench.plugins import get_host

    host = get_host()
    if "toy_resume" not in host.datasets:
        host.register_plugin(sys.modules[__name__], "test_resume_plugin")


def run_cmd(*args: str, limit_fsize: int | None = None, timeout: int = 300) -> Any:
    """Run this entry point as a subprocess (optionally under RLIMIT_FSIZE, a real 'disk full' for files)."""
    import os
    import subprocess

    def _limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parent),
           "RRGBENCH_NO_CACHE": "1"}
    return subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_limit if limit_fsize else None)


FAST_RUN = ("run", "--method", "tiny_counter", "--dataset", "toy_resume", "--metrics", "chexpert_rules",
            "--bootstrap", "20", "--json", "--set", "step_sleep=0", "--set", "gen_sleep=0")


def finished_run(runs: Path) -> Path:
    """Run :data:`FAST_RUN` to the end under ``runs``; its run directory."""
    import json

    res = run_cmd(*FAST_RUN, "--runs-dir", str(runs))
    assert res.returncode == 0, res.stderr
    return Path(json.loads(res.stdout)["run_dir"])


def copy_run(finished: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the finished run under a new runs dir (same spec, so `run` resumes it); links stay links."""
    import shutil

    runs = tmp_path / "runs"
    dest = runs / finished.relative_to(finished.parents[2])
    shutil.copytree(finished, dest, symlinks=True)
    return runs, dest


if __name__ == "__main__":
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.modules.setdefault("test_resume_plugin", sys.modules[__name__])
    install()
    from rrgbench.cli import main

    sys.argv[0] = "rrgbench"
    main()
