"""Units of the host: registry, spec hashing and validation, atomic writes, cleaning protocol names."""

from __future__ import annotations

import json

import pytest

from rrgbench.api import RRGBenchError
from rrgbench.io import atomic_write_json, iter_jsonl, read_json
from rrgbench.registry import Registry
from rrgbench.specs import RunSpec, parse_overrides, spec_from_dict


def test_registry_suggests_and_rejects_duplicates() -> None:
    reg: Registry = Registry("method")
    reg.register("json:dumps", name="revtaf", plugin="a")
    with pytest.raises(RRGBenchError, match="Did you mean: revtaf"):
        reg.get("revtf")
    with pytest.raises(RRGBenchError, match="registered twice"):
        reg.register("json:loads", name="revtaf", plugin="b")
    assert reg.get("revtaf") is json.dumps


def test_registry_lazy_target_failure_is_one_clear_error() -> None:
    reg: Registry = Registry("metric")
    reg.register("no_such_module_xyz:Thing", name="ghost", plugin="p")
    with pytest.raises(RRGBenchError, match="metric 'ghost' .* failed to load no_such_module_xyz:Thing"):
        reg.get("ghost")


def test_spec_hash_is_stable_and_sensitive() -> None:
    a = RunSpec(method="m", dataset="d", seed=1, config={"lr": 1e-4, "layers": 2})
    b = RunSpec(method="m", dataset="d", seed=1, config={"layers": 2, "lr": 1e-4})
    c = RunSpec(method="m", dataset="d", seed=2, config={"layers": 2, "lr": 1e-4})
    assert a.spec_hash == b.spec_hash != c.spec_hash


@pytest.mark.parametrize("bad, message", [
    ([], "expected a mapping"),
    ({"method": "m"}, "missing required field 'dataset'"),
    ({"method": "m", "dataset": "d", "seed": True}, "'seed' must be int"),
    ({"method": "m", "dataset": "d", "limit": 0}, "'limit' must be a positive"),
    ({"method": "m", "dataset": "d", "split": "dev"}, "'split' must be one of"),
    ({"method": "m", "dataset": "d", "colour": "red"}, "unknown field"),
    ({"method": "m", "dataset": "d", "metrics": [1]}, "list of metric names"),
])
def test_spec_validation_messages(bad, message) -> None:
    with pytest.raises(RRGBenchError, match=message):
        spec_from_dict(bad, source="s.json")


def test_overrides_parse_json_and_nest() -> None:
    assert parse_overrides(["epochs=3", "optim.lr=0.001", "name=abc"]) == {
        "epochs": 3, "optim": {"lr": 0.001}, "name": "abc"}
    with pytest.raises(RRGBenchError):
        parse_overrides(["novalue"])


def test_atomic_write_keeps_old_file_on_failure(tmp_path) -> None:
    path = tmp_path / "x.json"
    atomic_write_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"bad": object()})
    assert read_json(path) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary left behind


def test_jsonl_torn_tail(tmp_path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "rep')
    assert [r["id"] for r in iter_jsonl(path, tolerate_torn_tail=True)] == ["a", "b"]
    with pytest.raises(RRGBenchError, match=r"g.jsonl:3: not valid JSON"):
        list(iter_jsonl(path))
