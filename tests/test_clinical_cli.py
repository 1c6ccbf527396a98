"""``rrgbench label``: JSONL in, labels out; bad input is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rrgbench.api import CHEXPERT_LABELS, RRGBenchError
from rrgbench.cli import cli


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_label_json_rows(tmp_path: Path) -> None:
    src = _write(tmp_path / "r.jsonl", [{"id": "a", "report": "No pneumothorax. Mild cardiomegaly."},
                                        {"id": "b", "report": "Possible small effusion."}])
    out = CliRunner().invoke(cli, ["label", "--input", str(src), "--json"], catch_exceptions=False)
    rows = [json.loads(line) for line in out.output.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert list(rows[0]["labels"]) == list(CHEXPERT_LABELS)
    assert rows[0]["labels"]["Cardiomegaly"] == 1 and rows[0]["labels"]["Pneumothorax"] == 0
    assert rows[1]["labels"]["Pleural Effusion"] == -1


def test_label_table_and_field_choice(tmp_path: Path) -> None:
    src = _write(tmp_path / "g.jsonl", [{"id": "x", "report": "Normal.", "reference": "Large effusion."}])
    out = CliRunner().invoke(cli, ["label", "--input", str(src), "--field", "reference"], catch_exceptions=False)
    assert out.output.strip() == "x\t+Pleural Effusion"


def test_label_errors_name_the_file_and_row(tmp_path: Path) -> None:
    src = _write(tmp_path / "bad.jsonl", [{"id": "a", "report": "ok"}, {"id": "b", "other": 1}])
    with pytest.raises(RRGBenchError, match=r"bad.jsonl: row 2 has no"):
        CliRunner().invoke(cli, ["label", "--input", str(src)], catch_exceptions=False)
    with pytest.raises(RRGBenchError, match="file not found"):
        CliRunner().invoke(cli, ["label", "--input", str(tmp_path / "none.jsonl")], catch_exceptions=False)
