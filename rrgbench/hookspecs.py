"""Every hook rrgbench calls. Plugins implement them with ``@rrgbench.hookimpl``.

Registration hooks receive a ``register`` callback so the host owns naming, collisions and
provenance (the llm / tox pattern). A target is either the class itself or a lazy
``"package.module:ClassName"`` string, so that listing plugins never imports torch.
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

hookspec = pluggy.HookspecMarker("rrgbench")


class Register(Protocol):
    def __call__(self, target: Any, name: str | None = None, description: str | None = None) -> None: ...


@hookspec
def rrgbench_register_methods(register: Register) -> None:
    """Register report-generation methods (subclasses of :class:`rrgbench.api.Method`)."""


@hookspec
def rrgbench_register_metrics(register: Register) -> None:
    """Register metrics (subclasses of :class:`rrgbench.api.Metric`)."""


@hookspec
def rrgbench_register_datasets(register: Register) -> None:
    """Register datasets (subclasses of :class:`rrgbench.api.Dataset`)."""


@hookspec
def rrgbench_register_labelers(register: Register) -> None:
    """Register report labelers (subclasses of :class:`rrgbench.api.Labeler`); CE metrics take one by name
    (``--metric-opt chexpert_rules.labeler=NAME``) and ``rrgbench label --labeler NAME`` runs it."""


@hookspec
def rrgbench_register_commands(cli: Any) -> None:
    """Add subcommands to the ``rrgbench`` click group."""


@hookspec
def rrgbench_env_info() -> dict[str, str]:
    """Return extra environment facts to store in each run record."""
