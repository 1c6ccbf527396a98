"""``rrgbench new-plugin method|metric NAME``: write an installable third-party plugin package."""

from __future__ import annotations

import re
from pathlib import Path

import click

_PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "rrgbench-{name}"
version = "0.1.0"
description = "An rrgbench {kind} plugin: {name}"
requires-python = ">=3.10"
dependencies = ["rrgbench"]

[project.entry-points.rrgbench]
{name} = "rrgbench_{name}"

[tool.setuptools]
packages = ["rrgbench_{name}"]
'''

_INIT = '''"""rrgbench plugin `{name}`: registered through the `rrgbench` entry-point group.

Keep this module cheap to import: register the class by its "module:Class" path.
"""

from rrgbench import hookimpl


@hookimpl
def rrgbench_register_{kind}s(register):
    register("rrgbench_{name}.{kind}:{cls}", name="{name}", description="TODO: one line about {name}.")
'''

_METHOD = '''"""The `{name}` method. Replace the body of each hook with your model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rrgbench.api import Dataset, Method, Sample


class {cls}(Method):
    name = "{name}"
    version = "0.1"
    stages = ("train",)
    presets = ("tiny", "paper")

    @classmethod
    def default_config(cls, preset: str, dataset: str) -> dict[str, Any]:
        return {{"sentence": "no acute cardiopulmonary abnormality ."}}

    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        # data.split("train") -> list[Sample]; data.load_images(sample, size) -> float32 [views, size, size]
        return {{"n_train": len(data.split("train"))}}

    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        # Never read sample.report here: it is the reference.
        return [self.config["sentence"]] * len(samples)

    def save(self, path: Path) -> None:
        (Path(path) / "{name}.json").write_text(json.dumps(self.config))

    def load(self, path: Path) -> None:
        self.config = json.loads((Path(path) / "{name}.json").read_text())
'''

_METRIC = '''"""The `{name}` metric: per-sample statistics, then a cheap aggregate (bootstrap-friendly)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rrgbench.api import Metric


class {cls}(Metric):
    name = "{name}"
    version = "0.1"
    # How the leaderboard shows the scores (written into every score file; see rrgbench.api.Metric.describe):
    group = "Other"  # column group, e.g. "NLG" or "CE"
    higher_is_better = True  # direction of every key
    labels = {{"{name}_f1": "{cls} F1"}}  # display names
    headline = ("{name}_f1",)  # keys shown by default

    def signature(self) -> str:
        return f"{name}|v:{{self.version}}|tok:whitespace|case:lower"

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict[str, Any]]:
        stats = []
        for hyp, ref in zip(hyps, refs):
            h, r = set(hyp.lower().split()), set(ref.lower().split())
            stats.append({{"overlap": len(h & r), "hyp": len(h), "ref": len(r)}})
        return stats

    def aggregate(self, stats: Sequence[dict[str, Any]]) -> dict[str, float]:
        overlap = sum(s["overlap"] for s in stats)
        p = overlap / max(1, sum(s["hyp"] for s in stats))
        r = overlap / max(1, sum(s["ref"] for s in stats))
        return {{"{name}_f1": 2 * p * r / (p + r) if p + r else 0.0}}
'''

_README = '''# rrgbench-{name}

An rrgbench {kind} plugin. Install it next to rrgbench and it is discovered automatically:

    pip install -e .
    rrgbench list {kind}s

Edit `rrgbench_{name}/{kind}.py`. The contract is `rrgbench.api.{base}`.
'''


@click.command(name="new-plugin")
@click.argument("kind", type=click.Choice(["method", "metric"]))
@click.argument("name")
@click.option("--dir", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to create the package folder rrgbench-NAME/.")
def new_plugin(kind: str, name: str, out_dir: Path) -> None:
    """Write an installable skeleton package for a new method or metric plugin."""
    from ..api import RRGBenchError
    from ..io import atomic_write_text

    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise RRGBenchError(f"plugin name '{name}' must be lower-case letters, digits and '_', starting with a letter")
    taken = _taken_names()
    if name in taken:
        raise RRGBenchError(f"plugin name '{name}' is already taken by {taken[name]}: a package registering it again "
                            "could never load (registered twice); choose another name")
    from ..io import check_dir_target

    check_dir_target(out_dir, f"--dir {out_dir}")
    root = out_dir / f"rrgbench-{name}"
    if root.exists():
        raise RRGBenchError(f"{root} already exists; choose another name or --dir")
    cls = "".join(part.capitalize() for part in name.split("_"))
    fmt = {"name": name, "kind": kind, "cls": cls, "base": kind.capitalize()}
    atomic_write_text(root / "pyproject.toml", _PYPROJECT.format(**fmt))
    atomic_write_text(root / "README.md", _README.format(**fmt))
    atomic_write_text(root / f"rrgbench_{name}" / "__init__.py", _INIT.format(**fmt))
    atomic_write_text(root / f"rrgbench_{name}" / f"{kind}.py", (_METHOD if kind == "method" else _METRIC).format(**fmt))
    click.echo(f"wrote {root}/ — install it with: pip install -e {root}")


def _taken_names() -> dict[str, str]:
    """Names a new plugin must not use: every registered method, metric and dataset (built-in or installed),
    and every ``rrgbench`` entry point, with what holds each name."""
    from importlib.metadata import entry_points

    from ..plugins import get_host

    host = get_host()
    taken = {ep.name: f"the installed entry point {ep.value}" for ep in entry_points(group="rrgbench")}
    for kind, registry in (("dataset", host.datasets), ("metric", host.metrics), ("method", host.methods)):
        for entry in registry.names():
            taken[entry] = f"the {kind} '{entry}'"
    return taken
