"""The CLI as a user meets it: fast start, listings, clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import run_cli


def test_help_and_listings_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from rrgbench.cli import cli\n"
        "for args in (['--help'], ['list', 'methods'], ['list', 'datasets'], ['list', 'plugins']):\n"
        "    try:\n"
        "        cli.main(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'numpy', 'pandas') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_list_methods_json_has_majority() -> None:
    res = run_cli("list", "methods", "--json")
    assert res.returncode == 0, res.stderr
    names = {row["name"] for row in json.loads(res.stdout)}
    assert "majority" in names


def test_list_plugins_reports_status() -> None:
    res = run_cli("list", "plugins", "--json")
    assert res.returncode == 0, res.stderr
    rows = {row["name"]: row for row in json.loads(res.stdout)}
    assert rows["methods_majority"]["status"] == "loaded"


def test_unknown_method_suggests_name(runs_dir) -> None:
    res = run_cli("run", "--method", "majorty", "--dataset", "synthetic", "--runs-dir", str(runs_dir))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert "unknown method 'majorty'" in res.stderr and "Did you mean: majority" in res.stderr
    assert not any(runs_dir.iterdir())


def test_unknown_dataset_and_metric(runs_dir) -> None:
    res = run_cli("run", "--method", "majority", "--dataset", "synthetc", "--runs-dir", str(runs_dir))
    assert res.returncode == 2 and "Did you mean: synthetic" in res.stderr
    res = run_cli("run", "--method", "majority", "--dataset", "synthetic", "--metrics", "nlgg",
                  "--runs-dir", str(runs_dir))
    assert res.returncode == 2 and "unknown metric 'nlgg'" in res.stderr and "nlg" in res.stderr


def test_unknown_command_suggests() -> None:
    res = run_cli("lst")
    assert res.returncode == 2 and "Did you mean: list" in res.stderr


def test_spec_file_with_wrong_types(tmp_path, runs_dir) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"method": "majority", "dataset": "synthetic", "seed": "zero"}))
    res = run_cli("run", "--spec", str(spec), "--runs-dir", str(runs_dir))
    assert res.returncode == 2
    assert str(spec) in res.stderr and "'seed' must be int" in res.stderr
    assert res.stderr.strip().count("\n") == 0
    spec.write_text("{not json")
    res = run_cli("run", "--spec", str(spec), "--runs-dir", str(runs_dir))
    assert res.returncode == 2 and "cannot parse spec file" in res.stderr


def test_unwritable_runs_dir(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    res = run_cli("run", "--method", "majority", "--dataset", "synthetic", "--metrics", "nlg",
                  "--runs-dir", str(blocker / "runs"))
    assert res.returncode == 2
    assert "cannot write to runs directory" in res.stderr
    assert blocker.read_text() == "not a directory"


def test_dry_run_prints_frozen_spec(runs_dir) -> None:
    res = run_cli("run", "--method", "majority", "--dataset", "synthetic", "--seed", "3", "--dry-run",
                  "--runs-dir", str(runs_dir))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["spec"]["seed"] == 3 and len(out["spec_hash"]) == 12
    assert out["run_dir"].endswith(f"tiny-seed3-{out['spec_hash']}")
