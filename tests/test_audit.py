"""`rrgbench audit` on a real finished run, and on copies tampered one way each."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_resume_plugin as plugin

from rrgbench.audit import audit_run, diff_environment, format_report


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    plugin.install()
    from rrgbench.runner import Runner, build_spec

    spec = build_spec("tiny_counter", "toy_resume", metrics=("chexpert_rules",), limit=16,
                      overrides={"step_sleep": 0, "gen_sleep": 0})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RRGBENCH_NO_CACHE", "1")  # every score below is computed, never read from a cache
        yield Runner(spec, tmp_path_factory.mktemp("runs"), bootstrap=30).run()


def _copy(finished: Path, tmp_path: Path) -> Path:
    dest = tmp_path / finished.name
    shutil.copytree(finished, dest)
    return dest


def _edit_json(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def _status(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_finished_run_passes_every_check(finished: Path) -> None:
    report = audit_run(finished, regenerate=6, against_paper=True)
    status = _status(report)
    assert report.ok, format_report(report)
    for name in ("schema", "files", "generation_ids", "dataset_manifest", "checkpoint", "signatures", "packages",
                 "rescore:chexpert_rules", "regenerate"):
        assert status[name] == "ok", (name, format_report(report))
    regen = next(c for c in report.checks if c.name == "regenerate")
    assert "6/6 regenerated reports identical on cpu" in regen.detail
    assert report.paper == [] and report.paper_note == "no reported numbers under this protocol"


@pytest.mark.parametrize("tamper, failing", [
    (lambda d: _edit_json(d / "scores/chexpert_rules.json",
                          lambda r: r["scores"].update({k: v + 1e-9 for k, v in r["scores"].items()})),
     "rescore:chexpert_rules"),
    (lambda d: (d / "checkpoint/model.pt").write_bytes((d / "checkpoint/model.pt").read_bytes() + b"\0"),
     "checkpoint"),
    (lambda d: (d / "generations.jsonl").write_text("".join((d / "generations.jsonl").read_text()
                                                            .splitlines(keepends=True)[:-1])),
     "generation_ids"),
    (lambda d: _edit_json(d / "run.json", lambda r: r["dataset"].update(manifest_hash="0" * 64)),
     "dataset_manifest"),
    (lambda d: _edit_json(d / "scores/chexpert_rules.json", lambda r: r.update(signature="labeler:other")),
     "signatures"),
    (lambda d: _edit_json(d / "run.json", lambda r: r["status"].update(score="running")), "schema"),
    (lambda d: (d / "scores/chexpert_rules.samples.jsonl").unlink(), "files"),
])
def test_each_tampering_fails_its_check(finished: Path, tmp_path: Path, tamper, failing: str) -> None:
    run_dir = _copy(finished, tmp_path)
    tamper(run_dir)
    report = audit_run(run_dir, regenerate=2)
    assert not report.ok
    assert _status(report)[failing] == "fail", format_report(report)
    if failing == "checkpoint":
        assert _status(report)["regenerate"] == "skip"


def test_regenerated_text_must_match(finished: Path, tmp_path: Path) -> None:
    run_dir = _copy(finished, tmp_path)
    lines = (run_dir / "generations.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    rows[0]["report"] += " extra words"
    (run_dir / "generations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = audit_run(run_dir, regenerate=len(rows))
    regen = next(c for c in report.checks if c.name == "regenerate")
    assert regen.status == "fail" and regen.data["differing"] == [rows[0]["id"]]
    loose = audit_run(run_dir, regenerate=len(rows), tolerance=0.5)  # GPU-style: mean edit distance
    assert next(c for c in loose.checks if c.name == "regenerate").status == "ok"


def test_tolerance_and_package_drift_are_reported_not_failed(finished: Path, tmp_path: Path) -> None:
    run_dir = _copy(finished, tmp_path)
    _edit_json(run_dir / "scores/chexpert_rules.json",
               lambda r: r["scores"].update({k: v + 1e-9 for k, v in r["scores"].items()}))
    _edit_json(run_dir / "run.json", lambda r: r["environment"]["packages"].update(numpy="0.0.1"))
    report = audit_run(run_dir, tolerance=1e-6)
    status = _status(report)
    assert report.ok and status["rescore:chexpert_rules"] == "ok" and status["packages"] == "warn"
    assert "numpy: 0.0.1 -> " in next(c for c in report.checks if c.name == "packages").detail


def test_against_paper_lists_reported_numbers_under_the_same_protocol(finished: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    stored = json.loads((finished / "scores/chexpert_rules.json").read_text())
    key = sorted(stored["scores"])[0]
    monkeypatch.setattr(plugin.TinyCounter, "reported", {"toy_resume": [
        {"metric": "chexpert_rules", "signature_prefix": stored["signature"][:20], "scores": {key: 0.5},
         "source": "Test et al., Table 1"},
        {"metric": "chexpert_rules", "signature_prefix": "labeler:chexbert", "scores": {key: 0.9}, "source": "x"},
    ]}, raising=False)
    report = audit_run(finished, against_paper=True)
    assert [(r["score"], r["reported"], r["reproduced"]) for r in report.paper] == [(key, 0.5, stored["scores"][key])]
    assert "reported 0.5000" in format_report(report) and "Test et al., Table 1" in format_report(report)


def test_cli_exit_codes_and_json(finished: Path, tmp_path: Path) -> None:
    bad = _copy(finished, tmp_path)
    _edit_json(bad / "run.json", lambda r: r["dataset"].update(manifest_hash="f" * 64))
    res = plugin.run_cmd("audit", str(finished), str(bad), "--json")
    assert res.returncode == 1, res.stderr
    out = json.loads(res.stdout)
    assert [r["ok"] for r in out["runs"]] == [True, False] and out["ok"] is False
    res = plugin.run_cmd("audit", "--all", "--runs-dir", str(finished.parents[2]))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1/1 run(s) pass the audit" in res.stdout
    res = plugin.run_cmd("audit", str(tmp_path / "nowhere"))
    assert res.returncode == 2 and "not a run directory" in res.stderr


def test_diff_environment_flattens_and_ignores() -> None:
    then = {"python": "3.10", "packages": {"torch": "2.1", "numpy": "1.26"}, "num_threads": 4}
    now = {"python": "3.10", "packages": {"torch": "2.2", "numpy": "1.26"}, "num_threads": 1}
    assert diff_environment(then, now, ignore=("num_threads",)) == {"packages.torch": ["2.1", "2.2"]}
