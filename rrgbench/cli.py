"""The ``rrgbench`` command line.

Subcommands live in ``rrgbench/commands/<module>.py`` and are imported only when invoked, so
``rrgbench --help`` and ``rrgbench list`` start fast (no torch, no transformers). Plugins add commands
through the ``rrgbench_register_commands`` hook.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from .api import RRGBenchError

# name -> ("module:function", one-line help). The help is here so that --help imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("rrgbench.commands.listing:list_cmd", "List methods, metrics, datasets, plugins or runs."),
    "run": ("rrgbench.commands.run:run", "Prepare, train, generate and score one method on one dataset."),
    "rescore": ("rrgbench.commands.rescore:rescore", "Score existing runs again (new metrics or weights), no retraining."),
    "score": ("rrgbench.commands.score:score", "Score any system's generations against references."),
    "compare": ("rrgbench.commands.compare:compare", "Paired comparison of two runs: deltas, CIs, p-values."),
    "label": ("rrgbench.commands.label:label", "Label reports with a CheXpert-style labeler."),
    "data": ("rrgbench.commands.data:data", "Prepare and inspect datasets."),
    "leaderboard": ("rrgbench.commands.leaderboard:leaderboard", "Build the static HTML leaderboard."),
    "audit": ("rrgbench.commands.audit:audit", "Audit run records for reproducibility."),
    "models": ("rrgbench.commands.models:models", "List every pretrained asset: found or missing, with its path."),
    "table": ("rrgbench.commands.table:table", "Print a leaderboard board as a paper table (markdown, latex, csv)."),
    "sweep": ("rrgbench.commands.sweep:sweep", "Run methods x datasets x seeds locally or on Slurm."),
    "new-plugin": ("rrgbench.commands.new_plugin:new_plugin", "Write an installable plugin skeleton."),
    "check-plugin": ("rrgbench.commands.check_plugin:check_plugin",
                     "Run the contract checks every method, metric or dataset plugin must pass."),
    "ce-presets": ("rrgbench.commands.ce_presets:ce_presets", "List the CE presets (published protocols) and their definitions."),
    "sensitivity": ("rrgbench.commands.sensitivity:sensitivity", "How each metric responds to harmful and neutral report edits."),
    "env": ("rrgbench.commands.listing:env_cmd", "Print the environment a run record would store."),
    "cache": ("rrgbench.commands.cache:cache", "Inspect and clean the caches (stale image caches, score cache)."),
}


class LazyGroup(click.Group):
    """A click group whose built-in subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            target = COMMANDS[name][0]
            module_name, _, attr = target.partition(":")
            try:
                return getattr(importlib.import_module(module_name), attr)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                return _missing_command(name)
        cmd = super().get_command(ctx, name)
        if cmd is None and not getattr(self, "_plugins_loaded", False):
            self._plugins_loaded = True
            _load_plugin_commands(self)
            cmd = super().get_command(ctx, name)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        rows += [(n, c.get_short_help_str()) for n, c in sorted(self.commands.items()) if n not in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and super().get_command(ctx, name) is None:
            _load_plugin_commands(self)
            if super().get_command(ctx, name) is None:
                import difflib

                known = sorted(set(COMMANDS) | set(self.commands))
                hint = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
                msg = f"unknown command '{name}'."
                if hint:
                    msg += f" Did you mean: {', '.join(hint)}?"
                raise click.UsageError(msg, ctx)
        return super().resolve_command(ctx, args)


def _missing_command(name: str) -> click.Command:
    @click.command(name=name, help=COMMANDS[name][1], context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def placeholder(args: tuple[str, ...]) -> None:
        raise RRGBenchError(f"'rrgbench {name}' is not available in this version")

    return placeholder


def _load_plugin_commands(group: click.Group) -> None:
    from .plugins import get_host

    get_host().pm.hook.rrgbench_register_commands(cli=group)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rrgbench")
@click.option("-v", "--verbose", count=True, help="More detail (-v info logs, signatures; -vv debug). Anywhere.")
@click.option("-q", "--quiet", count=True, help="Only errors and the final result. Accepted anywhere.")
def cli(verbose: int, quiet: int) -> None:
    """rrgbench: benchmark radiology report generation with comparable, signed numbers.

    \b
    Main job, on the embedded default dataset (no user files needed):
      rrgbench run --method majority --dataset iu_xray_phantom
    """
    from .terminal import setup_logging

    setup_logging(-1 if quiet else verbose)


_VERBOSITY_FLAGS = {"-v": ("-v",), "-vv": ("-v", "-v"), "-vvv": ("-v", "-v", "-v"), "--verbose": ("-v",),
                    "-q": ("-q",), "--quiet": ("-q",)}


def hoist_verbosity(args: list[str]) -> list[str]:
    """Move ``-v``/``-q`` (and long forms) from anywhere before ``--`` to the group, where click reads them."""
    flags: list[str] = []
    rest: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            rest += args[i:]
            break
        if arg in _VERBOSITY_FLAGS:
            flags += _VERBOSITY_FLAGS[arg]
        else:
            rest.append(arg)
    return flags + rest


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        cli.main(args=hoist_verbosity(sys.argv[1:]), standalone_mode=False)
    except click.exceptions.Abort as exc:  # Ctrl-C: a run says where it stopped and how to resume
        cause = exc.__cause__ or exc.__context__
        click.echo(str(cause) if isinstance(cause, KeyboardInterrupt) and str(cause) else "aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RRGBenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        click.echo(str(exc) or "interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
