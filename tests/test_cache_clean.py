"""``rrgbench cache clean`` lists (``--dry-run``) and deletes image caches of changed or missing data and
score-cache entries whose signature the installed metrics no longer give; current entries stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from test_data_layout import iu, make_layout

from rrgbench.cache_clean import metric_label_caches
from rrgbench.data.imagecache import cache_location
from rrgbench.scoring import engine


def _fake_dir(path: Path, nbytes: int) -> Path:
    path.mkdir(parents=True)
    (path / "index.json").write_bytes(b"x" * nbytes)
    return path


def test_dry_run_lists_stale_entries_with_sizes_then_clean_deletes_only_them(
        tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("RRGBENCH_DATA", str(data))
    make_layout(data / "iu_xray")
    current = iu(data / "iu_xray").manifest_hash()
    keep_img = _fake_dir(cache_location("iu_xray", current, 64), 10)
    old_img = _fake_dir(cache_location("iu_xray", "0" * 64, 64), 3000)
    gone_img = _fake_dir(isolated_cache / "images" / f"no_such_dataset-{'a' * 16}-64", 200)
    engine.score(["token"], ["a"], ["no effusion"], ["small effusion"], bootstrap=0)  # a current entry
    scores = isolated_cache / "scores"
    (keep_sig,) = list(scores.iterdir())
    old_sig = _fake_dir(scores / "0123456789abcdef", 500)
    (old_sig / "signature.txt").write_text("metric:token|rrgbench:0.0.1|tok:split\n")
    env = {"RRGBENCH_CACHE": str(isolated_cache), "RRGBENCH_DATA": str(data), "RRGBENCH_RUNS": str(tmp_path / "runs")}

    dry = run_cli("cache", "clean", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    out = json.loads(dry.stdout)
    assert {Path(e["path"]) for e in out["entries"]} == {old_img, gone_img, old_sig}
    assert out["bytes"] == sum(e["bytes"] for e in out["entries"]) >= 3000 + 200 + 500 and out["freed_bytes"] == 0
    assert all(p.exists() for p in (keep_img, old_img, gone_img, keep_sig, old_sig))
    text = run_cli("cache", "clean", "--dry-run", env=env).stdout
    assert "would delete" in text and "nothing deleted" in text and "not registered" in text

    done = run_cli("cache", "clean", env=env)
    assert done.returncode == 0, done.stderr
    assert "3 stale cache entries" in done.stdout
    assert keep_img.exists() and keep_sig.exists()
    assert not old_img.exists() and not gone_img.exists() and not old_sig.exists()
    again = json.loads(run_cli("cache", "clean", "--json", env=env).stdout)
    assert again["entries"] == []


def _label_file(signature: str, n: int = 3) -> Path:
    """A label cache written by the real cache code (``n`` texts, made-up labels)."""
    from rrgbench.clinical.cache import LabelCache

    cache = LabelCache(signature, persist=True)
    cache.label([f"report {i}" for i in range(n)], lambda texts: [{"x": 1} for _ in texts])
    assert cache.path.is_file()
    return cache.path


def test_label_cache_names_are_the_ones_the_metrics_use(tmp_path: Path, isolated_cache: Path) -> None:
    """cache clean names each built-in reader's label cache as the reader does (their code is not shared:
    editing a metric module changes its score signature)."""
    from rrgbench.clinical import cache as label_cache

    rg = tmp_path / "rg"
    rg.mkdir()
    (rg / "weights.th").write_bytes(b"radgraph weights")
    radgraph = engine.make_metric("radgraph", {"model_dir": str(rg)})
    with pytest.raises(Exception):  # noqa: B017 - no model here: the cache is opened, then labelling fails
        radgraph._annotate(["small effusion"])
    umls = engine.make_metric("umls", {"backend": "scispacy", "linker_dir": str(tmp_path)})
    with pytest.raises(Exception):  # noqa: B017
        umls._concepts(["small effusion"])
    chexbert = engine.make_metric("chexbert", {"checkpoint": str(tmp_path / "c.pth")})
    (tmp_path / "c.pth").write_bytes(b"weights")
    with pytest.raises(Exception):  # noqa: B017
        chexbert.sample_stats(["small effusion"], ["no effusion"])
    for metric in (radgraph, umls, chexbert):
        (sig,) = metric_label_caches(metric)
        assert sig in label_cache._SHARED and label_cache._SHARED[sig].persist
    assert metric_label_caches(engine.make_metric("umls")) == [] and metric_label_caches(engine.make_metric(
        "chexpert_rules")) == []


def test_label_caches_no_current_labeler_reads_are_listed_and_deleted(
        tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.clinical.chexbert import CheXbertLabeler
    from rrgbench.clinical.rules import RuleLabeler

    weights = tmp_path / "models" / "chexbert.pth"
    weights.parent.mkdir()
    weights.write_bytes(b"current weights")
    (tmp_path / "old.pth").write_bytes(b"replaced weights")
    monkeypatch.setenv("RRGBENCH_CHEXBERT", str(weights))
    rg = tmp_path / "rg"
    rg.mkdir()
    (rg / "weights.th").write_bytes(b"radgraph weights")
    run = tmp_path / "runs" / "r1"  # a run scored RadGraph from its own folder: its annotations stay current
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"schema_version": 3, "spec_hash": "x", "status": {}, "spec": {
        "metrics": ["radgraph"], "metric_options": {"radgraph": {"model_dir": str(rg)}}}}))

    keep_chexbert = _label_file(CheXbertLabeler().signature())  # default options: the labeler's own cache
    keep_radgraph = _label_file(metric_label_caches(engine.make_metric("radgraph", {"model_dir": str(rg)}))[0])
    old_chexbert = _label_file(CheXbertLabeler(checkpoint=tmp_path / "old.pth").signature(), n=40)
    old_radgraph = _label_file("radgraph@radgraph-xl:0123456789ab")
    rules = _label_file(RuleLabeler().signature())  # the rule labeler does not persist (any more)
    lexicon = _label_file("umls@lexicon@1+abc:100cuis|negation:None")
    other = isolated_cache / "labels" / "README.txt"
    other.write_text("not a label cache")
    assert "chexbert@" in keep_chexbert.name and "missing" not in keep_chexbert.name
    env = {"RRGBENCH_CACHE": str(isolated_cache), "RRGBENCH_DATA": str(tmp_path / "data"),
           "RRGBENCH_RUNS": str(tmp_path / "runs"), "RRGBENCH_CHEXBERT": str(weights)}

    dry = run_cli("cache", "clean", "--dry-run", "--json", env=env)
    assert dry.returncode == 0, dry.stderr
    entries = {Path(e["path"]): e for e in json.loads(dry.stdout)["entries"]}
    assert set(entries) == {old_chexbert, old_radgraph, rules, lexicon}
    assert all(e["kind"] == "labels" and e["bytes"] == p.stat().st_size for p, e in entries.items())
    assert entries[old_chexbert]["bytes"] > entries[old_radgraph]["bytes"] > 0
    assert keep_chexbert.name in entries[old_chexbert]["reason"]  # names the file that is current instead
    assert keep_radgraph.name in entries[old_radgraph]["reason"]
    assert "no installed labeler or metric setting reads chexpert_rules labels" in entries[rules]["reason"]
    assert "reads umls labels" in entries[lexicon]["reason"]
    text = run_cli("cache", "clean", "--dry-run", env=env).stdout
    assert "would delete labels" in text and "4 stale cache entries" in text
    assert all(p.exists() for p in (*entries, keep_chexbert, keep_radgraph, other))

    done = run_cli("cache", "clean", env=env)
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in entries)
    assert keep_chexbert.exists() and keep_radgraph.exists() and other.exists()
    assert json.loads(run_cli("cache", "clean", "--json", env=env).stdout)["entries"] == []
    # without the run record, its RadGraph annotations are stale too (ad-hoc settings are not current)
    env["RRGBENCH_RUNS"] = str(tmp_path / "no-runs")
    assert [Path(e["path"]) for e in json.loads(run_cli("cache", "clean", "--dry-run", "--json",
                                                        env=env).stdout)["entries"]] == [keep_radgraph]


def test_a_dataset_prepared_in_its_own_subfolder_keeps_its_image_cache(
        tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Phantom datasets live in an options subfolder (``synthetic/n40-seed0-64px``): found through the
    dataset's own ``root()``, not ``$RRGBENCH_DATA/<name>``."""
    from rrgbench.plugins import get_host

    data = tmp_path / "data"
    monkeypatch.setenv("RRGBENCH_DATA", str(data))
    ds = get_host().datasets.get("synthetic")()
    ds.prepare()
    assert ds.root() != data / "synthetic"  # the case under test
    keep = _fake_dir(cache_location("synthetic", ds.manifest_hash(), 64), 10)
    env = {"RRGBENCH_CACHE": str(isolated_cache), "RRGBENCH_DATA": str(data), "RRGBENCH_RUNS": str(tmp_path / "runs")}
    out = json.loads(run_cli("cache", "clean", "--dry-run", "--json", env=env).stdout)
    assert str(keep) not in {e["path"] for e in out["entries"]}
