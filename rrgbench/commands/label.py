"""``rrgbench label``: CheXpert labels of reports in a JSONL file (one row per report)."""

from __future__ import annotations

import json
from pathlib import Path

import click

TEXT_FIELDS = ("report", "text", "findings", "reference")


@click.command("label")
@click.option("--labeler", default="chexpert_rules", show_default=True,
              help="chexpert_rules (offline rules) or chexbert (needs chexbert.pth).")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path),
              help="JSONL with an 'id' and a text field per row (e.g. generations.jsonl).")
@click.option("--field", default=None,
              help=f"Text field to label (default: the first of {', '.join(TEXT_FIELDS)} present).")
@click.option("--checkpoint", default=None, type=click.Path(path_type=Path),
              help="chexbert only: path of chexbert.pth (else config / RRGBENCH_CHEXBERT / ~/.cache/chexbert).")
@click.option("--bert-dir", default=None, type=click.Path(path_type=Path),
              help="chexbert only: local bert-base-uncased config + vocab.txt (default: built in).")
@click.option("--json", "as_json", is_flag=True,
              help='Print JSONL rows {"id", "labels": {14 CheXpert names: 1|0|-1|null}}.')
def label(labeler: str, input_path: Path, field: str | None, checkpoint: Path | None, bert_dir: Path | None,
          as_json: bool) -> None:
    """Label reports: 1 positive, 0 negative, -1 uncertain, blank (null) not mentioned.

    \b
    Example:
      rrgbench label --input runs/iu_xray/r2gen/.../generations.jsonl --json
    """
    from ..api import CHEXPERT_LABELS, RRGBenchError
    from ..clinical import label_reports
    from ..io import iter_jsonl

    if not input_path.exists():
        raise RRGBenchError(f"{input_path}: file not found")
    ids: list[str] = []
    texts: list[str] = []
    for lineno, row in enumerate(iter_jsonl(input_path), 1):
        key = field or next((f for f in TEXT_FIELDS if f in row), None)
        if key is None or key not in row:
            want = field or " / ".join(TEXT_FIELDS)
            raise RRGBenchError(f"{input_path}: row {lineno} has no '{want}' field")
        if not isinstance(row[key], str):
            raise RRGBenchError(f"{input_path}: row {lineno} field '{key}' is not a string")
        ids.append(str(row.get("id", lineno)))
        texts.append(row[key])
    options = {k: str(v) for k, v in (("checkpoint", checkpoint), ("bert_dir", bert_dir)) if v}
    rows = label_reports(texts, labeler=labeler, **options)
    for rid, labels in zip(ids, rows):
        if as_json:
            click.echo(json.dumps({"id": rid, "labels": {k: labels[k] for k in CHEXPERT_LABELS}}))
        else:
            marks = {1: "+", 0: "-", -1: "?"}
            shown = " ".join(f"{marks[v]}{k}" for k, v in labels.items() if v is not None)
            click.echo(f"{rid}\t{shown or '(nothing mentioned)'}")
