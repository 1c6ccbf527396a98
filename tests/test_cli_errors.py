"""Bad input on the command line: one ``error:`` line, exit 2, no traceback, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from rrgbench.api import RRGBenchError
from rrgbench.config_check import check_overrides


def _one_error(res, *needles: str) -> None:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_set_keys_and_types_are_checked_against_the_default_config(runs_dir: Path) -> None:
    base = ("run", "--method", "majority", "--dataset", "synthetic", "--runs-dir", str(runs_dir))
    _one_error(run_cli(*base, "--set", "generate_batch_size=abc"),
               "--set generate_batch_size=\"abc\": expected an integer like the default 256, got a string")
    _one_error(run_cli(*base, "--set", "bogus_key=1"), "has no config key 'bogus_key'", "Keys: generate_batch_size")
    _one_error(run_cli(*base, "--set", "generate_batchsize=4"), "did you mean generate_batch_size?")
    assert not any(runs_dir.iterdir())  # no run directory was made
    nested = ("run", "--method", "kifisd", "--dataset", "synthetic", "--dry-run")
    _one_error(run_cli(*nested, "--set", "generation.num_beam=2"),
               "no config key 'num_beam' under 'generation'; did you mean num_beams?")
    _one_error(run_cli(*nested, "--set", "generation.num_beams=2.5"), "expected an integer")
    ok = run_cli(*nested, "--set", "generation.num_beams=2", "--set", "lr=1", "--set", "assets.bert=/x")
    assert ok.returncode == 0, ok.stderr  # an int where a float is the default; any key in an open mapping
    assert json.loads(ok.stdout)["spec"]["config"]["generation"]["num_beams"] == 2


def test_check_overrides_units() -> None:
    defaults = {"a": 1, "b": 0.5, "c": None, "d": {"e": "x", "f": [1]}, "flag": False}
    check_overrides("m", "tiny", defaults, {"a": 2, "b": 3, "c": {"any": 1}, "d": {"e": "y", "f": []}, "flag": True})
    for bad, match in (({"flag": 1}, "expected true or false"), ({"a": True}, "expected an integer"),
                       ({"d": 3}, "expected a mapping"), ({"d": {"e": 1}}, "quote text"),
                       ({"d": {"g": 1}}, "no config key 'g' under 'd'")):
        with pytest.raises(RRGBenchError, match=match):
            check_overrides("m", "tiny", defaults, bad)
    check_overrides("m", "tiny", defaults, {"cleaning": "x"}, optional=("cleaning",))


def test_wrong_typed_run_record_names_file_and_field(tmp_path: Path) -> None:
    from rrgbench.io import atomic_write_json
    from rrgbench.rundir import load_record, new_record

    record = new_record({"method": "majority", "dataset": "synthetic"}, "0" * 12)
    record["dataset"] = ["a", "list"]
    atomic_write_json(tmp_path / "run.json", record)
    with pytest.raises(RRGBenchError, match=r"run\.json: run record field 'dataset' must be an object, got list"):
        load_record(tmp_path)
    record["dataset"] = {}
    record["spec"]["seed"] = "0"
    atomic_write_json(tmp_path / "run.json", record)
    with pytest.raises(RRGBenchError, match=r"field 'spec\.seed' must be an integer, got str"):
        load_record(tmp_path)


def test_output_paths_below_a_file_and_a_directory_as_input(tmp_path: Path) -> None:
    blocker = tmp_path / "plain.txt"
    blocker.write_text("x")
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "report": "no effusion."}\n')
    _one_error(run_cli("score", "-p", str(preds), "-r", str(preds), "-m", "token", "--output", str(blocker / "out")),
               f"{blocker} is a file, not a directory")
    _one_error(run_cli("label", "--input", str(tmp_path)), f"{tmp_path}: is a directory")
    _one_error(run_cli("new-plugin", "method", "my_thing", "--dir", str(blocker / "sub")),
               f"{blocker} is a file, not a directory")
    runs = tmp_path / "runs"
    runs.mkdir()
    _one_error(run_cli("leaderboard", "--runs-dir", str(runs), "--out", str(blocker / "site")), "is a file")


def test_new_plugin_refuses_a_name_already_registered(tmp_path: Path) -> None:
    for kind, name, holder in (("metric", "majority", "the method 'majority'"),
                               ("method", "nlg", "the metric 'nlg'"),
                               ("method", "synthetic", "the dataset 'synthetic'")):
        _one_error(run_cli("new-plugin", kind, name, "--dir", str(tmp_path)),
                   f"plugin name '{name}' is already taken by {holder}")
    assert not any(tmp_path.iterdir())
    res = run_cli("new-plugin", "metric", "my_overlap", "--dir", str(tmp_path))
    assert res.returncode == 0 and (tmp_path / "rrgbench-my_overlap").is_dir()
