"""Every built-in plugin passes the contract checks of :mod:`rrgbench.testing`, the same suite a third-party
plugin runs (``rrgbench check-plugin NAME``); a method whose generate reads the reference fails, naming the
check."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rrgbench.api import Dataset, Method, Sample
from rrgbench.plugins import get_host, reset_host
from rrgbench.testing import CheckResult, check_dataset, check_method, check_metric


def _built_in(kind: str) -> list[str]:
    host = get_host()
    ours = {p.name for p in host.plugins if p.distribution == "rrgbench"}
    registry = {"method": host.methods, "metric": host.metrics, "dataset": host.datasets}[kind]
    return [e.name for e in registry.entries() if e.plugin in ours]


def _judge(results: list[CheckResult]) -> None:
    failed = [str(r) for r in results if r.status == "fail"]
    assert not failed, "\n".join(failed)
    if all(r.status == "skip" for r in results):
        pytest.skip("; ".join(f"{r.check}: {r.detail}" for r in results))


@pytest.mark.parametrize("name", _built_in("metric"))
def test_built_in_metric_keeps_the_contract(name: str) -> None:
    _judge(check_metric(name))


@pytest.mark.parametrize("name", _built_in("dataset"))
def test_built_in_dataset_keeps_the_contract(name: str) -> None:
    _judge(check_dataset(name))


@pytest.mark.parametrize("name", _built_in("method"))
def test_built_in_method_keeps_the_contract(name: str, tmp_path: Path) -> None:
    _judge(check_method(name, tmp_path))


class Peeker(Method):
    """Copies each study's reference: the leak the contract must catch."""

    def train(self, stage: str, data: Dataset) -> dict[str, Any]:
        return {}

    def generate(self, samples: Sequence[Sample], data: Dataset) -> list[str]:
        return [s.report for s in samples]

    def save(self, path: Path) -> None:
        (Path(path) / "peeker.txt").write_text("nothing to save")

    def load(self, path: Path) -> None:
        pass


def test_a_method_reading_the_reference_fails_naming_the_check(tmp_path: Path) -> None:
    from rrgbench.cli import cli

    reset_host()
    try:
        get_host().methods.register(Peeker, name="peeker", description="copies references", plugin="test")
        results = {r.check: r for r in check_method("peeker", tmp_path / "api")}
        res = CliRunner().invoke(cli, ["check-plugin", "peeker", "--work-dir", str(tmp_path / "cli")])
    finally:
        reset_host()
    assert results["load_round_trip"].status == "ok"
    leak = results["generate_ignores_reference"]
    assert leak.status == "fail" and "generate() read sample.report" in leak.detail
    assert res.exit_code == 1
    assert "FAIL method peeker: generate_ignores_reference — AssertionError: generate() read sample.report" in res.output
