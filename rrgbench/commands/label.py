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
              help="JSONL with an 'id' and a text field per row (e.g. generations.jsonl). Ids must be unique; "
                   "if no row has one, rows are numbered by line.")
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
    ids: list[str | None] = []
    texts: list[str] = []
    for lineno, row in enumerate(iter_jsonl(input_path), 1):
        key = field or next((f for f in TEXT_FIELDS if f in row), None)
        if key is None or key not in row:
            want = field or " / ".join(TEXT_FIELDS)
            raise RRGBenchError(f"{input_path}: row {lineno} has no '{want}' field")
        if not isinstance(row[key], str):
            raise RRGBenchError(f"{input_path}: row {lineno} field '{key}' is not a string")
        ids.append(str(row["id"]) if "id" in row else None)
        texts.append(row[key])
    ids = _row_ids(input_path, ids)
    options = {k: str(v) for k, v in (("checkpoint", checkpoint), ("bert_dir", bert_dir)) if v}
    rows = label_reports(texts, labeler=labeler, **options)
    for rid, labels in zip(ids, rows):
        if as_json:
            click.echo(json.dumps({"id": rid, "labels": {k: labels[k] for k in CHEXPERT_LABELS}}))
        else:
            marks = {1: "+", 0: "-", -1: "?"}
            shown = " ".join(f"{marks[v]}{k}" for k, v in labels.items() if v is not None)
            click.echo(f"{rid}\t{shown or '(nothing mentioned)'}")


def _row_ids(path: Path, ids: list[str | None]) -> list[str]:
    """The rows' ids, with the same rules as ``rrgbench score``: an empty file and duplicated ids are errors.

    Rows without ``id`` are numbered by line only when no row has one (so a number cannot collide with a real
    id); a file that mixes rows with and without ids is an error naming the first row without one.
    """
    from ..api import RRGBenchError
    from ..scoring.inputs import format_ids

    if not ids:
        raise RRGBenchError(f"{path}: no reports (empty file)")
    missing = [n for n, i in enumerate(ids, 1) if i is None]
    if missing and len(missing) < len(ids):
        raise RRGBenchError(f"{path}: row {missing[0]} has no \"id\" while other rows have one "
                            f"({len(missing)} row(s) without); give every row an id, or none")
    if missing:
        return [str(n) for n in range(1, len(ids) + 1)]
    seen: set[str] = set()
    dups = {i for i in ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]
    if dups:
        raise RRGBenchError(f"{path}: duplicated ids: {format_ids(dups)}")
    return [str(i) for i in ids]
