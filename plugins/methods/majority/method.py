"""Majority baseline: the floor every method must beat (often a "normal" report on IU X-ray)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rrgbench.api import Dataset, Method, RRGBenchError, Sample
from rrgbench.io import atomic_write_json, read_json


class Majority(Method):
    name = "majority"
    version = "1.0"
    stages = ("train",)
    presets = ("tiny", "paper")

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        # Reports are compared after whitespace normalisation; ties go to the lexicographically first.
        return {"generate_batch_size": 256}

    def __init__(self, config: dict[str, Any], ctx: Any) -> None:
        super().__init__(config, ctx)
        self.report: str | None = None

    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        counts = Counter(" ".join(s.report.split()) for s in data.split("train"))
        if not counts:
            raise RRGBenchError("majority: the training split is empty")
        best = max(counts.values())
        self.report = min(r for r, c in counts.items() if c == best)
        return {"n_train": sum(counts.values()), "distinct_reports": len(counts), "majority_count": best}

    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        if self.report is None:
            raise RRGBenchError("majority: generate() called before train() or load()")
        return [self.report] * len(samples)

    def save(self, path: Path) -> None:
        atomic_write_json(Path(path) / "majority.json", {"report": self.report})

    def load(self, path: Path) -> None:
        self.report = read_json(Path(path) / "majority.json")["report"]
        if not isinstance(self.report, str):
            raise RRGBenchError(f"{path}/majority.json: 'report' must be a string")
