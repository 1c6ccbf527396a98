"""One process at a time per run directory: the ``run.lock`` file.

The lock is ``flock(LOCK_EX)`` on ``<run_dir>/run.lock``, a file that names its holder (pid, host, start time,
command). The kernel drops the lock when the holder exits for any reason (also SIGKILL), so a lock whose process
is gone is stale by construction: the next run takes it over and says whose it was. On release the holder
deletes the file; a waiter that locked a file already deleted (it compares inodes) retries on the new one.

Across machines (``rrgbench sweep`` on a cluster) this needs a shared file system whose ``flock`` is
coherent between nodes: NFSv4 (Linux emulates ``flock`` with NFS byte-range locks), Lustre mounted with
``-o flock``, GPFS, BeeGFS. On a file system without cluster-wide locks (NFS mounted ``nolock``, Lustre
``localflock``) two nodes can both believe they hold it: do not start the same spec twice there.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .api import RRGBenchError

LOCK_FILE = "run.lock"


class RunLocked(RRGBenchError):
    """Another live process holds the run directory."""


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process (holder not yet recorded)"
    return f"pid {holder.get('pid')} on host {holder.get('host')} (since {holder.get('started')})"


class RunLock:
    """``with RunLock(run_dir).acquire(wait=...)``: exclusive use of ``run_dir`` by this process."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None
        self.previous: dict[str, Any] | None = None  # holder recorded by a process that died holding it

    def holder(self) -> dict[str, Any] | None:
        """What the lock file says about its holder (None: no file, or not written yet)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _try(self) -> bool:
        import fcntl

        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RRGBenchError(f"cannot write to runs directory {self.run_dir}: {exc.strerror or exc}") from None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RRGBenchError(f"cannot create the lock file {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            raise RRGBenchError(f"cannot lock {self.path}: {exc.strerror or exc} (the file system must support "
                                "flock; see rrgbench/runlock.py)") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous holder deleted this file after we opened it: lock the new one
            os.close(fd)
            return False
        stale = os.read(fd, 1 << 16)
        try:
            self.previous = json.loads(stale) if stale.strip() else None
        except ValueError:
            self.previous = None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "command": " ".join(sys.argv)[:500]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info, sort_keys=True) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return True

    def acquire(self, *, wait: bool = False, poll: float = 0.5,
                on_wait: Callable[[str], None] | None = None) -> RunLock:
        """Take the lock; if another live process holds it: wait (``wait=True``, telling ``on_wait`` once)
        or raise :class:`RunLocked` with a message that says what to do."""
        told = False
        while not self._try():
            if not self.path.exists():
                continue  # released between our attempt and now: try again at once
            who = _describe(self.holder())
            if not wait:
                raise RunLocked(f"{self.run_dir} is in use by {who}: the same run is already running. "
                                "Add --wait to wait for it (then reuse what it finished), or run again later")
            if not told and on_wait is not None:
                on_wait(f"waiting for {self.run_dir}: in use by {who}")
                told = True
            time.sleep(poll)
        return self

    def moved(self, moved_to: Path) -> None:
        """The locked directory was renamed to ``moved_to``: lock the new directory at the original path,
        then drop the lock that went along with the old one."""
        old = self._fd
        self._fd = None
        try:
            self.acquire(wait=True)
        finally:
            if old is not None:
                (Path(moved_to) / LOCK_FILE).unlink(missing_ok=True)
                os.close(old)

    def release(self) -> None:
        """Delete the lock file, then drop the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
