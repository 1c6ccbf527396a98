"""A small registry of named plugin classes with lazy targets, provenance and "did you mean".

Targets may be classes or ``"module:Class"`` strings; strings are imported on first use, so a listing
never imports a method's heavy dependencies. On first use the class is checked against the registry's base
class (one clear error naming the plugin otherwise) and receives the registered ``name`` and
``description``: they are given once, at registration.
"""

from __future__ import annotations

import difflib
import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import RRGBenchError

T = TypeVar("T")


def fold(name: str) -> str:
    """The form names are matched in: lower case, letters and digits only (``OS-RRG``, ``os_rrg`` → ``osrrg``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass
class Entry(Generic[T]):
    """One registered name."""

    name: str
    kind: str
    target: Any  # a class or "module:attr"
    description: str = ""
    plugin: str = ""  # which plugin registered it (entry point name or module)
    base: type | None = None  # the class every target must derive from (None: no check)
    _loaded: Any = field(default=None, repr=False)

    @property
    def target_path(self) -> str:
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{self.target.__qualname__}"

    def load(self) -> type[T]:
        """Import and return the registered class."""
        if self._loaded is None:
            if isinstance(self.target, str):
                module_name, _, attr = self.target.partition(":")
                try:
                    module = importlib.import_module(module_name)
                    self._loaded = getattr(module, attr)
                except Exception as exc:  # noqa: BLE001 - turn any import failure into one clear line
                    raise RRGBenchError(
                        f"{self.kind} '{self.name}' (from plugin '{self.plugin}') failed to load "
                        f"{self.target}: {type(exc).__name__}: {exc}"
                    ) from exc
            else:
                self._loaded = self.target
            if self.base is not None:
                self._check(self._loaded)
        return self._loaded

    def _check(self, cls: Any) -> None:
        """``cls`` derives from the base; its name is the registered one; it gets name and description."""
        where = f"{self.kind} '{self.name}' (from plugin '{self.plugin}')"
        base = self.base
        assert base is not None
        if not (isinstance(cls, type) and issubclass(cls, base)):
            self._loaded = None
            raise RRGBenchError(f"{where}: {self.target_path} is not a subclass of {base.__module__}.{base.__qualname__}")
        declared = cls.__dict__.get("name")
        if declared and declared != self.name and cls.__dict__.get("_rrgbench_named") is None:
            self._loaded = None
            raise RRGBenchError(f"{where}: the class declares name '{declared}' but is registered as '{self.name}'; "
                                "give the name once, at registration")
        if not declared:
            cls.name = self.name
            cls._rrgbench_named = self.name
        if self.description:
            cls.description = self.description
        elif getattr(cls, "description", ""):
            self.description = cls.description


class Registry(Generic[T]):
    """Names → entries for one kind of plugin (method, metric or dataset)."""

    def __init__(self, kind: str, base: type | None = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, Entry[T]] = {}

    def register(self, target: Any, name: str | None = None, description: str | None = None,
                 plugin: str = "") -> None:
        if name is None:
            name = getattr(target, "name", None)
            if not isinstance(name, str):
                raise RRGBenchError(f"plugin '{plugin}' registered a {self.kind} without a name: {target!r}")
        if description is None:
            description = (getattr(target, "description", "") or "") if not isinstance(target, str) else ""
        if name in self._entries:
            other = self._entries[name]
            raise RRGBenchError(
                f"{self.kind} '{name}' is registered twice: by '{other.plugin}' and by '{plugin}'"
            )
        self._entries[name] = Entry(name, self.kind, target, description, plugin, self.base)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def resolve(self, name: str) -> str:
        """The registered name ``name`` means: itself, else the one name equal to it case- and
        punctuation-insensitively (:func:`fold`); unknown or ambiguous names raise with suggestions."""
        if name in self._entries:
            return name
        matches = [n for n in self._entries if fold(n) == fold(name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise RRGBenchError(f"{self.kind} '{name}' is ambiguous: {', '.join(sorted(matches))}")
        raise RRGBenchError(self.unknown_message(name))

    def entry(self, name: str) -> Entry[T]:
        return self._entries[self.resolve(name)]

    def get(self, name: str) -> type[T]:
        """The class registered as ``name`` (imported now if lazy)."""
        return self.entry(name).load()

    def unknown_message(self, name: str) -> str:
        msg = f"unknown {self.kind} '{name}'."
        folded = {fold(n): n for n in self.names()}
        suggestions = [folded[f] for f in difflib.get_close_matches(fold(name), list(folded), n=3, cutoff=0.5)]
        if suggestions:
            msg += f" Did you mean: {', '.join(suggestions)}?"
        else:
            msg += f" Known: {', '.join(self.names()) or '(none)'}."
        return msg
