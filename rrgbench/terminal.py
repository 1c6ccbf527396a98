"""What a person sees in the terminal: stage banners, progress bars, warnings once, summary tables (rich).

One process-wide verbosity (``-q`` → -1, default 0, ``-v`` → 1, ``-vv`` → 2), set by the CLI.
Banners, progress and warnings go to stderr (so ``--json`` on stdout stays machine-readable); tables go
to stdout. Quiet mode keeps only errors and the final result. Non-terminal outputs (pipes, CI logs) get
no live bars, only the banner lines.

Imports of rich happen inside functions: ``import rrgbench`` stays cheap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.progress import Progress

_verbosity = 0
_consoles: dict[str, Console] = {}
_progress: Progress | None = None
_progress_lock = threading.Lock()
_open_bars = 0


def set_verbosity(level: int) -> None:
    """-1 quiet, 0 normal, 1 verbose (info logs), 2 debug."""
    global _verbosity
    _verbosity = level


def verbosity() -> int:
    return _verbosity


def get_console(stream: str = "stderr") -> Console:
    """The shared rich console for ``stderr`` (banners, progress) or ``stdout`` (tables)."""
    if stream not in _consoles:
        import sys

        from rich.console import Console

        file = sys.stderr if stream == "stderr" else sys.stdout
        width = None if file.isatty() else 120  # pipes and logs: wide enough for a table row, not 80
        # no file=: rich writes to whatever sys.stdout / sys.stderr is at print time (click's CliRunner swaps them)
        _consoles[stream] = Console(stderr=stream == "stderr", highlight=False, soft_wrap=False, width=width)
    return _consoles[stream]


def reset() -> None:
    """Forget cached consoles (tests that swap sys.stdout/sys.stderr)."""
    _consoles.clear()


def fmt_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 90:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ------------------------------------------------------------------------------------------ stages


class StageReporter:
    """Receives a run's stage events; this base class ignores them (library use, other ranks, ``-q``)."""

    def begin(self, stage: str, detail: str = "") -> None:
        """``stage`` starts doing work."""

    def end(self, stage: str, seconds: float, detail: str = "") -> None:
        """``stage`` finished in ``seconds`` (``score:<metric>``: one metric finished, ``detail`` its status)."""

    def reused(self, stage: str, detail: str = "") -> None:
        """``stage`` had nothing to do: its earlier result stands."""


class ConsoleReporter(StageReporter):
    """Stage banners: ``━━ train  revtaf (stage1, stage2)`` on start, ``✓ train  12.3 s`` on end."""

    def __init__(self) -> None:
        self._starts: dict[str, float] = {}

    def begin(self, stage: str, detail: str = "") -> None:
        self._starts[stage] = time.perf_counter()
        if _verbosity >= 0:
            get_console().print(f"[bold cyan]━━ {stage:<8}[/] {detail}".rstrip())

    def end(self, stage: str, seconds: float, detail: str = "") -> None:
        if _verbosity < 0:
            return
        if stage.startswith("score:"):  # one metric of the score stage finished
            took = time.perf_counter() - self._starts.get("score", time.perf_counter())
            name = stage.split(":", 1)[1]
            mark = "[green]✓[/]" if detail == "ok" else "[yellow]![/]"
            state = "" if detail == "ok" else f" [yellow]{detail}[/]"
            get_console().print(f"   {mark} {name:<16} {fmt_seconds(took)}{state}")
            return
        get_console().print(f"[green]✓ {stage:<8}[/] {fmt_seconds(seconds)}{f'  {detail}' if detail else ''}")

    def reused(self, stage: str, detail: str = "") -> None:
        if _verbosity >= 0:
            get_console().print(f"[dim]↺ {stage:<8} reused{': ' + detail if detail else ''}[/]")


def console_reporter() -> StageReporter:
    return ConsoleReporter() if _verbosity >= 0 else StageReporter()


# ---------------------------------------------------------------------------------------- progress


def _shared_progress() -> Progress:
    global _progress
    if _progress is None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        _progress = Progress(TextColumn("   {task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("eta"),
                             TimeRemainingColumn(), TextColumn("{task.fields[postfix]}"),
                             console=get_console(), transient=False, refresh_per_second=4)
    return _progress


class Bar:
    """The subset of tqdm's interface methods use (iterate, ``update``, ``set_postfix``, ``close``), drawn
    with rich: total, done, elapsed and ETA. ``leave=False`` bars disappear when closed."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: float | None = None, desc: str = "",
                 unit: str = "it", initial: float = 0, leave: bool = True, disable: bool = False,
                 **_: Any) -> None:
        global _open_bars
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.leave, self.n = total, leave, initial
        self.disabled = disable or _verbosity < 0 or not get_console().is_terminal  # logs get banners only
        self._task = None
        if not self.disabled:
            with _progress_lock:
                progress = _shared_progress()
                if _open_bars == 0:
                    progress.start()
                _open_bars += 1
                self._task = progress.add_task(desc, total=total, completed=initial, unit=unit, postfix="")

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        if self._task is not None:
            _shared_progress().advance(self._task, n)

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        if self._task is not None:
            items = {**(ordered_dict or {}), **kwargs}
            _shared_progress().update(self._task, postfix=" ".join(f"{k}={v}" for k, v in items.items()))

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        if self._task is not None:
            _shared_progress().update(self._task, description=desc or "")

    def close(self) -> None:
        global _open_bars
        if self._task is None:
            return
        with _progress_lock:
            progress = _shared_progress()
            if not self.leave:
                progress.remove_task(self._task)
            self._task = None
            _open_bars -= 1
            if _open_bars == 0:
                progress.stop()
                for task in list(progress.task_ids):
                    progress.remove_task(task)


def progress(iterable: Iterable[Any] | None = None, **kwargs: Any) -> Bar:
    """A progress bar (tqdm-style arguments: ``total``, ``desc``, ``unit``, ``initial``, ``leave``)."""
    return Bar(iterable, **kwargs)


# ---------------------------------------------------------------------------------------- logging


class OnceFilter(logging.Filter):
    """Lets each distinct warning through once per process (sweeps, repeated metric loads)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.levelno >= logging.ERROR:
            return True
        key = (record.name, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class ConsoleHandler(logging.Handler):
    """``warning: <message>`` lines on the stderr console (logger names from -vv on), above live bars."""

    STYLES = {"DEBUG": "dim", "INFO": "dim", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from rich.text import Text

            level = record.levelname
            where = f" {record.name}" if _verbosity >= 2 else ""
            text = Text(f"{level.lower()}{where}: ", style=self.STYLES.get(level, ""))
            text.append(record.getMessage())
            get_console().print(text, soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def setup_logging(level: int) -> None:
    """Route ``logging`` to the stderr console; warnings once per process; ``level`` as :func:`set_verbosity`."""
    set_verbosity(level)
    handler = ConsoleHandler()
    handler.addFilter(OnceFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_rrgbench", False)]:
        root.removeHandler(old)
    handler._rrgbench = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.ERROR if level < 0 else logging.WARNING if level == 0 else
                  logging.INFO if level == 1 else logging.DEBUG)
