"""Third-party plugins: a skeleton written by `new-plugin` is installed and discovered; a broken one is
reported by `rrgbench list plugins` without breaking the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli


def pip_install_target(package_dir: Path, target: Path) -> None:
    """Install a package into a private directory (the test's site), leaving the venv untouched."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(package_dir)], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def third_party_site(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("plugins")
    site = work / "site"
    for kind, name in (("method", "echo_normal"), ("metric", "word_overlap")):
        res = run_cli("new-plugin", kind, name, "--dir", str(work))
        assert res.returncode == 0, res.stderr
        pip_install_target(work / f"rrgbench-{name}", site)
    broken = work / "rrgbench-broken"
    (broken / "rrgbench_broken").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(
        '[build-system]\nrequires=["setuptools>=61"]\nbuild-backend="setuptools.build_meta"\n'
        '[project]\nname="rrgbench-broken"\nversion="0.0.1"\n'
        '[project.entry-points.rrgbench]\nbroken="rrgbench_broken"\n'
        '[tool.setuptools]\npackages=["rrgbench_broken"]\n')
    (broken / "rrgbench_broken" / "__init__.py").write_text("import a_module_that_does_not_exist\n")
    pip_install_target(broken, site)
    return site


def test_new_plugin_skeletons_are_discovered(third_party_site: Path) -> None:
    env = {"PYTHONPATH": str(third_party_site)}
    methods = {r["name"]: r for r in json.loads(run_cli("list", "methods", "--json", env=env).stdout)}
    assert methods["echo_normal"]["plugin"] == "echo_normal"
    metrics = {r["name"] for r in json.loads(run_cli("list", "metrics", "--json", "--no-check", env=env).stdout)}
    assert "word_overlap" in metrics


def test_broken_plugin_is_reported_not_fatal(third_party_site: Path) -> None:
    env = {"PYTHONPATH": str(third_party_site)}
    res = run_cli("list", "plugins", "--json", env=env)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["broken"]["status"] == "failed"
    assert "a_module_that_does_not_exist" in rows["broken"]["error"]
    assert rows["echo_normal"]["status"] == "loaded"
    res = run_cli("list", "methods", env=env)
    assert res.returncode == 0 and "majority" in res.stdout
    strict = run_cli("list", "methods", env={**env, "RRGBENCH_STRICT_PLUGINS": "1"})
    assert strict.returncode != 0


def test_new_plugin_refuses_bad_names(tmp_path: Path) -> None:
    res = run_cli("new-plugin", "method", "Bad-Name", "--dir", str(tmp_path))
    assert res.returncode == 2 and "must be lower-case" in res.stderr
    assert not any(tmp_path.iterdir())
