"""The plugin contract in rrgbench.api: optional parts have defaults, the registry checks base classes and
names, labelers come from a hook and feed the CE metric."""

from __future__ import annotations

import types
from collections.abc import Sequence
from pathlib import Path

import pytest

from rrgbench import hookimpl
from rrgbench.api import CHEXPERT_LABELS, Dataset, Labeler, Metric, RRGBenchError, Sample
from rrgbench.plugins import Host, get_host, reset_host
from rrgbench.registry import Registry


class EveryoneHasEdema(Labeler):
    """A third-party labeler: Edema positive in every report, nothing else mentioned."""

    name = "edema_everywhere"

    def signature(self) -> str:
        return "edema_everywhere@1"

    def label(self, texts: Sequence[str]) -> list[dict[str, int | None]]:
        return [{lab: 1 if lab == "Edema" else None for lab in CHEXPERT_LABELS} for _ in texts]


def test_a_labeler_plugin_feeds_the_ce_metric() -> None:
    from rrgbench.scoring import engine

    reset_host()
    try:
        plugin = types.SimpleNamespace(rrgbench_register_labelers=hookimpl(
            lambda register: register(EveryoneHasEdema, description="test labeler")))
        get_host().register_plugin(plugin, "edema_labeler")
        assert "edema_everywhere" in get_host().labelers
        hyps, refs = ["No edema.", "Mild edema."], ["Edema.", "Clear lungs."]
        res = engine.score(["chexpert_rules"], ["a", "b"], hyps, refs, bootstrap=0, cache=False,
                           options={"chexpert_rules": {"labeler": "edema_everywhere"}})["chexpert_rules"]
    finally:
        reset_host()
    assert res["status"] == "ok" and res["signature"].startswith("labeler:edema_everywhere@1|")
    assert res["scores"]["ce_f1/Edema"] == 1.0  # both sides labelled by the plugin: full agreement
    assert res["per_sample"][0]["hyp_labels"]["Edema"] == 1


def test_the_registry_refuses_a_class_outside_the_contract_naming_the_plugin() -> None:
    reg: Registry = Registry("metric", Metric)
    reg.register("json:JSONDecoder", name="not_a_metric", plugin="thirdparty")
    with pytest.raises(RRGBenchError, match=r"metric 'not_a_metric' \(from plugin 'thirdparty'\): "
                                            r"json:JSONDecoder is not a subclass of rrgbench\.api\.Metric"):
        reg.get("not_a_metric")


class Declared(Metric):
    name = "declared_name"

    def signature(self) -> str:
        return "x"

    def sample_stats(self, hyps: Sequence[str], refs: Sequence[str]) -> list[dict]:
        return [{} for _ in hyps]

    def aggregate(self, stats: Sequence[dict]) -> dict[str, float]:
        return {"n": float(len(stats))}


class Unnamed(Declared):
    pass


def test_name_and_description_are_given_once_at_registration() -> None:
    reg: Registry = Registry("metric", Metric)
    reg.register(f"{__name__}:Declared", name="other_name", plugin="p")
    with pytest.raises(RRGBenchError, match="declares name 'declared_name' but is registered as 'other_name'"):
        reg.get("other_name")
    reg.register(f"{__name__}:Unnamed", name="unnamed", description="counts samples", plugin="p")
    cls = reg.get("unnamed")
    assert cls.name == "unnamed" and cls.description == "counts samples"
    host = get_host()  # built-ins: the class carries the registered name and description after loading
    for registry in (host.methods, host.metrics, host.datasets, host.labelers):
        for entry in registry.entries():
            cls = entry.load()
            assert cls.name == entry.name and cls.description == entry.description and entry.description


def test_optional_parts_have_defaults_on_the_base_classes(tmp_path: Path) -> None:
    import numpy as np

    class Bare(Dataset):
        def prepare(self) -> None:
            pass

        def split(self, name: str) -> list[Sample]:
            return [Sample(f"{name}1", "x", ("a.png", "b.png"), name)]

        def manifest_hash(self) -> str:
            return "0" * 64

    ds = Bare(data_dir=tmp_path)
    assert ds.root() == tmp_path and ds.manifest() == {"sha256": "0" * 64, "n_images": 6}
    metric = Unnamed()
    assert metric.load() is None and metric.pairwise is False
    weights = np.array([[1, 1, 1], [3, 0, 0]])
    assert metric.batch_aggregate([{}, {}, {}], weights)["n"].tolist() == [3.0, 3.0]
    assert Host().labelers.kind == "labeler"
