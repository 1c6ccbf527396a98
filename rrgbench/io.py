"""Crash-safe file writes: every file rrgbench produces is written whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import RRGBenchError


def create_temp(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path``, created with mode 0666 so the process umask applies
    (0644 under umask 022), unlike ``tempfile.mkstemp``'s 0600 that would survive the rename."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise RRGBenchError(f"cannot write {path}: no free temporary name")  # pragma: no cover


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename over ``path``.

    The file gets the permissions the umask gives a new file (0644 under umask 022), so run records,
    prepared data and the site are readable by a web server or a lab-mate as the user intends.
    """
    atomic_write_parts(path, (data,))


def atomic_write_parts(path: Path, parts: Iterable[bytes]) -> None:
    """:func:`atomic_write_bytes` of the concatenated ``parts``, written as they come (never joined in memory)."""
    path = Path(path)
    check_dir_target(path.parent, str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_temp(path)
    except OSError as exc:
        raise RRGBenchError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            for part in parts:
                fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise RRGBenchError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


def check_dir_target(path: Path, what: str | None = None) -> None:
    """Raise one clear error when ``path`` cannot be (or become) a directory: it, or a folder above it,
    exists and is not a directory. ``what`` names the flag or file the user gave (default: ``path``)."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise RRGBenchError(f"{what or path}: {p} is a file, not a directory")


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """Deterministic, human-readable JSON (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, dumps(obj))


def atomic_write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line (sorted keys), streamed to the temporary file in blocks of lines."""
    def blocks() -> Iterator[bytes]:
        lines: list[str] = []
        for r in rows:
            lines.append(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
            if len(lines) >= 4096:
                yield "".join(lines).encode("utf-8")
                lines = []
        yield "".join(lines).encode("utf-8")
    atomic_write_parts(path, blocks())


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise RRGBenchError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise RRGBenchError(f"{path}: is a directory, not a JSON file") from None
    except OSError as exc:
        raise RRGBenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RRGBenchError(f"{path}: not valid JSON ({exc})") from None


def iter_jsonl(path: Path, *, tolerate_torn_tail: bool = False) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file. A torn last line (crash mid-append) is skipped only if tolerated."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; read line by line (a 100k-row file is never whole in memory)
    except FileNotFoundError:
        raise RRGBenchError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise RRGBenchError(f"{path}: is a directory, not a JSONL file") from None
    except OSError as exc:
        raise RRGBenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with fh:
        lineno = 0
        while True:
            try:
                raw = fh.readline()
            except OSError as exc:
                raise RRGBenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
            if not raw:
                return
            lineno += 1
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                if tolerate_torn_tail and not raw.endswith(b"\n"):  # last line, no trailing newline
                    return
                raise RRGBenchError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise RRGBenchError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield row


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and fsync: used for resumable generation (a torn tail is dropped on resume)."""
    with open(path, "a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
