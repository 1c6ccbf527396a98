"""Data-parallel generation across processes (``accelerate launch`` / ``torchrun``), stable across restarts.

A single process needs nothing from here but :func:`get_world` (rank 0 of 1, no process group). Under a
launcher that sets ``WORLD_SIZE > 1`` the process group is created through Hugging Face ``accelerate``
(gloo on CPU, NCCL on GPU). Generation is sharded by a *stable* hash of the sample id::

    shard_of(id, world) = int(sha1(id), 16) % world     # never Python's salted hash()

Each rank appends its rows to ``shards/rank<k>.jsonl``; rank 0 merges every shard (and any rows left by
an earlier single-process attempt) after a barrier. Which rank wrote a row never matters when resuming,
so a run interrupted under 4 processes can finish under 2, or under 1.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api import RRGBenchError
from .io import atomic_write_jsonl, iter_jsonl
from .rundir import SHARDS_DIR

DEFAULT_TIMEOUT_S = 6 * 3600  # rank 0 may train for hours while the others wait at a barrier


def shard_of(sample_id: str, world_size: int) -> int:
    """The rank that generates ``sample_id`` in a world of ``world_size`` processes."""
    return int(hashlib.sha1(sample_id.encode("utf-8")).hexdigest(), 16) % max(1, world_size)


@dataclass
class World:
    """This process's place in the launch: rank, size, and the accelerate state when distributed."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    state: Any = None  # accelerate.PartialState when world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.state is not None:
            self.state.wait_for_everyone()

    def accelerator(self) -> Any:
        """A prepared ``accelerate.Accelerator`` sharing this world's process group (``None`` if single)."""
        if not self.distributed:
            return None
        from accelerate import Accelerator

        return Accelerator(cpu=self.state.device.type == "cpu")


_WORLD: World | None = None


def launched_world_size() -> int:
    """``WORLD_SIZE`` as set by torchrun / accelerate launch / an srun wrapper (1 when absent)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        raise RRGBenchError(f"WORLD_SIZE must be an integer, got {os.environ['WORLD_SIZE']!r}") from None


def get_world() -> World:
    """The process's :class:`World`; initialises the process group through accelerate on first use."""
    global _WORLD
    if _WORLD is not None:
        return _WORLD
    if launched_world_size() == 1:
        _WORLD = World()
        return _WORLD
    import torch
    from accelerate import PartialState

    timeout = _dt.timedelta(seconds=int(os.environ.get("RRGBENCH_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    cpu = not torch.cuda.is_available() or os.environ.get("RRGBENCH_DIST_CPU") == "1"
    state = PartialState(cpu=cpu, timeout=timeout)
    _WORLD = World(rank=state.process_index, world_size=state.num_processes,
                   local_rank=state.local_process_index, state=state)
    return _WORLD


def shard_path(run_dir: Path, rank: int) -> Path:
    return Path(run_dir) / SHARDS_DIR / f"rank{rank}.jsonl"


def shard_files(run_dir: Path) -> list[Path]:
    """Every ``shards/rank*.jsonl`` present, whichever world size wrote them."""
    folder = Path(run_dir) / SHARDS_DIR
    return sorted(folder.glob("rank*.jsonl")) if folder.is_dir() else []


def read_rows(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Generated rows by id from ``paths`` (missing files skipped, torn last lines dropped; first wins)."""
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        if not path.exists():
            continue
        for row in iter_jsonl(path, tolerate_torn_tail=True):
            if isinstance(row.get("id"), str) and isinstance(row.get("report"), str):
                rows.setdefault(row["id"], row)
    return rows


def drop_torn_tail(path: Path) -> None:
    """Rewrite ``path`` without a torn last line so that appends start on a fresh line."""
    if path.exists():
        atomic_write_jsonl(path, list(iter_jsonl(path, tolerate_torn_tail=True)))
