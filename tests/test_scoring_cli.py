"""``rrgbench score`` and ``rrgbench compare`` end to end on small generated files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rrgbench.api import RRGBenchError
from rrgbench.cli import cli
from rrgbench.scoring import synthetic

NLG_KEYS = {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"}


pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture(autouse=True)
def _offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path):
    ids, hyps, refs = synthetic.pairs(12, seed=6)
    hyps[0] = "Line one.\nLine two.\r\n<b>HTML</b> café"
    preds = _write(tmp_path / "preds.jsonl", [{"id": i, "report": h} for i, h in zip(ids, hyps)])
    gold = _write(tmp_path / "refs.jsonl", [{"id": i, "report": r} for i, r in zip(ids, refs)])
    return ids, hyps, refs, preds, gold


def _run(*args):
    result = CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=True)
    return result


def test_score_json_keys_and_cis(files, tmp_path):
    _, _, _, preds, gold = files
    result = _run("score", "-p", preds, "-r", gold, "--metrics", "nlg,token", "--bootstrap", "200", "--json",
                  "--output", tmp_path / "out")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert NLG_KEYS | {"token_accuracy", "token_precision", "token_recall", "token_f1"} <= set(out)
    assert set(out["ci95"]) == set(out["keys"]) and out["n"] == 12 and out["bootstrap"] == 200
    assert "protocol:r2gen" in out["signatures"]["nlg"]
    assert (tmp_path / "out" / "scores" / "nlg.json").is_file()
    assert len((tmp_path / "out" / "scores" / "nlg.samples.jsonl").read_text().splitlines()) == 12


def test_score_bertscore_keys(files):
    _, _, _, preds, gold = files
    result = _run("score", "-p", preds, "-r", gold, "--metrics", "bertscore", "--bootstrap", "50", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"bertscore_f1", "bertscore_precision", "bertscore_recall"} <= set(out["ci95"])


def test_protocols_change_the_numbers(files):
    _, _, _, preds, gold = files
    got = {}
    for protocol in ("r2gen", "raw"):
        result = _run("score", "-p", preds, "-r", gold, "--metrics", "nlg", "--metric-opt", f"nlg.protocol={protocol}",
                      "--bootstrap", "0", "--json")
        assert result.exit_code == 0, result.output
        got[protocol] = json.loads(result.output)["bleu_4"]
    assert got["r2gen"] != got["raw"]


def test_missing_and_duplicated_ids(files, tmp_path):
    ids, hyps, refs, preds, _ = files
    short = _write(tmp_path / "short.jsonl", [{"id": i, "report": r} for i, r in zip(ids[:9], refs[:9])])
    result = _run("score", "-p", preds, "-r", short, "--metrics", "nlg")
    assert isinstance(result.exception, RRGBenchError)
    assert "3 id(s)" in str(result.exception) and ids[10] in str(result.exception)
    ok = _run("score", "-p", preds, "-r", short, "--metrics", "nlg", "--allow-missing", "--json", "--bootstrap", "0")
    assert ok.exit_code == 0 and json.loads(ok.output)["missing_references"] == 3
    dup = _write(tmp_path / "dup.jsonl", [{"id": "a", "report": "x"}, {"id": "a", "report": "y"}])
    assert "duplicated ids: a" in str(_run("score", "-p", dup, "-r", short).exception)
    empty = _write(tmp_path / "empty.jsonl", [])
    assert "empty file" in str(_run("score", "-p", preds, "-r", empty).exception)
    bad = _write(tmp_path / "bad.jsonl", [{"id": "a", "text": "x"}])
    assert "has no 'report'" in str(_run("score", "-p", bad, "-r", short).exception)
    assert "exactly one of" in str(_run("score", "-p", preds).exception)


def test_cli_user_error_exits_2_with_one_line(files, tmp_path):
    ids, _, refs, preds, _ = files
    short = _write(tmp_path / "short.jsonl", [{"id": i, "report": r} for i, r in zip(ids[:2], refs[:2])])
    proc = subprocess.run([sys.executable, "-m", "rrgbench.cli", "score", "-p", str(preds), "-r", str(short)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: 10 id(s)")
    assert len(proc.stderr.strip().splitlines()) == 1


def _run_dir(path, ids, hyps, refs):
    path.mkdir()
    _write(path / "generations.jsonl", [{"id": i, "report": h, "reference": r} for i, h, r in zip(ids, hyps, refs)])
    return path


def test_compare_two_runs(files, tmp_path):
    ids, hyps, refs, _, _ = files
    a = _run_dir(tmp_path / "a", ids, refs, refs)
    b = _run_dir(tmp_path / "b", ids, hyps, refs)
    result = _run("compare", a, b, "--metrics", "nlg", "--bootstrap", "200", "--trials", "200", "--json")
    assert result.exit_code == 0, result.output
    res = json.loads(result.output)
    bleu = res["metrics"]["nlg"]["scores"]["bleu_4"]
    assert res["n"] == 12 and bleu["delta"] == pytest.approx(bleu["a"] - bleu["b"])
    assert bleu["delta"] > 0 and bleu["ci95"][0] > 0 and bleu["p_randomization"] < 0.05
    text = _run("compare", a, b, "--metrics", "nlg", "--bootstrap", "50", "--trials", "50")
    assert "BLEU-4" in text.output and "p AR" in text.output and "Holm" in text.output
    other = _run_dir(tmp_path / "c", ids, hyps, refs[:-1] + ["another reference"])
    assert "different references" in str(_run("compare", a, other, "--metrics", "nlg").exception)


def test_references_from_a_dataset_split(files, tmp_path):
    from rrgbench.api import Dataset, Sample
    from rrgbench.plugins import get_host

    ids, _, refs, preds, _ = files

    class Tiny(Dataset):
        name = "tiny_scoring_test"
        cleaning = "r2gen_mimic"

        def prepare(self) -> None:
            pass

        def split(self, name):
            return [Sample(i, r, (), name) for i, r in zip(ids, refs)] if name == "test" else []

        def manifest_hash(self) -> str:
            return "0"

    registry = get_host().datasets
    registry.register(Tiny, name=Tiny.name, plugin="test")
    try:
        result = _run("score", "-p", preds, "--dataset", Tiny.name, "--split", "test", "--metrics", "nlg",
                      "--metric-opt", "nlg.meteor=false", "--bootstrap", "0", "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["n"] == 12 and "meteor" not in out and "r2gen_mimic" in out["signatures"]["nlg"]
        missing = _run("score", "-p", preds, "--dataset", Tiny.name, "--split", "val", "--metrics", "nlg")
        assert "split 'val' has no samples" in str(missing.exception)
    finally:
        registry._entries.pop(Tiny.name, None)


def test_unavailable_requested_metric_exits_1_unless_allowed(files, tmp_path, monkeypatch):
    _, _, _, preds, gold = files
    monkeypatch.setenv("RRGBENCH_MODELS", str(tmp_path / "no-models"))  # CheXbert weights cannot be found
    monkeypatch.setenv("RRGBENCH_CHEXBERT", str(tmp_path / "no-models" / "chexbert.pth"))
    result = _run("score", "-p", preds, "-r", gold, "--metrics", "token,chexbert", "--bootstrap", "0")
    assert result.exit_code == 1, result.output
    assert "chexbert: unavailable" in result.output and "--allow-unavailable" in result.output
    assert "token_f1" in result.output  # the available metric is still scored and printed
    allowed = _run("score", "-p", preds, "-r", gold, "--metrics", "token,chexbert", "--bootstrap", "0",
                   "--allow-unavailable", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert "chexbert" in json.loads(allowed.output[allowed.output.index("{"):])["unavailable"]


def test_scoring_a_file_against_itself_warns(files, tmp_path):
    ids, _, refs, preds, gold = files
    same = _run("score", "-p", gold, "-r", gold, "--metrics", "token", "--bootstrap", "0")
    assert same.exit_code == 0 and "warning: the predictions are the same file" in same.output
    copy = _write(tmp_path / "copy.jsonl", [{"id": i, "report": r} for i, r in zip(ids, refs)])
    twin = _run("score", "-p", copy, "-r", gold, "--metrics", "token", "--bootstrap", "0")
    assert twin.exit_code == 0 and "identical to the references, row for row" in twin.output
    normal = _run("score", "-p", preds, "-r", gold, "--metrics", "token", "--bootstrap", "0")
    assert "warning: the predictions" not in normal.output
