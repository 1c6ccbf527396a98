"""The site publishes nothing outside a run's dataset root, neutralises CSV formulas, and builds past bad runs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from pathlib import Path

import pytest
from test_leaderboard import data_env, synthetic_root, write_png, write_run  # noqa: F401 - data_env is autouse

from rrgbench.io import atomic_write_json, atomic_write_jsonl
from rrgbench.leaderboard import build_site
from rrgbench.leaderboard.records import load_run
from rrgbench.leaderboard.samples import Thumbnails, build_samples
from rrgbench.rundir import new_record


def _set_images(run: Path, paths: list[str]) -> None:
    rows = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    for row, path in zip(rows, paths):
        row["image_paths"] = [path]
    atomic_write_jsonl(run / "generations.jsonl", rows)


class _Recording(Thumbnails):
    """Thumbnails that remember every file they opened."""

    def __init__(self, site_dir: Path) -> None:
        super().__init__(site_dir)
        self.opened: list[Path] = []

    def _make(self, src: Path) -> str | None:
        self.opened.append(src)
        return super()._make(src)


def test_images_outside_the_dataset_root_are_neither_read_nor_published(
        tmp_path: Path, data_env: Path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    root = synthetic_root(data_env)
    inside = write_png(root / "images" / "ok.png", 40)
    secret = tmp_path / "private" / "secret.png"
    write_png(secret, 200)
    (root / "images" / "link.png").unlink(missing_ok=True)
    (root / "images" / "link.png").symlink_to(secret)  # a link inside the root that leads out of it
    runs = tmp_path / "runs"
    run = write_run(runs, "alpha", n=5)
    _set_images(run, [inside, str(secret), "../../../../private/secret.png", str(root / "images" / "link.png"),
                      "images/ok.png"])

    thumbs = _Recording(tmp_path / "probe")
    views = build_samples(load_run(run, runs), thumbs).views
    assert thumbs.opened == [Path(inside).resolve()]  # the secret was never opened
    assert [len(v.thumbs) for v in views] == [1, 0, 0, 0, 1]  # a relative path resolves against the root
    assert len(thumbs.refused) == 3

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rrgbench.leaderboard"):
        site = build_site(runs, tmp_path / "site")
    assert len(site.refused_images) == 3
    assert sum("refused image" in r.getMessage() for r in caplog.records) == 3
    secret_hash = hashlib.sha256(secret.read_bytes()).hexdigest()[:20]
    published = [p for p in (tmp_path / "site").rglob("*") if p.is_file()]
    assert [p.name for p in published if p.parent.name == "thumbs"] == [
        f"{hashlib.sha256(Path(inside).read_bytes()).hexdigest()[:20]}.png"]
    assert not any(secret_hash in p.name for p in published)


def test_images_of_a_dataset_not_present_here_are_refused(tmp_path: Path) -> None:
    images = tmp_path / "elsewhere"
    runs = tmp_path / "runs"
    write_run(runs, "alpha", dataset="no_such_dataset", images=images, n=2)
    site = build_site(runs, tmp_path / "site")
    assert not (tmp_path / "site" / "thumbs").exists() and site.runs == 1


def test_csv_cells_that_would_run_as_formulas_are_neutralised(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = write_run(runs, "alpha", n=5)
    evil = ['=HYPERLINK("http://x.example","click")', "+1+2", "-3+4", "@SUM(A1)", "\tcell"]
    rows = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    for row, text in zip(rows, evil):
        row["report"] = text
    atomic_write_jsonl(run / "generations.jsonl", rows)
    build_site(runs, tmp_path / "site", thumbnails=False)
    page = next((tmp_path / "site/runs/synthetic/alpha").iterdir())
    table = list(csv.DictReader(io.StringIO((page / "samples.csv").read_text())))
    assert [r["report"] for r in table] == ["'" + t for t in evil]
    assert all(not v.startswith(("=", "+", "-", "@", "\t")) or _number(v) for f in (tmp_path / "site").rglob("*.csv")
               for r in csv.reader(io.StringIO(f.read_text())) for v in r)
    assert [r["report"] for r in json.loads((page / "samples.json").read_text())] == evil  # JSON keeps the text
    assert float(table[0]["nlg.bleu_4"]) >= 0  # numbers stay numbers


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _failed_run(runs: Path, name: str = "failed") -> Path:
    run = runs / "synthetic" / "beta" / name
    record = new_record({"method": "beta", "dataset": "synthetic", "preset": "tiny", "seed": 0}, "f" * 12)
    record["status"].update(prepare="done", train="failed")
    record["error"] = "train: RuntimeError: CUDA out of memory"
    atomic_write_json(run / "run.json", record)
    return run


def test_a_single_failed_run_builds_and_is_listed_with_its_error(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _failed_run(runs)
    site = build_site(runs, tmp_path / "site")
    index = (tmp_path / "site/index.html").read_text()
    assert site.runs == 1 and "train failed" in index and "CUDA out of memory" in index
    assert "CUDA out of memory" in (tmp_path / "site/runs/synthetic/beta/failed/index.html").read_text()


def test_corrupt_runs_are_skipped_with_path_and_reason_and_links_followed_only_inside(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    good = write_run(runs, "alpha")
    _failed_run(runs)
    bad_json = write_run(runs, "gamma")
    (bad_json / "run.json").write_text("{torn")
    bad_scores = write_run(runs, "delta")
    (bad_scores / "scores" / "nlg.json").write_text("[")
    bad_field = write_run(runs, "eps")
    record = json.loads((bad_field / "run.json").read_text())
    record["dataset"] = ["not", "an", "object"]
    atomic_write_json(bad_field / "run.json", record)
    stored = write_run(runs / ".store", "zeta")  # hidden: reached only through the link below
    (runs / "synthetic" / "zeta").symlink_to(stored, target_is_directory=True)
    outside = write_run(tmp_path / "elsewhere", "eta")
    (runs / "synthetic" / "eta").symlink_to(outside, target_is_directory=True)

    site = build_site(runs, tmp_path / "site")
    assert site.runs == 3  # alpha, the failed beta, zeta through its link
    reasons = {s.rel: s.reason for s in site.skipped}
    assert reasons == {
        bad_json.relative_to(runs).as_posix(): reasons[bad_json.relative_to(runs).as_posix()],
        bad_scores.relative_to(runs).as_posix(): reasons[bad_scores.relative_to(runs).as_posix()],
        bad_field.relative_to(runs).as_posix(): reasons[bad_field.relative_to(runs).as_posix()],
        "synthetic/eta": "symbolic link to a folder outside the runs folder; not followed"}
    assert reasons[bad_json.relative_to(runs).as_posix()].startswith("run.json: not valid JSON")
    assert reasons[bad_scores.relative_to(runs).as_posix()].startswith("scores/nlg.json: not valid JSON")
    assert "field 'dataset' must be an object" in reasons[bad_field.relative_to(runs).as_posix()]
    index = (tmp_path / "site/index.html").read_text()
    assert "4 runs skipped" in index and "synthetic/eta" in index and str(tmp_path) not in index
    board = json.loads((tmp_path / "site/datasets/synthetic/leaderboard.json").read_text())
    assert sorted(r["method"] for r in board["rows"]) == ["alpha", "zeta"]
    assert good.name in os.listdir(tmp_path / "site/runs/synthetic/alpha")


def test_cli_lists_skipped_runs_and_refuses_out_below_a_file(tmp_path: Path) -> None:
    from conftest import run_cli

    runs = tmp_path / "runs"
    write_run(runs, "alpha")
    (write_run(runs, "gamma") / "run.json").write_text("{torn")
    res = run_cli("leaderboard", "--runs-dir", str(runs), "--out", str(tmp_path / "site"), "--no-thumbnails")
    assert res.returncode == 0, res.stderr
    assert "skipped run synthetic/gamma/" in res.stderr and "run.json: not valid JSON" in res.stderr
    (tmp_path / "file").write_text("x")
    res = run_cli("leaderboard", "--runs-dir", str(runs), "--out", str(tmp_path / "file" / "site"))
    assert res.returncode == 2 and res.stderr.startswith("error: ") and len(res.stderr.splitlines()) == 1
    assert "is a file" in res.stderr
