"""A leaderboard board as a paper-ready table: Markdown, LaTeX (booktabs) or CSV.

Rows are the board's rows (method, preset, spec tags; seeds pooled as on the site: mean with a t-interval
over seeds, or the run's bootstrap CI for one seed). Columns are the headline scores by default, or the
scores of the metrics / keys named in ``--metrics``. The best mean of each column is bold. Each column
names its metric signature id (S1, S2, ...); the legend under the table gives the full signatures.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from .table import Board, Cell, Column

FORMATS = ("markdown", "latex", "csv")
CI_STYLES = ("brackets", "pm", "none")


def pick_columns(board: Board, metrics: Sequence[str] | None = None) -> list[int]:
    """Indices of the board columns to print: scored columns (not unavailable placeholders) whose metric or
    key is named in ``metrics`` (folded names), else the headline ones."""
    from ..registry import fold

    wanted = {fold(m) for m in metrics or ()}
    out = []
    for i, col in enumerate(board.columns):
        if not col.key or not any(r.cells[i].status == "ok" for r in board.rows):
            continue
        if wanted:
            if fold(col.metric) in wanted or fold(col.key) in wanted:
                out.append(i)
        elif col.headline and col.key not in ("bleu_1", "bleu_2", "bleu_3"):
            out.append(i)
    return out


def _cell_text(cell: Cell, ci: str, digits: int) -> tuple[str, str]:
    """(mean, CI) as text; a missing cell is '–', an unavailable one 'n/a'."""
    if cell.status != "ok":
        return ("n/a" if cell.status == "unavailable" else "–"), ""
    mean = f"{cell.mean:.{digits}f}"
    if ci == "none" or math.isnan(cell.lo):
        return mean, ""
    if ci == "pm":
        return mean, f"± {max(cell.hi - cell.mean, cell.mean - cell.lo):.{digits}f}"
    return mean, f"[{cell.lo:.{digits}f}, {cell.hi:.{digits}f}]"


def _row_label(board: Board, r: int) -> str:
    row = board.rows[r]
    label = row.method if row.preset == "tiny" and not any(x.preset != "tiny" for x in board.rows) else \
        f"{row.method} ({row.preset})"
    if row.spec_tags:
        label += " " + ", ".join(f"{k}={v}" for k, v in row.spec_tags)
    return label


def _unavailable(board: Board) -> list[str]:
    notes = {}
    for i, col in enumerate(board.columns):
        for row in board.rows:
            cell = row.cells[i]
            if cell.status == "unavailable" and col.metric not in notes:
                notes[col.metric] = cell.reason.split(". ")[0]
    return [f"{m}: {reason}" for m, reason in notes.items()]


def render(board: Board, fmt: str = "markdown", metrics: Sequence[str] | None = None, ci: str = "brackets",
           digits: int = 3) -> str:
    """The table as text in ``fmt``; rows ordered as the board ranks them by its main column."""
    cols = pick_columns(board, metrics)
    order = [board.rows.index(r) for r in board.ranked(board.main_column())]
    columns = [board.columns[i] for i in cols]
    legend = {c.sig_id: (c.metric, c.signature) for c in columns}
    unavailable = _unavailable(board)
    if fmt == "csv":
        return _csv(board, cols, order)
    if fmt == "latex":
        return _latex(board, cols, order, columns, legend, unavailable, ci, digits)
    return _markdown(board, cols, order, columns, legend, unavailable, ci, digits)


def _header(col: Column) -> str:
    arrow = "↑" if col.higher_is_better else "↓"
    return f"{col.label} {arrow} ({col.sig_id})"


def _markdown(board: Board, cols: list[int], order: list[int], columns: list[Column],
              legend: dict[str, tuple[str, str]], unavailable: list[str], ci: str, digits: int) -> str:
    head = ["Method", "Seeds", *(_header(c) for c in columns)]
    lines = [f"**{board.dataset}**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join([":---", "---:"] + ["---:"] * len(columns)) + "|"]
    for r in order:
        row = board.rows[r]
        cells = []
        for i in cols:
            mean, ci_text = _cell_text(row.cells[i], ci, digits)
            mean = f"**{mean}**" if row.cells[i].best else mean
            cells.append(f"{mean} {ci_text}".strip())
        lines.append("| " + " | ".join([_row_label(board, r).replace("|", "\\|"), str(row.n_seeds), *cells]) + " |")
    lines += ["", _ci_note(ci, board)]
    lines += [f"- {sid} `{metric}`: `{sig}`" for sid, (metric, sig) in legend.items()]
    if unavailable:
        lines.append("- Unavailable here: " + "; ".join(unavailable))
    return "\n".join(lines) + "\n"


def _ci_note(ci: str, board: Board) -> str:
    what = {"brackets": "Mean with its 95% CI in brackets", "pm": "Mean ± half-width of its 95% CI",
            "none": "Mean"}[ci]
    return (f"{what} (t-interval over seeds; one seed: bootstrap over test samples). Best per column in bold. "
            f"Signatures:")


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$",
                  "–": "--", "↑": r"$\uparrow$", "↓": r"$\downarrow$"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def _latex(board: Board, cols: list[int], order: list[int], columns: list[Column],
           legend: dict[str, tuple[str, str]], unavailable: list[str], ci: str, digits: int) -> str:
    arrows = {True: r"$\uparrow$", False: r"$\downarrow$"}
    head = ["Method", "Seeds", *(f"{latex_escape(c.label)} {arrows[c.higher_is_better]}\\textsuperscript{{{c.sig_id}}}"
                                 for c in columns)]
    out = [r"% requires \usepackage{booktabs}", r"\begin{table}[t]", r"\centering", r"\small",
           r"\begin{tabular}{l" + "r" * (len(columns) + 1) + "}", r"\toprule", " & ".join(head) + r" \\",
           r"\midrule"]
    for r in order:
        row = board.rows[r]
        cells = []
        for i in cols:
            mean, ci_text = _cell_text(row.cells[i], ci, digits)
            mean = mean.replace("–", "--")
            mean = rf"\textbf{{{mean}}}" if row.cells[i].best else mean
            ci_tex = ci_text.replace("±", r"$\pm$")
            cells.append(f"{mean}~{{\\scriptsize {ci_tex}}}" if ci_tex else mean)
        out.append(" & ".join([latex_escape(_row_label(board, r)), str(row.n_seeds), *cells]) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{{latex_escape(board.dataset)}: {latex_escape(_ci_note(ci, board))}}}",
            r"\par\footnotesize"]
    out += [rf"\textsuperscript{{{sid}}} {latex_escape(metric)}: \texttt{{{latex_escape(sig)}}}\\"
            for sid, (metric, sig) in legend.items()]
    if unavailable:
        out.append("Unavailable here: " + latex_escape("; ".join(unavailable)))
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def _csv(board: Board, cols: list[int], order: list[int]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    head = ["dataset", "method", "preset", "spec", "n_seeds"]
    for i in cols:
        c = board.columns[i]
        name = f"{c.metric}.{c.key}"
        head += [name, f"{name}.ci_lo", f"{name}.ci_hi", f"{name}.best", f"{name}.signature"]
    writer.writerow(head)
    for r in order:
        row = board.rows[r]
        line: list[object] = [board.dataset, row.method, row.preset, ";".join(f"{k}={v}" for k, v in row.spec_tags),
                              row.n_seeds]
        for i in cols:
            cell, c = row.cells[i], board.columns[i]
            if cell.status == "ok":
                line += [f"{cell.mean:.6g}", "" if math.isnan(cell.lo) else f"{cell.lo:.6g}",
                         "" if math.isnan(cell.hi) else f"{cell.hi:.6g}", int(cell.best), c.signature]
            else:
                line += [cell.status, "", "", 0, c.signature]
        writer.writerow(line)
    return buf.getvalue()
