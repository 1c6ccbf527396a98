"""Inline SVG plots (matplotlib, Agg): metric bars with CI whiskers, per-label F1 bars.

Output is deterministic (fixed hash salt, no date metadata) so regenerated sites do not differ.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

_COLOURS = ["#3b6ea8", "#d08a2c", "#4c9a5b", "#b04a4a", "#7d5ba6", "#6b6b6b", "#2c9aa0", "#a0672c"]


def _plt():  # imported lazily: matplotlib costs ~0.5 s
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "rrgbench", "svg.fonttype": "none", "font.size": 9,
                         "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    _plt().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: this goes inline into HTML


def metric_bars(title: str, labels: Sequence[str], series: dict[str, Sequence[tuple[float, float, float]]]
                ) -> str:
    """Grouped bars: ``series[name][i] = (mean, lo, hi)`` for ``labels[i]``; NaN bars are skipped."""
    plt = _plt()
    n_series = max(len(series), 1)
    width = 0.8 / n_series
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(labels) * max(1, n_series / 2) + 1.5), 2.8))
    for s_i, (name, vals) in enumerate(series.items()):
        xs, ys, err_lo, err_hi = [], [], [], []
        for i, (mean, lo, hi) in enumerate(vals):
            x = i + (s_i - (n_series - 1) / 2) * width
            if mean is None or math.isnan(mean):  # said, not drawn: an absent bar must not read as a zero
                ax.text(x, 0, "missing", rotation=90, ha="center", va="bottom", fontsize=6, color="#8b93a1")
                continue
            if mean == 0:
                ax.text(x, 0, "0", ha="center", va="bottom", fontsize=7, color="#222")
            xs.append(x)
            ys.append(mean)
            err_lo.append(0.0 if math.isnan(lo) else max(mean - lo, 0.0))
            err_hi.append(0.0 if math.isnan(hi) else max(hi - mean, 0.0))
        ax.bar(xs, ys, width=width * 0.92, label=name, color=_COLOURS[s_i % len(_COLOURS)],
               yerr=[err_lo, err_hi], capsize=2, error_kw={"elinewidth": 0.8, "ecolor": "#222"})
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_title(title, loc="left", fontsize=10)
    ax.grid(axis="y", color="#ddd", linewidth=0.6)
    ax.set_axisbelow(True)
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)


def label_bars(title: str, labels: Sequence[str], values: Sequence[float],
               support: Sequence[int] | None = None) -> str:
    """Horizontal bars of one value per label (e.g. per-label F1), with the reference support if known."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 0.24 * len(labels) + 0.8))
    ys = list(range(len(labels)))[::-1]
    vals = [0.0 if (v is None or math.isnan(v)) else v for v in values]
    ax.barh(ys, vals, color="#3b6ea8", height=0.7)
    ax.set_yticks(ys)
    names = list(labels) if support is None else [f"{lab} (n={s})" for lab, s in zip(labels, support)]
    ax.set_yticklabels(names)
    for y, v, raw in zip(ys, vals, values):
        ax.text(v + 0.01, y, "n/a" if raw is None or math.isnan(raw) else f"{raw:.2f}", va="center", fontsize=7)
    ax.set_xlim(0, 1.1)
    ax.set_title(title, loc="left", fontsize=10)
    ax.grid(axis="x", color="#ddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return _svg(fig)


def curves(title: str, series: dict[str, Sequence[float]], xlabel: str = "epoch") -> str:
    """Line plot of one or more per-step series (e.g. training losses per epoch)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 2.6))
    for i, (name, ys) in enumerate(series.items()):
        ax.plot(range(1, len(ys) + 1), ys, label=name, color=_COLOURS[i % len(_COLOURS)], linewidth=1.4,
                marker="o" if len(ys) <= 30 else None, markersize=2.5)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_xlabel(xlabel)
    ax.grid(color="#ddd", linewidth=0.6)
    ax.set_axisbelow(True)
    if len(series) > 1:
        ax.legend(fontsize=7, frameon=False)
    return _svg(fig)
