"""The run-directory module: one reader for run.json, score files and generations, old formats included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rrgbench.api import Display, RRGBenchError
from rrgbench.rundir import (
    RECORD_VERSION,
    RunDir,
    Skipped,
    find_runs,
    new_record,
    read_score_file,
    save_record,
    write_scores,
)

# A run directory exactly as rrgbench 0.1 wrote it (schema_version 1, score files without version or display).
V1_RUN = {"schema_version": 1, "spec": {"method": "majority", "dataset": "synthetic", "preset": "tiny", "seed": 3,
                                        "split": "test", "metrics": ["nlg"], "config": {}},
          "spec_hash": "abc123", "status": {"prepare": "done", "train": "done", "generate": "done", "score": "done"},
          "dataset": {"name": "synthetic", "manifest_hash": "f" * 64, "cleaning": "r2gen_iu"},
          "fidelity": {"resnet-101": "random init"}}
V1_SCORE = {"metric": "nlg", "status": "ok", "signature": "nlg|protocol:r2gen", "n": 2,
            "scores": {"bleu_4": 0.25, "cider": 0.5, "per_label": {"x": 1}}, "ci95": {"bleu_4": [0.2, 0.3]},
            "bootstrap": 100}


def _write_v1(run: Path) -> None:
    (run / "scores").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps(V1_RUN))
    (run / "scores" / "nlg.json").write_text(json.dumps(V1_SCORE))
    (run / "scores" / "nlg.samples.jsonl").write_text('{"id": "a", "bleu_4": 0.5}\n{"id": "b", "bleu_4": 0.0}\n')
    (run / "generations.jsonl").write_text('{"id": "a", "report": "x", "reference": "y"}\n'
                                           '{"id": "b", "report": "p", "reference": "q"}\n')


def test_a_version_1_run_directory_still_loads(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "synthetic" / "majority" / "tiny-seed3-abc123"
    _write_v1(run)
    rd = RunDir(run)
    assert rd.record["schema_version"] == 1 and rd.method == "majority" and rd.seed == 3
    assert rd.fidelity == {"resnet-101": "random init"} and rd.cleaning == "r2gen_iu"
    sf = rd.scores()["nlg"]
    assert sf.schema_version == 1 and sf.display is None
    assert sf.scores == {"bleu_4": 0.25, "cider": 0.5} and sf.ci95 == {"bleu_4": [0.2, 0.3]}
    assert rd.sample_scores("nlg") == {"a": {"id": "a", "bleu_4": 0.5}, "b": {"id": "b", "bleu_4": 0.0}}
    assert [g["id"] for g in rd.generations()] == ["a", "b"]
    # a v1 file has no display facts: they come from the registered metric plugin
    facts = sf.display_facts()
    assert facts.group == "NLG" and facts.direction("bleu_4")
    assert find_runs(tmp_path / "runs") == [run]


def test_written_records_and_score_files_carry_the_current_version(tmp_path: Path) -> None:
    record = new_record({"method": "m", "dataset": "d"}, "h1")
    save_record(tmp_path, record)
    display = Display(group="CE", default_higher_is_better=False, labels={"err": "Error"}, headline=["err"])
    write_scores({"toy": {"metric": "toy", "status": "ok", "signature": "toy|v1", "n": 1, "scores": {"err": 0.5},
                          "display": display.to_json(), "per_sample": [{"id": "a", "err": 0.5}], "cached": True}},
                 tmp_path / "scores")
    rd = RunDir(tmp_path)
    assert rd.record["schema_version"] == RECORD_VERSION
    raw = json.loads((tmp_path / "scores" / "toy.json").read_text())
    assert raw["schema_version"] == RECORD_VERSION and "per_sample" not in raw and "cached" not in raw
    sf = rd.score("toy")
    assert sf is not None and sf.display == display and not sf.display_facts().direction("err")
    assert sf.display_facts().label("err") == "Error"


def test_newer_versions_and_malformed_files_are_refused_naming_the_file(tmp_path: Path) -> None:
    _write_v1(tmp_path)
    (tmp_path / "scores" / "nlg.json").write_text(json.dumps({**V1_SCORE, "schema_version": RECORD_VERSION + 1}))
    with pytest.raises(RRGBenchError, match=r"nlg\.json: schema_version \d+ is newer"):
        RunDir(tmp_path).scores()
    (tmp_path / "scores" / "nlg.json").write_text(json.dumps({**V1_SCORE, "display": ["CE"]}))
    with pytest.raises(RRGBenchError, match=r"nlg\.json: 'display' must be an object"):
        read_score_file(tmp_path / "scores" / "nlg.json")
    (tmp_path / "run.json").write_text(json.dumps({**V1_RUN, "schema_version": RECORD_VERSION + 1}))
    with pytest.raises(RRGBenchError, match=r"run\.json: schema_version \d+ is newer"):
        RunDir(tmp_path).record  # noqa: B018


def test_find_runs_skips_hidden_nested_and_outside_links(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for rel in ("a/one", "b/two", ".hidden/three", "a/one/work/nested"):
        (runs / rel).mkdir(parents=True, exist_ok=True)
        (runs / rel / "run.json").write_text("{}")
    outside = tmp_path / "elsewhere" / "four"
    outside.mkdir(parents=True)
    (outside / "run.json").write_text("{}")
    (runs / "link").symlink_to(outside.parent, target_is_directory=True)
    skipped: list[Skipped] = []
    assert find_runs(runs, skipped) == [runs / "a/one", runs / "b/two"]
    assert [s.rel for s in skipped] == ["link"]
    assert find_runs(tmp_path / "missing") == []
