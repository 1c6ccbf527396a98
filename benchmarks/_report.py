"""What the scale benchmarks print after their table (imported by the scripts beside it)."""

from __future__ import annotations

import os


def print_ratios(rows: list[tuple[int, float, float]]) -> None:
    """For consecutive ``(pairs, wall s, RSS MB)`` rows: how time and memory grew with the input; then the load."""
    for (n0, w0, r0), (n1, w1, r1) in zip(rows, rows[1:]):
        print(f"# {n1 // n0}x the pairs ({n0:,} -> {n1:,}): {w1 / w0:.1f}x the time, {r1 / r0:.1f}x the RSS")
    print(f"# load after: {os.getloadavg()}")
